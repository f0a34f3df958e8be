package main

import (
	"fmt"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
)

// NewCmdSign signs an image digest with a cosign key.
func NewCmdSign() *cobra.Command {
	var (
		key        string
		withAttest bool
	)
	cmd := &cobra.Command{
		Use:   "sign IMAGE --key cosign.key [--attest]",
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

The key password comes from COSIGN_PASSWORD or a prompt, never from argv.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := name.ParseReference(args[0])
			if err != nil {
				return fmt.Errorf("parsing image reference %q: %w", args[0], err)
			}
			pw, err := password(false)
			if err != nil {
				return err
			}
			signer, err := attest.LoadSigner(key, pw)
			if err != nil {
				return err
			}
			d, err := attest.ResolveManifest(cmd.Context(), ref)
			if err != nil {
				return err
			}
			if err := attest.Sign(cmd.Context(), d, signer); err != nil {
				return err
			}
			if withAttest {
				prov := &attest.Provenance{BuilderID: provenance.BuilderID(), Version: provenance.Version(), FinishedOn: time.Now()}
				if err := attest.Attest(cmd.Context(), d, signer, prov); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), d)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key file (password from COSIGN_PASSWORD or a prompt)")
	_ = cmd.MarkFlagRequired("key")
	cmd.Flags().BoolVar(&withAttest, "attest", false, "also attach a signed SLSA provenance v1 attestation")
	return cmd
}
