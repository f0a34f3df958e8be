package main

import (
	"encoding/json"
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/spf13/cobra"
)

type verifyOutput struct {
	Ref      string           `json:"ref"`
	Digest   string           `json:"digest"`
	Verified bool             `json:"verified"`
	Policy   *policies.Policy `json:"policy"`
}

// NewCmdVerify checks an image's signature and policy label.
func NewCmdVerify() *cobra.Command {
	var key, output string
	cmd := &cobra.Command{
		Use:   "verify IMAGE --key cosign.pub",
		Short: "Verify an image's signature and policy label (exit 0 verified, 1 refused)",
		Long: `Resolve IMAGE once to a digest, verify that digest's cosign signature with
--key (the signature must be for this digest and this repository), and check
its dev.drydock.policy label. Exit 0 when verified, 1 when refused (the reason
is on stderr), 2 on other errors. The last line of text output is the
verified IMAGE@sha256:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: use text or json", output)
			}
			v, err := attest.LoadVerifier(key)
			if err != nil {
				return err
			}
			res, err := launch.Verify(cmd.Context(), args[0], launch.WithVerifier(v))
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(verifyOutput{
					Ref: res.Digest.String(), Digest: res.Digest.DigestStr(), Verified: true, Policy: res.Policy,
				})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Verified signature and policy of %s\n", args[0])
			fmt.Fprintln(cmd.OutOrStdout(), res.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key file (required)")
	_ = cmd.MarkFlagRequired("key")
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}
