package reproduce

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
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
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

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

func pushLayer(t *testing.T, host, repo string, blob []byte) (name.Digest, v1.Hash) {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
	require.NoError(t, err)
	img, err := mutate.AppendLayers(empty.Image, l)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref, err := name.NewDigest(host + "/" + repo + "@" + d.String())
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	ld, err := l.Digest()
	require.NoError(t, err)
	return ref, ld
}

// TestTamperedLayerRefused: a registry that serves the published layer's
// bytes under the rebuild's layer digest must not make Compare report "same
// files": go-containerregistry checks a digest only when a blob is read to
// its end, and the tar walk stops before the gzip trailer.
func TestTamperedLayerRefused(t *testing.T) {
	published := gzFile(t, "app/server.js", "console.log('v1000')")
	var rebuilt []byte
	for i := 1001; len(rebuilt) != len(published); i++ {
		require.Less(t, i, 10000, "no same-size rebuild found")
		rebuilt = gzFile(t, "app/server.js", "console.log('v"+strconv.Itoa(i)+"')")
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var swapDigest string
	var served []byte
	swap := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if swap && swapDigest != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+swapDigest) {
			w.Header().Set("Content-Length", strconv.Itoa(len(served)))
			w.Header().Set("Docker-Content-Digest", swapDigest)
			_, _ = w.Write(served)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	a, la := pushLayer(t, host, "published", published)
	b, lb := pushLayer(t, host, "rebuilt", rebuilt)

	// The rebuild's digest answered with the published bytes (same files:
	// "same compression" would hide the difference), then the published
	// digest answered with the rebuild's (a difference named from bytes
	// that are not the published layer's).
	for _, swapped := range []v1.Hash{lb, la} {
		swapDigest = swapped.String()
		fake := published
		if swapped == la {
			fake = rebuilt
		}
		served = fake
		got, err := Compare(context.Background(), a, b)
		require.Error(t, err, "Compare() = %q; a layer served with other bytes than its digest must be refused", got)
		require.Contains(t, err.Error(), "error verifying sha256 checksum")
	}

	swap = false
	got, err := Compare(context.Background(), a, b)
	require.NoError(t, err)
	require.Equal(t, "layer 0 ("+la.String()+" published, "+lb.String()+" rebuilt): first differing path /app/server.js (content)", got)
}

// unreadable is a layer whose tar stream cannot be opened.
type unreadable struct{ v1.Layer }

func (unreadable) Uncompressed() (io.ReadCloser, error) { return nil, errors.New("blob unknown") }

// TestCompareUnreadableLayers: a layer that cannot be opened or is not a
// tar is an error, never a verdict.
func TestCompareUnreadableLayers(t *testing.T) {
	good := static.NewLayer(plainTar(t, "app/server.js", "a"), types.OCIUncompressedLayer)
	other := static.NewLayer(plainTar(t, "app/server.js", "b"), types.OCIUncompressedLayer)
	garbage := static.NewLayer(bytes.Repeat([]byte("not a tar "), 100), types.OCIUncompressedLayer)
	for _, tc := range []struct {
		name               string
		published, rebuilt v1.Layer
		want               string
	}{
		{"published unreadable", unreadable{good}, other, "blob unknown"},
		{"rebuilt unreadable", good, unreadable{other}, "blob unknown"},
		{"published not a tar", garbage, other, "comparing layer 0"},
		{"rebuilt not a tar", good, garbage, "comparing layer 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := mutate.AppendLayers(empty.Image, tc.published)
			require.NoError(t, err)
			b, err := mutate.AppendLayers(empty.Image, tc.rebuilt)
			require.NoError(t, err)
			got, err := CompareImages(a, b)
			require.Error(t, err, "CompareImages() = %q", got)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func plainTar(t *testing.T, name, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}))
	_, err := tw.Write([]byte(data))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return buf.Bytes()
}
