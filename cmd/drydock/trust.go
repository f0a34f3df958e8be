package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/drydock-dev/drydock/attest"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

// trustFlags say whose signatures an image must carry: a public key (file
// or KMS reference), or keyless — a trusted root and a certificate
// identity. verify, run, policy show/explain and mcp-config share them, so
// an image verifies the same way wherever it is checked.
type trustFlags struct {
	key                      string
	trustedRoot              string
	identity, identityRegexp string
	issuer, issuerRegexp     string
}

func (f *trustFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "cosign public key file, or a KMS key (awskms://, gcpkms://, azurekms://, hashivault://; needs a -tags kms build); or keyless: --trusted-root and a certificate identity")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "keyless: sigstore trusted_root.json naming the trusted certificate authorities")
	fl.StringVar(&f.identity, "certificate-identity", "", "keyless: required certificate identity (URI or email SAN)")
	fl.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "keyless: required certificate identity, as a Go regular expression matching the whole identity (anchored); one that accepts anyone (.*, .+, https://.*) is refused")
	fl.StringVar(&f.issuer, "certificate-oidc-issuer", "", "keyless: required OIDC issuer of the certificate")
	fl.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: required OIDC issuer, as a Go regular expression matching the whole issuer (anchored); one that accepts any issuer is refused")
}

func (f *trustFlags) keyless() bool {
	return f.trustedRoot != "" || f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
}

// verifier is where the trust flags become a verifier: a public key, or a
// keyless verifier for a trusted root and an identity.
func (f *trustFlags) verifier(ctx context.Context) (signature.Verifier, error) {
	switch {
	case f.key != "" && f.keyless():
		return nil, errors.New("give either --key or the keyless flags (--trusted-root, --certificate-identity, --certificate-oidc-issuer), not both")
	case attest.IsKMSRef(f.key):
		return attest.LoadKMSSigner(ctx, f.key)
	case f.key != "":
		return attest.LoadVerifier(f.key)
	case !f.keyless():
		return nil, errors.New("give --key cosign.pub, or --trusted-root trusted_root.json with --certificate-identity and --certificate-oidc-issuer")
	case f.trustedRoot == "":
		return nil, errors.New("keyless verification needs --trusted-root trusted_root.json naming the certificate authority")
	}
	kv, err := attest.LoadKeylessVerifier(f.trustedRoot, attest.Identity{
		Subject: f.identity, SubjectRegExp: f.identityRegexp,
		Issuer: f.issuer, IssuerRegExp: f.issuerRegexp,
	})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return kv, nil
}

// commandLine renders the trust flags back as arguments, files made
// absolute (MCP clients start servers from an unknown directory).
func (f *trustFlags) commandLine() ([]string, error) {
	abs := func(flag, p string) (string, error) {
		a, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", flag, p, err)
		}
		return a, nil
	}
	var args []string
	if f.key != "" {
		key := f.key
		if !attest.IsKMSRef(key) {
			var err error
			if key, err = abs("--key", key); err != nil {
				return nil, err
			}
		}
		args = append(args, "--key", key)
	}
	if f.trustedRoot != "" {
		root, err := abs("--trusted-root", f.trustedRoot)
		if err != nil {
			return nil, err
		}
		args = append(args, "--trusted-root", root)
	}
	for _, kv := range [][2]string{
		{"--certificate-identity", f.identity}, {"--certificate-identity-regexp", f.identityRegexp},
		{"--certificate-oidc-issuer", f.issuer}, {"--certificate-oidc-issuer-regexp", f.issuerRegexp},
	} {
		if kv[1] != "" {
			args = append(args, kv[0], kv[1])
		}
	}
	return args, nil
}
