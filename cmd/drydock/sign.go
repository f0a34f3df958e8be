package main

import (
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
)

// NewCmdSign signs an image digest with a key file, a KMS key or a
// certified key.
func NewCmdSign() *cobra.Command {
	var (
		sf         signFlags
		withAttest bool
		sbomFormat string
	)
	cmd := &cobra.Command{
		Use:   "sign IMAGE --key cosign.key [--certificate cert.pem] [--attest]",
		Short: "Sign an image's digest with a cosign key, a KMS key or a certified key (offline, no transparency log)",
		Long: `Resolve IMAGE once to its digest and sign exactly that digest. The signature
is written next to the image in cosign's sha256-<digest>.sig scheme and names
the image's repository, which verification checks. An image index is signed
together with every image it lists (the platform image is what runs and what
"drydock verify" checks). Prints IMAGE@sha256:... of the index or image.

--attest also attaches a signed in-toto statement with a SLSA provenance v1
predicate (sha256-<digest>.att, readable by "cosign verify-attestation --type
slsaprovenance1"), filled from what "drydock harden" recorded on the image:
upstream source, hardened base, policy and its sha256, plus this builder and
drydock version, and a signed SBOM attestation of each platform image (see
--sbom-format).

` + signingHelp(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := name.ParseReference(args[0])
			if err != nil {
				return fmt.Errorf("parsing image reference %q: %w", args[0], err)
			}
			if err := sbom.CheckFormat(sbomFormat); err != nil {
				return fmt.Errorf("--sbom-format: %w", err)
			}
			signer, cert, err := sf.signer(cmd.Context())
			if err != nil {
				return err
			}
			format := "" // sign only
			if withAttest {
				format = sbomFormat
			}
			d, err := provenance.Sign(cmd.Context(), ref, signer, format, attestOptions(cert)...)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), d)
			return nil
		},
	}
	sf.addFlags(cmd, keyHelp)
	_ = cmd.MarkFlagRequired("key")
	cmd.Flags().BoolVar(&withAttest, "attest", false, "also attach a signed SLSA provenance v1 attestation and a signed SBOM attestation")
	cmd.Flags().StringVar(&sbomFormat, "sbom-format", sbom.FormatSPDX, sbomFormatHelp)
	return cmd
}

// kmsHelp says which KMS providers this binary has, since that depends on
// how it was built.
func kmsHelp() string {
	p := attest.KMSProviders()
	if len(p) == 0 {
		return "This binary has no KMS providers (built without -tags kms)."
	}
	return "This binary has KMS providers " + strings.Join(p, ", ") + "."
}
