package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest/cosigntest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// pushLabelled pushes a random image carrying the default policy label to
// repo:v1 and returns repo@digest.
func pushLabelled(t *testing.T, repo string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	label, err := policies.Default().Encode()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cfg := cf.Config
	cfg.Labels = map[string]string{policies.LabelKey: label}
	img, err = mutate.Config(img, cfg)
	require.NoError(t, err)
	tag, err := name.NewTag(repo + ":v1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img))
	h, err := img.Digest()
	require.NoError(t, err)
	return tag.Context().Digest(h.String()).String()
}

// TestSignVerifyCLI drives drydock sign/verify and the real cosign CLI
// against the real registry, both ways.
func TestSignVerifyCLI(t *testing.T) {
	reg := testenv.Registry(t)
	cosign := cosigntest.Binary(t)
	const pw = "sign-e2e-secret-password"
	env := []string{"COSIGN_PASSWORD=" + pw}
	keys := t.TempDir()
	r := drydock(t, env, "keygen", "--out-dir", keys)
	require.Equal(t, 0, r.code, r.stderr)
	key, pub := filepath.Join(keys, "cosign.key"), filepath.Join(keys, "cosign.pub")
	prefix := fmt.Sprintf("%s/sign-e2e-%d", reg, time.Now().UnixNano())

	t.Run("drydock sign --attest, drydock verify --attestations and cosign verify", func(t *testing.T) {
		d := pushLabelled(t, prefix+"/attested")
		r := drydock(t, env, "sign", prefix+"/attested:v1", "--key", key, "--attest")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, d, r.lastLine())

		r = drydock(t, nil, "verify", prefix+"/attested:v1", "--key", pub, "--attestations")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, d, r.lastLine())

		r = drydock(t, nil, "verify", prefix+"/attested:v1", "--key", pub, "--source-digest", "sha256:"+strings.Repeat("0", 64))
		require.Equal(t, 1, r.code, r.stderr)
		require.Contains(t, r.stderr, `(check "provenance")`)

		c := cosigntest.Run(t, cosign, nil, "verify", "--key", pub, "--insecure-ignore-tlog", d)
		require.Equal(t, 0, c.Code, c.Stderr)
		c = cosigntest.Run(t, cosign, nil, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", "slsaprovenance1", d)
		require.Equal(t, 0, c.Code, c.Stderr)
		c = cosigntest.Run(t, cosign, nil, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", "spdxjson", d)
		require.Equal(t, 0, c.Code, "sign --attest attaches an SPDX SBOM by default: %s", c.Stderr)
	})
	t.Run("drydock sign --attest --sbom-format cyclonedx, cosign verify-attestation --type cyclonedx", func(t *testing.T) {
		d := pushLabelled(t, prefix+"/attested-cdx")
		r := drydock(t, env, "sign", prefix+"/attested-cdx:v1", "--key", key, "--attest", "--sbom-format", "cyclonedx")
		require.Equal(t, 0, r.code, r.stderr)

		c := cosigntest.Run(t, cosign, nil, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", "cyclonedx", d)
		require.Equal(t, 0, c.Code, c.Stderr)
		c = cosigntest.Run(t, cosign, nil, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", "spdxjson", d)
		require.NotEqual(t, 0, c.Code, "a CycloneDX SBOM must not pass as SPDX")

		r = drydock(t, env, "sign", prefix+"/attested-cdx:v1", "--key", key, "--attest", "--sbom-format", "spdx-tag-value")
		require.Equal(t, 2, r.code, r.stderr)
		require.Contains(t, r.stderr, `--sbom-format: SBOM format "spdx-tag-value": use one of spdx, cyclonedx`)
	})
	t.Run("cosign sign, drydock verify", func(t *testing.T) {
		d := pushLabelled(t, prefix+"/cosigned")
		c := cosigntest.Run(t, cosign, env, "sign", "--key", key, "--tlog-upload=false", "--yes", d)
		require.Equal(t, 0, c.Code, c.Stderr)

		r := drydock(t, nil, "verify", prefix+"/cosigned:v1", "--key", pub)

		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, d, r.lastLine())
	})
	t.Run("unsigned is refused with exit 1", func(t *testing.T) {
		pushLabelled(t, prefix+"/unsigned")

		r := drydock(t, nil, "verify", prefix+"/unsigned:v1", "--key", pub)

		require.Equal(t, 1, r.code)
		require.Contains(t, r.stderr, `no signature found (check "signature")`)
	})
	t.Run("wrong password names the file, never the password", func(t *testing.T) {
		pushLabelled(t, prefix+"/badpw")
		r := drydock(t, []string{"COSIGN_PASSWORD=wrong-" + pw}, "sign", prefix+"/badpw:v1", "--key", key)
		require.Equal(t, 2, r.code)
		require.Contains(t, r.stderr, key)
		require.NotContains(t, r.stderr+r.stdout, pw)
	})
}

// TestHardenAttestsProvenance: harden --key attaches provenance that
// verify --attestations accepts, pinned to the real upstream digest.
func TestHardenAttestsProvenance(t *testing.T) {
	w := setup(t)
	upstream, err := name.NewDigest(w.fx.Upstream)
	require.NoError(t, err)

	r := drydock(t, nil, "verify", w.hardenedTag, "--key", w.pub, "--attestations", "--source-digest", upstream.DigestStr())
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, w.hardened, r.lastLine())

	r = drydock(t, nil, "verify", w.hardenedTag, "--key", w.pub, "--source-digest", "sha256:"+strings.Repeat("1", 64))
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, `(check "provenance")`)

	// harden --key also attached an SPDX SBOM of the hardened image, which
	// the real cosign CLI accepts.
	c := cosigntest.Run(t, cosigntest.Binary(t), nil, "verify-attestation", "--key", w.pub, "--insecure-ignore-tlog", "--type", "spdxjson", w.hardened)
	require.Equal(t, 0, c.Code, c.Stderr)
}
