package main

import (
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/spf13/cobra"
)

// NewCmdKeygen creates a cosign-compatible key pair.
func NewCmdKeygen() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create an encrypted cosign key pair (cosign.key, cosign.pub)",
		Long: `Create an ECDSA P-256 key pair in cosign's format: cosign.key (encrypted
with COSIGN_PASSWORD, or a password typed at the prompt) and cosign.pub.
Existing files are never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := password(true)
			if err != nil {
				return err
			}
			priv, pub, err := attest.GenerateKeyPair(dir, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Private key written to %s\n", priv)
			fmt.Fprintln(cmd.OutOrStdout(), pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "out-dir", ".", "directory to write cosign.key and cosign.pub into")
	return cmd
}
