package mirror_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/stretchr/testify/require"
)

// TestRunCertificateOptions: a certificate that is missing or names another
// key is refused by Run before any entry is looked at (the catalog's
// sources do not exist, so getting further would fail differently).
func TestRunCertificateOptions(t *testing.T) {
	ca := keylesstest.NewCA(t, "mirror options CA")
	leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	other := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	signer, err := attest.LoadPrivateKey(leaf.KeyPath, nil)
	require.NoError(t, err)
	otherSigner, err := attest.LoadPrivateKey(other.KeyPath, nil)
	require.NoError(t, err)
	cert, err := attest.LoadCertificate(leaf.CertPath, "")
	require.NoError(t, err)
	cat, err := mirror.Parse([]byte("apiVersion: drydock.dev/v1\nkind: Catalog\nservers:\n- {name: a, source: 127.0.0.1:1/none/a:1}\n"),
		filepath.Join(t.TempDir(), "catalog.yaml"))
	require.NoError(t, err)

	tests := []struct {
		name string
		opts []mirror.Option
		want string
	}{
		{"no certificate", []mirror.Option{mirror.WithSigner(signer), mirror.WithCertificate(nil)}, "no certificate given"},
		{"certificate for another key", []mirror.Option{mirror.WithSigner(otherSigner), mirror.WithCertificate(cert)}, "not the key the certificate was issued for"},
		{"certificate without signer", []mirror.Option{mirror.WithCertificate(cert)}, "mirroring needs a signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := mirror.Run(context.Background(), cat, "127.0.0.1:1/mirror", tt.opts...)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, rep, "refused before any entry ran")
		})
	}
}
