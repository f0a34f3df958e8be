package attest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

const keyPassword = "tamper-test-password"

// realWorld is a unique repository prefix in the real registry plus a key
// pair in cosign's file format.
type realWorld struct {
	reg        string
	prefix     string
	keyPath    string
	pubPath    string
	key, other signature.SignerVerifier
	pub        signature.Verifier
}

func newRealWorld(t *testing.T) *realWorld {
	t.Helper()
	reg := testenv.Registry(t)
	w := &realWorld{reg: reg, prefix: fmt.Sprintf("attest-%d", time.Now().UnixNano())}
	var err error
	w.keyPath, w.pubPath, err = attest.GenerateKeyPair(filepath.Join(t.TempDir(), "keys"), []byte(keyPassword))
	require.NoError(t, err)
	w.key, err = attest.LoadSigner(w.keyPath, []byte(keyPassword))
	require.NoError(t, err)
	w.pub, err = attest.LoadVerifier(w.pubPath)
	require.NoError(t, err)
	w.other = newKey(t)
	return w
}

func (w *realWorld) repo(t *testing.T, n string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(w.reg + "/" + w.prefix + "/" + n)
	require.NoError(t, err)
	return r
}

// image pushes a fresh random image with a policy-like label to repo:tag.
func (w *realWorld) image(t *testing.T, repo name.Repository, tag, label string) name.Digest {
	t.Helper()
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	img = withLabel(t, img, label)
	return push(t, repo.Tag(tag), img)
}

func withLabel(t *testing.T, img v1.Image, label string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cfg := cf.Config.DeepCopy()
	cfg.Labels = map[string]string{"dev.drydock.policy": label}
	out, err := mutate.Config(img, *cfg)
	require.NoError(t, err)
	return out
}

// index pushes an OCI index with one linux/<arch> child and returns the
// index and child digests.
func (w *realWorld) index(t *testing.T, repo name.Repository, tag string) (idx, child name.Digest) {
	t.Helper()
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	plat := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	ii := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	require.NoError(t, remote.WriteIndex(repo.Tag(tag), ii))
	h, err := ii.Digest()
	require.NoError(t, err)
	ch, err := img.Digest()
	require.NoError(t, err)
	return repo.Digest(h.String()), repo.Digest(ch.String())
}

// swappingProxy fronts the registry and answers GETs of want's manifest
// with the manifest of serve, as a compromised registry or mirror would.
func swappingProxy(t *testing.T, reg string, want, serve name.Digest) string {
	t.Helper()
	target, err := url.Parse("http://" + reg)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/manifests/"+want.DigestStr()) {
			r.URL.Path = strings.TrimSuffix(r.URL.Path, want.DigestStr()) + serve.DigestStr()
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// resolveAndVerify is exactly what launch.Verify does with the image
// reference: resolve once, verify that digest.
func resolveAndVerify(t *testing.T, ref name.Reference, v signature.Verifier, opts ...attest.Option) (*attest.Result, error) {
	t.Helper()
	d, err := attest.Resolve(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	return attest.Verify(ctx, d, v, opts...)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
