package provenance_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/rebase/hardening"
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

// TestForRecordsReportAndStart: the provenance carries the hardening report
// and how the image starts (before → after), taken from the harden result.
// The report used to be read from a field the result does not have.
func TestForRecordsReportAndStart(t *testing.T) {
	res := &build.Result{Source: "example.invalid/up@sha256:" + strings.Repeat("a", 64), Strategy: build.StrategyRebase,
		Hardening: &hardening.Report{Removed: []string{"/bin/sh"}},
		Start: &build.Start{Before: "/bin/bash -l -c 'node dist/index.js'", After: "/nix/store/abc-nodejs-20/bin/node dist/index.js",
			Entrypoint: []string{"/nix/store/abc-nodejs-20/bin/node", "dist/index.js"}, WorkingDir: "/app"}}
	prov, err := provenance.For(res, policies.Default(), time.Unix(1, 0))
	require.NoError(t, err)
	require.Contains(t, string(prov.Report), `"/bin/sh"`)
	require.Contains(t, string(prov.Start), `"before":"/bin/bash -l -c 'node dist/index.js'"`)
	require.Contains(t, string(prov.Start), `"after":"/nix/store/abc-nodejs-20/bin/node dist/index.js"`)
	require.Contains(t, string(prov.Start), `"workingDir":"/app"`)
}

// TestForRecordsCarry: the carried executables are an input of the
// provenance (they change the image), the paths they brought a byproduct.
func TestForRecordsCarry(t *testing.T) {
	res := &build.Result{Source: "example.invalid/up@sha256:" + strings.Repeat("a", 64), Strategy: build.StrategyRebuild,
		Carry: []string{"/usr/bin/git"}, Carried: []string{"/lib64/ld-linux-x86-64.so.2", "/usr/bin/git"}}
	prov, err := provenance.For(res, policies.Default(), time.Unix(1, 0))
	require.NoError(t, err)
	require.Equal(t, []string{"/usr/bin/git"}, prov.Carry)
	require.JSONEq(t, `["/lib64/ld-linux-x86-64.so.2","/usr/bin/git"]`, string(prov.Carried))

	prov, err = provenance.For(&build.Result{Source: res.Source, Strategy: build.StrategyRebuild}, policies.Default(), time.Unix(1, 0))
	require.NoError(t, err)
	require.Nil(t, prov.Carry)
	require.Nil(t, prov.Carried, "nothing carried, no byproduct")
}

// TestSign: drydock sign resolves the tag once and signs that digest; with
// an SBOM format it also attaches the provenance and the SBOM, without one
// nothing but the signature.
func TestSign(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/mcp/echo")
	require.NoError(t, err)
	keyDir := t.TempDir()
	_, _, err = attest.GenerateKeyPair(keyDir, []byte("pw"))
	require.NoError(t, err)
	signer, err := attest.LoadPrivateKey(filepath.Join(keyDir, "cosign.key"), func() ([]byte, error) { return []byte("pw"), nil })
	require.NoError(t, err)

	tests := []struct {
		tag, format string
		found       map[string]string
	}{
		{"plain", "", map[string]string{}},
		{"attested", "spdx", map[string]string{"slsa": "https://slsa.dev/provenance/v1", "sbom": "https://spdx.dev/Document"}},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			want := push(t, repo, tt.tag)
			d, err := provenance.Sign(context.Background(), repo.Tag(tt.tag), signer, tt.format)
			require.NoError(t, err)
			require.Equal(t, want, d)
			_, err = attest.Verify(context.Background(), d, signer)
			require.NoError(t, err)
			ev, err := attest.Inspect(context.Background(), d, signer)
			require.NoError(t, err)
			require.Equal(t, tt.found, ev.Found)
		})
	}
}
