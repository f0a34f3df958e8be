package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/spf13/cobra"
)

// NewCmdPolicy groups the policy subcommands.
func NewCmdPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check policy files and explain what an image's policy does",
	}
	cmd.AddCommand(newCmdPolicyLint(), newCmdPolicyExplain())
	return cmd
}

func newCmdPolicyLint() *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE",
		Short: "Validate a policy file; every problem is listed with its field path",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := policies.Load(args[0])
			if err != nil {
				return err
			}
			label, err := p.Encode()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: ok\n", args[0])
			fmt.Fprintln(cmd.OutOrStdout(), label)
			return nil
		},
	}
}

func newCmdPolicyExplain() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "explain IMAGE --key cosign.pub",
		Short: "Verify IMAGE and print the container settings and docker flags run would apply",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := attest.LoadVerifier(key)
			if err != nil {
				return err
			}
			res, err := launch.Verify(cmd.Context(), args[0], launch.WithVerifier(v))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			js, err := json.MarshalIndent(res.Spec, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n%s\n", res.Digest, js)
			fmt.Fprintf(out, "docker run -i --rm %s %s\n", strings.Join(res.Spec.DockerFlags(), " "), res.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key file (required)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
