package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestEgressImage drives `drydock egress-image` as a release pipeline does:
// the signed digest and a floor snippet that a floor file accepts as is.
func TestEgressImage(t *testing.T) {
	reg := testenv.Registry(t)
	env := []string{"COSIGN_PASSWORD=" + testPassword}
	keys := t.TempDir()
	r := drydock(t, env, "keygen", "--out-dir", keys)
	require.Equal(t, 0, r.code, r.stderr)
	repo := fmt.Sprintf("%s/e2e-gateway-%d/gateway", reg, time.Now().UnixNano())

	r = drydock(t, env, "egress-image", repo+":v1", "--key", filepath.Join(keys, "cosign.key"))
	require.Equal(t, 0, r.code, r.stderr)
	first, snippet, ok := strings.Cut(r.stdout, "\n")
	require.True(t, ok, r.stdout)
	require.True(t, strings.HasPrefix(first, repo+"@sha256:"), first)

	floor, err := policies.ParseFloor([]byte("apiVersion: drydock.dev/v1\nkind: Floor\n"+snippet), "snippet", "/home/dev")
	require.NoError(t, err, "the printed snippet is a valid floor:\n%s", snippet)
	require.Equal(t, first, floor.Egress.Image)
	pub, err := os.ReadFile(filepath.Join(keys, "cosign.pub"))
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(pub)), strings.TrimSpace(floor.Egress.Key))

	d, err := name.NewDigest(first)
	require.NoError(t, err)
	v, err := attest.LoadVerifier(filepath.Join(keys, "cosign.pub"))
	require.NoError(t, err)
	_, err = attest.Verify(context.Background(), d, v)
	require.NoError(t, err, "the digest is signed with --key")
	desc, err := remote.Head(mustTag(t, repo+":v1"))
	require.NoError(t, err)
	require.Equal(t, d.DigestStr(), desc.Digest.String(), "the tag names the signed digest")
	img, err := remote.Image(d)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, []string{"/drydock"}, cfg.Config.Entrypoint)
	require.Equal(t, "65532:65532", cfg.Config.User)

	// A binary that cannot be the gateway is refused before anything is pushed.
	r = drydock(t, env, "egress-image", repo+":v2", "--key", filepath.Join(keys, "cosign.key"), "--binary", "testdata/bad-policy.yaml")
	require.Equal(t, exitError, r.code, r.stderr)
	require.Contains(t, r.stderr, "not a static Linux binary")
	_, err = remote.Head(mustTag(t, repo+":v2"))
	require.Error(t, err, "nothing tagged")
}
