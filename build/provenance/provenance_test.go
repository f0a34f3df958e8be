package provenance_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// push writes a random image to repo and returns its digest reference.
func push(t *testing.T, repo name.Repository, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	require.NoError(t, remote.Write(repo.Tag(tag), img))
	h, err := img.Digest()
	require.NoError(t, err)
	return repo.Digest(h.String())
}

// TestSignFuncCertificate: SignFunc puts the certificate given to it into
// the signature and the provenance attestation alike, so a keyless verifier
// (which has no key, only the CA and the identity) accepts both; without
// the certificate only the key verifies.
func TestSignFuncCertificate(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	repo, err := name.NewRepository(host + "/mcp/echo")
	require.NoError(t, err)
	up, err := name.NewRepository(host + "/up/echo")
	require.NoError(t, err)
	source, base := push(t, up, "src"), push(t, up, "base")

	ca := keylesstest.NewCA(t, "provenance test CA")
	keyless, err := attest.LoadKeylessVerifier(ca.TrustedRoot(t), attest.Identity{Subject: keylesstest.Subject, Issuer: keylesstest.Issuer})
	require.NoError(t, err)

	tests := []struct {
		name         string
		withCert     bool
		keylessValid bool
	}{
		{name: "key only", withCert: false, keylessValid: false},
		{name: "certificate", withCert: true, keylessValid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
			signer, err := attest.LoadPrivateKey(leaf.KeyPath, nil)
			require.NoError(t, err)
			var opts []attest.Option
			if tt.withCert {
				c, err := attest.LoadCertificate(leaf.CertPath, "")
				require.NoError(t, err)
				opts = append(opts, attest.WithCertificate(c))
			}
			d := push(t, repo, strings.ReplaceAll(tt.name, " ", "-"))
			res := &build.Result{Ref: d.String(), Digest: d.DigestStr(), Source: source.String(), Base: base.String(),
				Strategy: build.StrategyRebase, Engine: build.EngineRegistry, SourceDateEpoch: 1}

			sign := provenance.SignFunc(signer, policies.Default(), time.Now(), opts...)
			require.NoError(t, sign(context.Background(), d, res))

			vr, err := attest.Verify(context.Background(), d, signer, attest.WithSourceDigest(source.DigestStr()))
			require.NoError(t, err, "the key verifies signature and provenance either way")
			require.NotEmpty(t, vr.Attestations)

			_, err = attest.Verify(context.Background(), d, keyless, attest.WithSourceDigest(source.DigestStr()))
			if tt.keylessValid {
				require.NoError(t, err, "signature and attestation both carry the certificate")
				return
			}
			require.ErrorIs(t, err, attest.ErrRefused)
			require.ErrorContains(t, err, `(check "certificate")`)
		})
	}
}
