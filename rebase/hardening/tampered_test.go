package hardening_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// gzTar is a gzipped tar of one regular file with the given mode.
func gzTar(t *testing.T, name string, mode int64, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}))
	_, err := tw.Write([]byte(data))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestTamperedLayerRefused: a registry (or anything between it and drydock)
// that serves other bytes under a layer's digest must not get them read as
// that layer. go-containerregistry checks the digest only when a blob is read
// to its end, and a tar reader stops at the end-of-archive blocks, before the
// gzip trailer; without reading the rest, the hardening pass would judge (and
// copy into the hardening layer) bytes that are not the image's, while the
// engine later runs the real layer: here a setuid file hidden from the pass.
func TestTamperedLayerRefused(t *testing.T) {
	real := gzTar(t, "bin/su", 0o4755, "real-su")
	// Other bytes of the same size (a size mismatch is caught up front by
	// Content-Length), so only the digest can tell.
	var fake []byte
	for pad := ""; len(fake) != len(real); pad += "x" {
		require.Less(t, len(pad), 64, "no same-size stand-in found")
		fake = gzTar(t, "bin/su", 0o755, "fake"+pad)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(real)), nil })
	require.NoError(t, err)
	d, err := l.Digest()
	require.NoError(t, err)

	reg := registry.New()
	swap := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if swap && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Header().Set("Content-Length", strconv.Itoa(len(fake)))
			w.Header().Set("Docker-Content-Digest", d.String())
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
	ls, err := got.Layers()
	require.NoError(t, err)

	_, err = hardening.Harden(ls, hardening.DefaultOptions())
	require.Error(t, err, "a layer served with other bytes than its digest must be refused, not hardened")
	require.Contains(t, err.Error(), "layer 0")
	require.Contains(t, err.Error(), "error verifying sha256 checksum")

	// The same image served honestly is hardened: the setuid bit is seen.
	swap = false
	res, err := hardening.Harden(ls, hardening.DefaultOptions())
	require.NoError(t, err)
	require.Equal(t, []string{"/bin/su"}, res.Report.SetuidCleared)
}
