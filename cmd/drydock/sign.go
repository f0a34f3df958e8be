package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

// NewCmdSign signs an image digest with a cosign key.
func NewCmdSign() *cobra.Command {
	var (
		key, cert, chain string
		withAttest       bool
	)
	cmd := &cobra.Command{
		Use:   "sign IMAGE --key cosign.key [--certificate cert.pem] [--attest]",
		Short: "Sign an image's digest with a cosign key (offline, no transparency log)",
		Long: `Resolve IMAGE once to its digest and sign exactly that digest. The signature
is written next to the image in cosign's sha256-<digest>.sig scheme and names
the image's repository, which verification checks. An image index is signed
together with every image it lists (the platform image is what runs and what
"drydock verify" checks). Prints IMAGE@sha256:... of the index or image.

--attest also attaches a signed in-toto statement with a SLSA provenance v1
predicate (sha256-<digest>.att, readable by "cosign verify-attestation --type
slsaprovenance1"), filled from what "drydock harden" recorded on the image:
upstream source, hardened base, policy and its sha256, plus this builder and
drydock version.

Keyless signing in CI: --certificate cert.pem (and --certificate-chain)
attaches a certificate issued for the signing key (by Fulcio or your own
CA, after the OIDC exchange) to every signature and attestation, so that
"drydock verify --trusted-root ... --certificate-identity ...
--certificate-oidc-issuer ..." and cosign verify can check who signed.
drydock does not talk to Fulcio: obtain the certificate first. --key is then
the certified (ephemeral) key: an unencrypted PEM private key or a cosign key.

--key may also name a KMS key in cosign's form (awskms://, gcpkms://,
azurekms://, hashivault://) when drydock was built with -tags kms; the
provider's credentials come from its usual environment variables.
` + kmsHelp() + `

The key password comes from COSIGN_PASSWORD or a prompt, never from argv;
an unencrypted key needs none.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := name.ParseReference(args[0])
			if err != nil {
				return fmt.Errorf("parsing image reference %q: %w", args[0], err)
			}
			if chain != "" && cert == "" {
				return fmt.Errorf("--certificate-chain needs --certificate")
			}
			var signer signature.Signer
			if attest.IsKMSRef(key) {
				signer, err = attest.LoadKMSSigner(cmd.Context(), key)
			} else {
				signer, err = attest.LoadPrivateKey(key, func() ([]byte, error) { return password(false) })
			}
			if err != nil {
				return err
			}
			var opts []attest.Option
			if cert != "" {
				c, err := attest.LoadCertificate(cert, chain)
				if err != nil {
					return err
				}
				opts = append(opts, attest.WithCertificate(c))
			}
			d, err := attest.ResolveManifest(cmd.Context(), ref)
			if err != nil {
				return err
			}
			if err := attest.Sign(cmd.Context(), d, signer, opts...); err != nil {
				return err
			}
			if withAttest {
				prov := &attest.Provenance{BuilderID: provenance.BuilderID(), Version: provenance.Version(), FinishedOn: time.Now()}
				if err := attest.Attest(cmd.Context(), d, signer, prov, opts...); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), d)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key file (password from COSIGN_PASSWORD or a prompt), or with --certificate the certified key (unencrypted PEM allowed)")
	cmd.Flags().StringVar(&cert, "certificate", "", "keyless: PEM certificate issued for --key, attached to the signatures (chain may follow in the same file)")
	cmd.Flags().StringVar(&chain, "certificate-chain", "", "keyless: PEM intermediate and root certificates of --certificate")
	_ = cmd.MarkFlagRequired("key")
	cmd.Flags().BoolVar(&withAttest, "attest", false, "also attach a signed SLSA provenance v1 attestation")
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
