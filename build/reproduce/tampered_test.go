package reproduce

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
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
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
	swap := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if swap && swapDigest != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+swapDigest) {
			w.Header().Set("Content-Length", strconv.Itoa(len(published)))
			w.Header().Set("Docker-Content-Digest", swapDigest)
			_, _ = w.Write(published)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	a, la := pushLayer(t, host, "published", published)
	b, lb := pushLayer(t, host, "rebuilt", rebuilt)
	swapDigest = lb.String()

	got, err := Compare(context.Background(), a, b)
	require.Error(t, err, "Compare() = %q; a layer served with other bytes than its digest must be refused", got)
	require.Contains(t, err.Error(), "error verifying sha256 checksum")

	swap = false
	got, err = Compare(context.Background(), a, b)
	require.NoError(t, err)
	require.Equal(t, "layer 0 ("+la.String()+" published, "+lb.String()+" rebuilt): first differing path /app/server.js (content)", got)
}
