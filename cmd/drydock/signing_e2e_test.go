package main

import (
	"context"
	"encoding/json"
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
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/mirror/mirrortest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// keylessTrust are the verify/run flags for the test CA's workflow
// identity.
func keylessTrust(root, subject string) []string {
	return []string{"--trusted-root", root, "--certificate-identity", subject, "--certificate-oidc-issuer", keylesstest.Issuer}
}

// unsetPassword removes COSIGN_PASSWORD for the test (restored after), so
// a command that asks for a password fails instead of finding one.
func unsetPassword(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "")
	require.NoError(t, os.Unsetenv("COSIGN_PASSWORD"))
}

// writeCAChain writes the CA's certificate as a --certificate-chain file.
func writeCAChain(t *testing.T, ca *keylesstest.CA, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "chain.pem")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644))
	return p
}

// TestHardenKeyless: drydock harden signs with a certified key as a CI job
// would; the signature and the provenance attestation both carry the
// certificate, so drydock verify --attestations, drydock run and cosign
// verify / verify-attestation accept the image with the keyless trust flags
// alone, and drydock refuses another identity.
func TestHardenKeyless(t *testing.T) {
	w := setup(t)
	unsetPassword(t) // the certified key is unencrypted: no password is asked for
	ca := keylesstest.NewCA(t, "drydock harden keyless")
	root := ca.TrustedRoot(t)
	leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	chain := writeCAChain(t, ca, t.TempDir())
	tag := w.repo("keyless-harden/echo") + ":1"

	start := time.Now()
	res, r := hardenJSON(t, w, w.fx.UpstreamTag, "--to", tag, "--strategy", string(build.StrategyRebase), "--buildkit-addr", noBuildKit,
		"--base", w.fx.HardenedBase, "--key", leaf.KeyPath, "--certificate", leaf.CertPath, "--certificate-chain", chain)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.True(t, res.Signed)
	d, err := crane.Digest(tag)
	require.NoError(t, err)
	require.Equal(t, res.Digest, d, "the tag names the signed digest")
	t.Logf("harden with a certificate: %.1fs", time.Since(start).Seconds())
	keyBytes, err := os.ReadFile(leaf.KeyPath)
	require.NoError(t, err)
	require.NotContains(t, r.stdout+r.stderr, string(keyBytes[30:60]), "the key never appears in output")

	trust := keylessTrust(root, keylesstest.Subject)
	up, err := crane.Digest(w.fx.UpstreamTag)
	require.NoError(t, err)
	r = drydock(t, nil, append([]string{"verify", tag, "--attestations", "--source-digest", up}, trust...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, res.Ref, r.lastLine())

	r = drydock(t, nil, append([]string{"verify", tag, "--attestations"}, keylessTrust(root, keylesstest.Subject+"-other")...)...)
	require.Equal(t, exitRefused, r.code, r.stderr)
	require.Contains(t, r.stderr, "not the required identity")

	// The real cosign CLI reads the certificate on both, offline.
	cosign := cosigntest.Binary(t)
	cosignEnv := []string{"TUF_ROOT=" + t.TempDir()} // never the public TUF repository
	c := cosigntest.Run(t, cosign, cosignEnv, append([]string{"verify", "--insecure-ignore-tlog", "--insecure-ignore-sct"}, append(trust, res.Ref)...)...)
	require.Equal(t, 0, c.Code, c.Stderr)
	// cosign verify-attestation takes --trusted-root only for its new
	// bundle format; the CA as --certificate-chain is its other offline way.
	c = cosigntest.Run(t, cosign, cosignEnv, "verify-attestation", "--type", "slsaprovenance1", "--insecure-ignore-tlog", "--insecure-ignore-sct",
		"--certificate-chain", chain, "--certificate-identity", keylesstest.Subject, "--certificate-oidc-issuer", keylesstest.Issuer, res.Ref)
	require.Equal(t, 0, c.Code, c.Stderr)
	require.Contains(t, c.Stdout, "payload", "cosign printed the verified attestation")
	c = cosigntest.Run(t, cosign, cosignEnv, "verify-attestation", "--type", "slsaprovenance1", "--insecure-ignore-tlog", "--insecure-ignore-sct",
		"--certificate-chain", chain, "--certificate-identity", keylesstest.Subject+"-other", "--certificate-oidc-issuer", keylesstest.Issuer, res.Ref)
	require.NotEqual(t, 0, c.Code, "cosign must refuse another identity")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.Command(drydockBin, append([]string{"run", tag}, trust...)...)
	var stderr strings.Builder
	cmd.Stderr = &syncWriter{w: &stderr}
	s, err := mcp.NewClient(&mcp.Implementation{Name: "harden-keyless", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "stderr: %s", stderrOf(cmd, &stderr))
	require.Equal(t, "harden keyless", callText(t, s, "echo", map[string]any{"text": "harden keyless"}))
	require.NoError(t, s.Close())
}

// TestSigningFlagErrors: harden refuses inconsistent signing flags before
// it builds or pushes anything, and never tags.
func TestSigningFlagErrors(t *testing.T) {
	reg := testenv.Registry(t)
	unsetPassword(t)
	const pw = "signing-flags-password"
	cosignKey, _, err := attest.GenerateKeyPair(t.TempDir(), []byte(pw))
	require.NoError(t, err)
	ca := keylesstest.NewCA(t, "drydock signing flags")
	leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	other := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o644))
	dst := fmt.Sprintf("%s/signing-flags-%d/x:1", reg, time.Now().UnixNano())
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"encrypted key, no password", nil, []string{"--key", cosignKey}, "no key password: set COSIGN_PASSWORD"},
		{"encrypted key, wrong password", []string{"COSIGN_PASSWORD=wrong-" + pw}, []string{"--key", cosignKey}, cosignKey},
		{"certificate without key", nil, []string{"--certificate", leaf.CertPath}, "--certificate needs --key"},
		{"chain without certificate", nil, []string{"--key", leaf.KeyPath, "--certificate-chain", leaf.CertPath}, "--certificate-chain needs --certificate"},
		{"certificate for another key", nil, []string{"--key", other.KeyPath, "--certificate", leaf.CertPath}, "not the key the certificate was issued for"},
		{"not a certificate", nil, []string{"--key", leaf.KeyPath, "--certificate", garbage}, "not a PEM certificate"},
		{"KMS key without -tags kms", nil, []string{"--key", "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}, "build it with `go build -tags kms ./cmd/drydock`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The source does not exist: a refusal about it would mean
			// the flags were checked too late.
			r := drydock(t, tt.env, append([]string{"harden", reg + "/signing-flags/none:0", "--to", dst, "--strategy", string(build.StrategyRebase), "--buildkit-addr", noBuildKit}, tt.args...)...)
			require.Equal(t, exitError, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, r.stdout)
			require.NotContains(t, r.stderr, pw, "the password never appears in output")
		})
	}
	_, err = crane.Digest(dst)
	require.Error(t, err, "nothing is tagged")
}

// TestMirrorKeyless: a catalog whose defaults sign with a certified key
// (paths relative to the catalog) mirrors every entry signed and attested
// with the certificate, and the results verify keylessly. Targets signed by
// the same key without the certificate are not taken as done; a rerun with
// the same or a freshly certified key (as each CI run has) skips them; a
// certificate for another key is refused before anything is built.
func TestMirrorKeyless(t *testing.T) {
	reg := testenv.Registry(t)
	unsetPassword(t) // the certified key is unencrypted: no password is asked for
	w := mirrorWorld(t, reg)
	const n = 2
	w.PushUpstreams(t, 0, n, "keyless")
	ca := keylesstest.NewCA(t, "drydock mirror keyless")
	root := ca.TrustedRoot(t)
	// certify puts a fresh certified key where the catalog names it.
	certify := func() {
		leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
		for src, dst := range map[string]string{leaf.KeyPath: "leaf.key", leaf.CertPath: "leaf.pem"} {
			b, err := os.ReadFile(src)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(w.Dir, dst), b, 0o600))
		}
	}
	certify()
	writeCAChain(t, ca, w.Dir)
	writeCatalog := func(d mirror.Defaults) {
		c := mirror.Catalog{APIVersion: policies.APIVersion, Kind: mirror.KindCatalog, Defaults: d}
		for i := range n {
			c.Servers = append(c.Servers, mirror.Server{Name: mirrortest.Name(i), Source: w.Source(reg, i)})
		}
		data, err := c.Encode()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(w.Catalog, data, 0o644))
	}
	prefix := w.MirrorPrefix(reg)
	mirrorJSON := func(t *testing.T) mirror.Report {
		t.Helper()
		start := time.Now()
		r := drydock(t, nil, "mirror", w.Catalog, "--to", prefix, "--jobs", "2", "--buildkit-addr", noBuildKit, "--output", "json")
		require.Equal(t, exitOK, r.code, r.stderr)
		var rep mirror.Report
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
		require.Len(t, rep.Entries, n)
		t.Logf("mirror of %d entries: %.1fs", n, time.Since(start).Seconds())
		return rep
	}
	verifyKeyless := func(t *testing.T, rep mirror.Report, want int) {
		t.Helper()
		for _, e := range rep.Entries {
			r := drydock(t, nil, append([]string{"verify", e.Target, "--attestations", "--source-digest", e.Upstream}, keylessTrust(root, keylesstest.Subject)...)...)
			require.Equal(t, want, r.code, "%s: %s", e.Name, r.stderr)
			if want == exitOK {
				require.True(t, strings.HasSuffix(r.lastLine(), e.Hardened), "%s verified %s, want %s", e.Name, r.lastLine(), e.Hardened)
			}
		}
	}

	keyOnly := mirror.Defaults{Policy: "policy.yaml", Bases: "bases.yaml", Strategy: build.StrategyRebase, Key: "leaf.key"}
	writeCatalog(keyOnly)
	rep := mirrorJSON(t)
	require.Equal(t, n, rep.Hardened)
	verifyKeyless(t, rep, exitRefused)

	defaults := keyOnly
	defaults.Certificate, defaults.CertificateChain = "leaf.pem", "chain.pem"
	writeCatalog(defaults)
	rep = mirrorJSON(t)
	require.Equal(t, n, rep.Hardened, "signed by the same key without the certificate is not done: %+v", rep.Entries)
	require.Contains(t, rep.Entries[0].Reason, "certificate")
	verifyKeyless(t, rep, exitOK)
	for _, e := range rep.Entries {
		r := drydock(t, nil, append([]string{"verify", e.Target}, keylessTrust(root, keylesstest.Subject+"-other")...)...)
		require.Equal(t, exitRefused, r.code, "%s: another identity must be refused: %s", e.Name, r.stderr)
	}

	require.Equal(t, n, mirrorJSON(t).Skipped, "the same certified key finds its work done")
	certify()
	require.Equal(t, n, mirrorJSON(t).Skipped, "a freshly certified key of the same identity finds its work done")

	other := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	defaults.Key = other.KeyPath
	writeCatalog(defaults)
	r := drydock(t, nil, "mirror", w.Catalog, "--to", prefix+"-other", "--buildkit-addr", noBuildKit)
	require.Equal(t, exitError, r.code, r.stderr)
	require.Contains(t, r.stderr, "not the key the certificate was issued for")
	require.Empty(t, r.stdout, "refused before any entry ran")
}
