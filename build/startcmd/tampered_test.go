package startcmd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// gzFile is a gzipped tar of one regular file.
func gzFile(t *testing.T, name, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}))
	_, err := tw.Write([]byte(data))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// swapped serves an image of one layer (real) from an in-process registry
// that, while *swap is true, answers the layer's digest with fake (same
// size, so only the digest can tell).
func swapped(t *testing.T, real, fake []byte, swap *bool) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(real)), nil })
	require.NoError(t, err)
	d, err := l.Digest()
	require.NoError(t, err)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *swap && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Header().Set("Content-Length", strconv.Itoa(len(fake)))
			w.Header().Set("Docker-Content-Digest", d.String())
			_, _ = w.Write(fake)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	img, err := mutate.AppendLayers(empty.Image, l)
	require.NoError(t, err)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/tampered:1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	got, err := remote.Image(ref)
	require.NoError(t, err)
	return got
}

// TestTamperedLayerRefused: bytes served under a layer's digest that are not
// that layer must not decide the start command. go-containerregistry checks
// the digest only when a blob is read to its end, and a tar reader stops
// before the gzip trailer: ImageFS must read on and refuse the layer, or
// Resolve would judge a package.json the engine never runs.
func TestTamperedLayerRefused(t *testing.T) {
	real := gzFile(t, "app/package.json", `{"scripts":{"start":"node real.js"}}`)
	var fake []byte
	for i := 1000; len(fake) != len(real); i++ {
		require.Less(t, i, 10000, "no same-size stand-in found")
		fake = gzFile(t, "app/package.json", `{"scripts":{"start":"node `+strconv.Itoa(i)+`.js"}}`)
	}
	swap := true
	img := swapped(t, real, fake, &swap)

	_, err := ImageFS(img)
	require.Error(t, err, "a layer served with other bytes than its digest must be refused")
	require.Contains(t, err.Error(), "error verifying sha256 checksum")

	swap = false
	fsys, err := ImageFS(img)
	require.NoError(t, err)
	b, err := fs.ReadFile(fsys, "app/package.json")
	require.NoError(t, err)
	require.Equal(t, `{"scripts":{"start":"node real.js"}}`, string(b))
}
