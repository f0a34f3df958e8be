package attest_test

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/stretchr/testify/require"
)

func TestGenerateKeyPairRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	password := []byte("correct horse battery staple")
	privPath, pubPath, err := attest.GenerateKeyPair(dir, password)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "cosign.key"), privPath)
	require.Equal(t, filepath.Join(dir, "cosign.pub"), pubPath)

	fi, err := os.Stat(privPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "cosign.key mode")
	b, err := os.ReadFile(privPath)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	require.Equal(t, "ENCRYPTED SIGSTORE PRIVATE KEY", block.Type)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary files left behind")

	sv, err := attest.LoadSigner(privPath, password)
	require.NoError(t, err)
	v, err := attest.LoadVerifier(pubPath)
	require.NoError(t, err)
	msg := []byte("hello")
	sig := signMessage(t, sv, msg)
	require.NoError(t, v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(msg)))

	// The files work end to end against a registry.
	f := newFixture(t)
	require.NoError(t, attest.Sign(ctx, f.a, sv))
	res, err := attest.Verify(ctx, f.a, v)
	require.NoError(t, err)
	require.Equal(t, 1, res.Verified)
}

func TestGenerateKeyPairRefusesOverwrite(t *testing.T) {
	for _, existing := range []string{"cosign.key", "cosign.pub"} {
		t.Run(existing, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, existing)
			require.NoError(t, os.WriteFile(path, []byte("keep me"), 0o600))

			_, _, err := attest.GenerateKeyPair(dir, []byte("pw"))
			require.Error(t, err)
			require.ErrorContains(t, err, path)
			require.ErrorContains(t, err, "remove it or pick another dir")

			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, "keep me", string(got), "existing file untouched")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "nothing else written")
		})
	}
}

func TestLoadSignerErrors(t *testing.T) {
	dir := t.TempDir()
	password := []byte("s3cret-password")
	privPath, pubPath, err := attest.GenerateKeyPair(dir, password)
	require.NoError(t, err)

	tests := []struct {
		name     string
		path     string
		password []byte
		want     []string
	}{
		{"wrong password", privPath, []byte("wrong-guess"), []string{privPath, "password (COSIGN_PASSWORD) is wrong"}},
		{"empty password", privPath, nil, []string{privPath, "COSIGN_PASSWORD"}},
		{"public key given", pubPath, password, []string{pubPath, "not an encrypted cosign private key"}},
		{"missing file", filepath.Join(dir, "nope.key"), password, []string{"nope.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attest.LoadSigner(tt.path, tt.password)
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), string(password))
			if len(tt.password) > 0 {
				require.NotContains(t, err.Error(), string(tt.password))
			}
		})
	}
}

func TestLoadVerifierErrors(t *testing.T) {
	dir := t.TempDir()
	privPath, _, err := attest.GenerateKeyPair(dir, []byte("pw"))
	require.NoError(t, err)
	_, err = attest.LoadVerifier(privPath)
	require.ErrorContains(t, err, "not a PEM public key")
	require.ErrorContains(t, err, privPath)
}
