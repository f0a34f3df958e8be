package main

import (
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
)

// NewCmdSign signs an image digest with a cosign key.
func NewCmdSign() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "sign IMAGE --key cosign.key",
		Short: "Sign an image's digest with a cosign key (offline, no transparency log)",
		Long: `Resolve IMAGE once to its digest and sign exactly that digest. The signature
is written next to the image in cosign's sha256-<digest>.sig scheme and names
the image's repository, which verification checks. Prints IMAGE@sha256:...`,
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
			d, err := attest.Resolve(cmd.Context(), ref)
			if err != nil {
				return err
			}
			if err := attest.Sign(cmd.Context(), d, signer); err != nil {
				return fmt.Errorf("signing %s: %w", d, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), d)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key file (password from COSIGN_PASSWORD or a prompt)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
