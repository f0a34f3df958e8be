package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
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

func gzCA(t *testing.T, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Size: int64(len(data))}))
	_, err := tw.Write([]byte(data))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestUpstreamCARefusesTamperedLayer: the upstream's CA bundle goes into the
// generated base, which is signed, so bytes served under a layer's digest
// that are not the layer's are refused: mutate.Extract reports the digest
// error only after the merged tar's end blocks, where a tar reader stops.
func TestUpstreamCARefusesTamperedLayer(t *testing.T) {
	real := gzCA(t, "-----BEGIN CERTIFICATE----- real 1000")
	var fake []byte
	for i := 1001; len(fake) != len(real); i++ {
		require.Less(t, i, 10000, "no same-size stand-in found")
		fake = gzCA(t, "-----BEGIN CERTIFICATE----- evil "+strconv.Itoa(i))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(real)), nil })
	require.NoError(t, err)
	d, err := l.Digest()
	require.NoError(t, err)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	swap := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if swap && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Header().Set("Content-Length", strconv.Itoa(len(fake)))
			_, _ = w.Write(fake)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	img, err := mutate.AppendLayers(empty.Image, l)
	require.NoError(t, err)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/tampered:1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	got, err := remote.Image(ref)
	require.NoError(t, err)
	up := &image{img: got, config: &v1.ConfigFile{}}

	_, err = upstreamCA(up)
	require.Error(t, err, "a layer served with other bytes than its digest must be refused")
	require.Contains(t, err.Error(), "error verifying sha256 checksum")

	swap = false
	ca, err := upstreamCA(up)
	require.NoError(t, err)
	require.Equal(t, "-----BEGIN CERTIFICATE----- real 1000", string(ca))
}
