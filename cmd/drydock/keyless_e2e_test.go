package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/cosigntest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// TestKeylessCLI drives keyless signing as a CI job would (a certificate
// already issued for its key by a CA the test makes, standing in for a
// private Fulcio) and offline keyless verification against a trusted root,
// with drydock and the real cosign CLI both ways.
func TestKeylessCLI(t *testing.T) {
	reg := testenv.Registry(t)
	cosign := cosigntest.Binary(t)
	ca := keylesstest.NewCA(t, "drydock e2e fulcio")
	trustedRoot := ca.TrustedRoot(t)
	prefix := fmt.Sprintf("%s/keyless-e2e-%d", reg, time.Now().UnixNano())
	id := []string{"--trusted-root", trustedRoot,
		"--certificate-identity", keylesstest.Subject, "--certificate-oidc-issuer", keylesstest.Issuer}
	verify := func(t *testing.T, image string, extra ...string) result {
		t.Helper()
		return drydock(t, nil, append([]string{"verify", image}, append(append([]string(nil), id...), extra...)...)...)
	}
	// cosign must not reach for the public Sigstore TUF repository.
	cosignEnv := []string{"TUF_ROOT=" + t.TempDir()}

	t.Run("drydock sign --certificate, drydock and cosign verify keylessly", func(t *testing.T) {
		d := pushLabelled(t, prefix+"/drydock")
		leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)

		r := drydock(t, nil, "sign", prefix+"/drydock:v1", "--key", leaf.KeyPath, "--certificate", leaf.CertPath, "--attest")

		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, d, r.lastLine())
		r = verify(t, prefix+"/drydock:v1", "--attestations")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, d, r.lastLine())

		// A trusted root made by `cosign trusted-root create` from the CA's
		// PEM, as a user with a private CA would make it, works the same.
		// (The spec is comma-separated: the path must not hold a comma, as
		// this subtest's t.TempDir would.)
		dir, err := os.MkdirTemp("", "drydock-keyless-ca")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		caPEM := filepath.Join(dir, "ca.pem")
		require.NoError(t, os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644))
		cosignRoot := filepath.Join(dir, "trusted_root.json")
		c := cosigntest.Run(t, cosign, cosignEnv, "trusted-root", "create", "--fulcio", "url=https://fulcio.test.invalid,certificate-chain="+caPEM, "--out", cosignRoot)
		require.Equal(t, 0, c.Code, c.Stderr)
		r = drydock(t, nil, "verify", d, "--trusted-root", cosignRoot, "--certificate-identity", keylesstest.Subject, "--certificate-oidc-issuer", keylesstest.Issuer)
		require.Equal(t, 0, r.code, r.stderr)

		c = cosigntest.Run(t, cosign, cosignEnv, append([]string{"verify", "--insecure-ignore-tlog", "--insecure-ignore-sct"}, append(id, d)...)...)
		require.Equal(t, 0, c.Code, c.Stderr)
		require.Contains(t, c.Stdout, d[len(d)-64:])
		c = cosigntest.Run(t, cosign, cosignEnv, "verify", "--insecure-ignore-tlog", "--insecure-ignore-sct", "--trusted-root", trustedRoot,
			"--certificate-identity", keylesstest.Subject+"-other", "--certificate-oidc-issuer", keylesstest.Issuer, d)
		require.NotEqual(t, 0, c.Code, "cosign must refuse another identity")
	})
	t.Run("cosign sign --certificate, drydock verifies keylessly", func(t *testing.T) {
		const pw = "keyless-e2e-password"
		keys := t.TempDir()
		r := drydock(t, []string{"COSIGN_PASSWORD=" + pw}, "keygen", "--out-dir", keys)
		require.Equal(t, 0, r.code, r.stderr)
		pub, err := attest.LoadVerifier(filepath.Join(keys, "cosign.pub"))
		require.NoError(t, err)
		pk, err := pub.PublicKey()
		require.NoError(t, err)
		cert := ca.IssueFor(t, pk, keylesstest.Subject, keylesstest.Issuer, time.Now().Add(-time.Minute), time.Now().Add(10*time.Minute))
		d := pushLabelled(t, prefix+"/cosign")

		c := cosigntest.Run(t, cosign, append(cosignEnv, "COSIGN_PASSWORD="+pw), "sign", "--key", filepath.Join(keys, "cosign.key"),
			"--certificate", cert, "--tlog-upload=false", "--yes", d)
		require.Equal(t, 0, c.Code, c.Stderr)

		r = verify(t, prefix+"/cosign:v1")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, d, r.lastLine())
	})
	t.Run("refusals and usage errors", func(t *testing.T) {
		d := pushLabelled(t, prefix+"/refused")
		leaf := ca.IssueNow(t, "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main", keylesstest.Issuer)
		r := drydock(t, nil, "sign", d, "--key", leaf.KeyPath, "--certificate", leaf.CertPath)
		require.Equal(t, 0, r.code, r.stderr)
		keyBytes, err := os.ReadFile(leaf.KeyPath)
		require.NoError(t, err)
		require.NotContains(t, r.stdout+r.stderr, string(keyBytes[30:60]), "the key never appears in output")

		tests := []struct {
			name     string
			args     []string
			wantCode int
			want     string
		}{
			{name: "another identity", args: append([]string{"verify", d}, id...), wantCode: 1, want: `which is not the required identity (check "certificate")`},
			{name: "no trust given", args: []string{"verify", d}, wantCode: 2, want: "give --key cosign.pub, or --trusted-root"},
			{name: "key and keyless", args: append([]string{"verify", d, "--key", leaf.CertPath}, id...), wantCode: 2, want: "not both"},
			{name: "identity without trusted root", args: []string{"verify", d, "--certificate-identity", keylesstest.Subject, "--certificate-oidc-issuer", keylesstest.Issuer}, wantCode: 2, want: "needs --trusted-root"},
			{name: "no issuer", args: []string{"verify", d, "--trusted-root", trustedRoot, "--certificate-identity", keylesstest.Subject}, wantCode: 2, want: "--certificate-oidc-issuer"},
			{name: "sign with a KMS key in a build without -tags kms", args: []string{"sign", d, "--key", "hashivault://drydock"}, wantCode: 2, want: "hashivault:// keys need a drydock built with KMS support: this binary has none; build it with `go build -tags kms ./cmd/drydock`"},
			{name: "verify with a KMS key in a build without -tags kms", args: []string{"verify", d, "--key", "awskms:///arn:aws:kms:us-east-1:111122223333:key/1234"}, wantCode: 2, want: "build it with `go build -tags kms ./cmd/drydock`"},
			{name: "certificate for another key", args: []string{"sign", d, "--key", ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer).KeyPath, "--certificate", leaf.CertPath}, wantCode: 2, want: "not the key the certificate was issued for"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := drydock(t, nil, tt.args...)
				require.Equal(t, tt.wantCode, r.code, r.stderr)
				require.Contains(t, r.stderr, tt.want)
			})
		}
	})
}

// TestRunKeyless: an image signed keylessly in CI is launched with the same
// trust flags verify takes, and refused for another identity.
func TestRunKeyless(t *testing.T) {
	w := setup(t)
	ca := keylesstest.NewCA(t, "drydock run keyless")
	root := ca.TrustedRoot(t)
	dst := w.repo("keyless-run/echo") + ":1"
	require.NoError(t, crane.Copy(w.hardened, dst))
	leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	r := drydock(t, nil, "sign", dst, "--key", leaf.KeyPath, "--certificate", leaf.CertPath)
	require.Equal(t, 0, r.code, r.stderr)

	trust := []string{"--trusted-root", root, "--certificate-identity", keylesstest.Subject, "--certificate-oidc-issuer", keylesstest.Issuer}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.Command(drydockBin, append([]string{"run", dst}, trust...)...)
	var stderr strings.Builder
	cmd.Stderr = &syncWriter{w: &stderr}
	s, err := mcp.NewClient(&mcp.Implementation{Name: "keyless", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Equal(t, "keyless", callText(t, s, "echo", map[string]any{"text": "keyless"}))
	require.NoError(t, s.Close())

	other := []string{"--trusted-root", root, "--certificate-identity", keylesstest.Subject + "-other", "--certificate-oidc-issuer", keylesstest.Issuer}
	r = drydock(t, nil, append([]string{"run", dst}, other...)...)
	require.Equal(t, exitLaunchFailed, r.code, r.stderr)
	require.Contains(t, r.stderr, "certificate")
	require.Empty(t, r.stdout)

	// mcp-config writes the same trust flags into the client's command line.
	r = drydock(t, nil, append([]string{"mcp-config", dst, "--client", "claude"}, trust...)...)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "--certificate-identity")
	require.Contains(t, r.stdout, root)
}
