package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// NewCmdPolicy groups the policy subcommands.
func NewCmdPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check policy files and explain what an image's policy does",
	}
	cmd.AddCommand(newCmdPolicyLint(), newCmdPolicyShow(), newCmdPolicyExplain())
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

// verifyForPolicy verifies IMAGE as run would (signature, label, floor).
func verifyForPolicy(cmd *cobra.Command, image string, trust *trustFlags, floorFile string) (*launch.Verified, error) {
	v, err := trust.verifier(cmd.Context())
	if err != nil {
		return nil, err
	}
	floor, err := policies.LoadFloor(floorFile)
	if err != nil {
		return nil, err
	}
	return launch.Verify(cmd.Context(), image, launch.WithVerifier(v), launch.WithFloor(floor))
}

func newCmdPolicyShow() *cobra.Command {
	var (
		trust     trustFlags
		floorFile string
	)
	cmd := &cobra.Command{
		Use:   "show IMAGE (--key cosign.pub | --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE]",
		Short: "Verify IMAGE and print its signed policy as YAML",
		Long: `Verify IMAGE exactly as run does (signature, policy label, this machine's
floor) and print the policy from its dev.drydock.policy label as YAML, preceded
by a comment naming the verified digest. An image that would be refused is
refused here too, with the same reason.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := verifyForPolicy(cmd, args[0], &trust, floorFile)
			if err != nil {
				return err
			}
			out, err := yaml.Marshal(res.Policy)
			if err != nil {
				return fmt.Errorf("encoding the policy of %s: %w", res.Digest, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# %s\n%s", res.Digest, out)
			return nil
		},
	}
	trust.addFlags(cmd)
	addFloorFlag(cmd, &floorFile)
	return cmd
}

func newCmdPolicyExplain() *cobra.Command {
	var (
		trust     trustFlags
		floorFile string
	)
	cmd := &cobra.Command{
		Use:   "explain IMAGE (--key cosign.pub | --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE]",
		Short: "Verify IMAGE and print the container settings and docker flags run would apply",
		Long: `Verify IMAGE exactly as run does (signature, policy label, this machine's
floor), then print the verified digest, the container settings run applies
(JSON) and the equivalent "docker run" command line. --mount and --env given
to run add binds and variables on top of these. For network mode allowlist it
prints the whole layout run starts: the socket volume, the egress proxy, the
relay (network none) and the server in the relay's network namespace.
Last, lines starting with "#" list the signed attestations found (slsa,
sbom, vuln, openvex) and the newest signed vulnerability scan's findings.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := verifyForPolicy(cmd, args[0], &trust, floorFile)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			js, err := json.MarshalIndent(res.Spec, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n%s\n", res.Digest, js)
			floor, err := policies.LoadFloor(floorFile)
			if err != nil {
				return err
			}
			if layout := launch.ExplainAllowlist(res, floor); layout != nil {
				fmt.Fprintln(out, strings.Join(layout, "\n"))
			} else {
				fmt.Fprintf(out, "docker run -i --rm %s %s\n", strings.Join(launch.ServerFlags(res.Spec), " "), res.Digest)
			}
			return explainAttestations(cmd, res, &trust)
		},
	}
	trust.addFlags(cmd)
	addFloorFlag(cmd, &floorFile)
	return cmd
}
