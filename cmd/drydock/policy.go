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

// policyFlags are what policy show and explain share: the trust flags and
// the floor, to verify IMAGE as run would (signature, label, floor).
type policyFlags struct {
	trust     trustFlags
	floorFile string
}

func (f *policyFlags) addFlags(cmd *cobra.Command) {
	f.trust.addFlags(cmd)
	addFloorFlag(cmd, &f.floorFile)
}

// verify verifies image as run would and returns the floor it used.
func (f *policyFlags) verify(cmd *cobra.Command, image string) (*launch.Verified, *policies.Floor, error) {
	v, err := f.trust.verifier(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	floor, err := policies.LoadFloor(f.floorFile)
	if err != nil {
		return nil, nil, err
	}
	res, err := launch.Verify(cmd.Context(), image, launch.WithVerifier(v), launch.WithFloor(floor))
	return res, floor, err
}

func newCmdPolicyShow() *cobra.Command {
	var f policyFlags
	cmd := &cobra.Command{
		Use:   "show IMAGE (--key cosign.pub | --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE]",
		Short: "Verify IMAGE and print its signed policy as YAML",
		Long: `Verify IMAGE exactly as run does (signature, policy label, this machine's
floor) and print the policy from its dev.drydock.policy label as YAML, preceded
by a comment naming the verified digest. An image that would be refused is
refused here too, with the same reason.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, _, err := f.verify(cmd, args[0])
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
	f.addFlags(cmd)
	return cmd
}

func newCmdPolicyExplain() *cobra.Command {
	var f policyFlags
	cmd := &cobra.Command{
		Use:   "explain IMAGE (--key cosign.pub | --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE]",
		Short: "Verify IMAGE and print the container settings and docker flags run would apply",
		Long: `Verify IMAGE exactly as run does (signature, policy label, this machine's
floor), then print the verified digest, the container settings run applies
(JSON) and the equivalent "docker run" command line. --mount and --env given
to run add binds and variables on top of these. For network modes allowlist
and public it prints the whole layout run starts: which gateway image the
egress gateway runs from (a floor's egress.image, the release default, or a
local build of this drydock's static binary) with its digest and key source,
the socket volume, the egress gateway, the relay (network none) with its
listeners (proxy, transparent 80/443, one address per tcp:// entry) and DNS
answers, and the server in the relay's network namespace with its proxy
variables for the detected runtime.
Last, lines starting with "#" list the signed attestations found (slsa,
sbom, vuln, openvex) and the newest signed vulnerability scan's findings.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, floor, err := f.verify(cmd, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			js, err := json.MarshalIndent(res.Spec, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n%s\n", res.Digest, js)
			gw, err := releaseGateway()
			if err != nil {
				return err
			}
			if layout := launch.ExplainAllowlist(res, floor, gw...); layout != nil {
				fmt.Fprintln(out, strings.Join(layout, "\n"))
			} else {
				fmt.Fprintf(out, "docker run -i --rm %s %s\n", strings.Join(launch.ServerFlags(res.Spec), " "), res.Digest)
			}
			return explainAttestations(cmd, res, &f.trust)
		},
	}
	f.addFlags(cmd)
	return cmd
}
