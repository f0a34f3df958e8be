package main

import (
	"crypto"
	"fmt"
	"os"
	"strings"

	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

// NewCmdEgressImage builds and signs the gateway image of network mode
// allowlist for a release pipeline.
func NewCmdEgressImage() *cobra.Command {
	var (
		sf       signFlags
		binaries []string
	)
	cmd := &cobra.Command{
		Use:   "egress-image REPO[:TAG] --key cosign.key [--binary [linux/ARCH=]PATH]...",
		Short: "Build, push and sign the gateway image that runs network mode allowlist's egress proxy",
		Long: `Build the gateway image (an empty base holding a static drydock binary at
/drydock, user 65532) from the running drydock when it is a static Linux
binary, or from --binary PATH; several --binary linux/ARCH=PATH make an image
index with one image per platform. The image is pushed by digest, signed
(every platform image of an index too), and only then tagged REPO:TAG
(default tag latest), so the tag never names an unsigned gateway.

Prints the signed REPO@sha256:... and then the floor.yaml snippet that makes
"drydock run" use it on any machine, Docker Desktop on macOS or Windows
included (a release can also carry it as its default; see README.md). run
verifies it with that key before any container starts.

` + signingHelp(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst, err := name.NewTag(args[0])
			if err != nil {
				return fmt.Errorf("parsing repository %q: %w", args[0], err)
			}
			bins, err := gatewayBinaries(binaries)
			if err != nil {
				return err
			}
			signer, cert, err := sf.signer(cmd.Context())
			if err != nil {
				return err
			}
			d, err := egress.Publish(cmd.Context(), dst, bins, signer, egress.WithAttestOptions(attestOptions(cert)...))
			if err != nil {
				return err
			}
			return printFloorSnippet(cmd, d, signer.PublicKey)
		},
	}
	sf.addFlags(cmd, keyHelp)
	_ = cmd.MarkFlagRequired("key")
	cmd.Flags().StringArrayVar(&binaries, "binary", nil, "static drydock binary to put in the image: PATH (platform read from the binary) or linux/ARCH=PATH (repeatable, one per platform; default: this drydock)")
	return cmd
}

// gatewayBinaries parses --binary, defaulting to the running drydock.
func gatewayBinaries(flags []string) ([]egress.Binary, error) {
	if len(flags) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this drydock binary: %w", err)
		}
		if err := egress.CheckBinary(exe); err != nil {
			return nil, fmt.Errorf("this drydock cannot be the gateway (%w); pass --binary PATH of a drydock built with GOOS=linux CGO_ENABLED=0", err)
		}
		flags = []string{exe}
	}
	var out []egress.Binary
	for _, f := range flags {
		b, err := egress.ParseBinary(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// printFloorSnippet prints the digest and the floor.yaml lines naming it.
func printFloorSnippet(cmd *cobra.Command, d name.Digest, pub func(...signature.PublicKeyOption) (crypto.PublicKey, error)) error {
	key, err := pub()
	if err != nil {
		return fmt.Errorf("reading the signing key's public key: %w", err)
	}
	pem, err := cryptoutils.MarshalPublicKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encoding the signing key's public key: %w", err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, d)
	fmt.Fprintf(out, "# floor.yaml (~/.config/drydock/floor.yaml):\negress:\n  image: %s\n  key: |\n    %s\n", d, strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n    "))
	return nil
}
