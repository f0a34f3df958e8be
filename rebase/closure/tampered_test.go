package closure_test

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

	"github.com/drydock-dev/drydock/rebase/closure"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
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
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data))}))
	_, err := tw.Write([]byte(data))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestFromImageRefusesTamperedLayer: the closure decides what is carried
// into the signed image, so bytes served under a layer's digest that are
// not the layer's are refused. mutate.Extract reports the digest error
// only after the merged tar's end blocks, where a tar reader stops.
func TestFromImageRefusesTamperedLayer(t *testing.T) {
	real := gzFile(t, "usr/bin/git", "#!/bin/sh real-1000")
	var fake []byte
	for i := 1001; len(fake) != len(real); i++ {
		require.Less(t, i, 10000, "no same-size stand-in found")
		fake = gzFile(t, "usr/bin/git", "#!/bin/sh evil-"+strconv.Itoa(i))
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

	_, err = closure.FromImage(got)
	require.Error(t, err, "a layer served with other bytes than its digest must be refused")
	require.Contains(t, err.Error(), "error verifying sha256 checksum")

	swap = false
	f, err := closure.FromImage(got)
	require.NoError(t, err)
	defer f.Close()
	b, err := fs.ReadFile(f, "usr/bin/git")
	require.NoError(t, err)
	require.Equal(t, "#!/bin/sh real-1000", string(b))
}
