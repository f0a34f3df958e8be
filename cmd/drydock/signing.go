package main

import (
	"context"
	"errors"

	"github.com/drydock-dev/drydock/attest"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

// signFlags say how an image is signed: a cosign key file, a KMS reference,
// or (keyless in CI) a certified key with its certificate and chain. sign,
// harden and mirror share them, so an image is signed the same way
// whichever command made it; trustFlags is the verifying side.
type signFlags struct {
	key, cert, chain string
}

// addFlags registers --key, --certificate and --certificate-chain; keyHelp
// is --key's usage, which says what happens without it.
func (f *signFlags) addFlags(cmd *cobra.Command, keyHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", keyHelp)
	fl.StringVar(&f.cert, "certificate", "", "keyless: PEM certificate issued for --key, attached to every signature and attestation (its chain may follow in the same file)")
	fl.StringVar(&f.chain, "certificate-chain", "", "keyless: PEM intermediate and root certificates of --certificate")
}

// keyHelp is --key's usage for commands that sign.
const keyHelp = "signing key: a cosign private key file (password from COSIGN_PASSWORD or a prompt), a KMS key (awskms://, gcpkms://, azurekms://, hashivault://; needs a -tags kms build), or with --certificate the certified key (unencrypted PEM allowed)"

// signingHelp is the --help paragraph on signing modes, shared by the
// commands that sign.
func signingHelp() string {
	return `Signing: --key names a cosign key file, whose password comes from
COSIGN_PASSWORD or a prompt (never argv; an unencrypted key needs none), or a
KMS key in cosign's form (awskms://, gcpkms://, azurekms://, hashivault://)
when drydock was built with -tags kms (credentials from the provider's usual
environment variables). ` + kmsHelp() + `
Keyless in CI: --certificate cert.pem (and --certificate-chain) attaches a
certificate issued for --key (by Fulcio or your own CA, after the OIDC
exchange) to every signature and attestation, so "drydock verify
--trusted-root ... --certificate-identity ... --certificate-oidc-issuer ..."
and cosign verify can check who signed. drydock does not talk to Fulcio:
obtain the certificate first.`
}

// given reports whether any signing flag was set.
func (f *signFlags) given() bool { return f.key != "" || f.cert != "" || f.chain != "" }

// signer is where the signing flags become a signer and the attest options
// that present its signatures (the certificate and chain to attach). The
// key password is asked for only when the key file is encrypted.
func (f *signFlags) signer(ctx context.Context) (signature.SignerVerifier, *attest.Certificate, error) {
	switch {
	case f.key == "" && f.cert != "":
		return nil, nil, errors.New("--certificate needs --key, the key it was issued for")
	case f.chain != "" && f.cert == "":
		return nil, nil, errors.New("--certificate-chain needs --certificate")
	case f.key == "":
		return nil, nil, errors.New("no signing key: pass --key")
	}
	var (
		s   signature.SignerVerifier
		err error
	)
	if attest.IsKMSRef(f.key) {
		s, err = attest.LoadKMSSigner(ctx, f.key)
	} else {
		s, err = attest.LoadPrivateKey(f.key, func() ([]byte, error) { return password(false) })
	}
	if err != nil {
		return nil, nil, err
	}
	if f.cert == "" {
		return s, nil, nil
	}
	c, err := attest.LoadCertificate(f.cert, f.chain)
	if err != nil {
		return nil, nil, err
	}
	if err := c.CheckKey(s); err != nil {
		return nil, nil, err
	}
	return s, c, nil
}

// attestOptions are the options Sign and Attest take for cert (none
// without a certificate).
func attestOptions(cert *attest.Certificate) []attest.Option {
	if cert == nil {
		return nil
	}
	return []attest.Option{attest.WithCertificate(cert)}
}
