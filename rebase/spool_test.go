package rebase

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
	"sync/atomic"
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

// gzFile is a gzipped tar of one file.
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

// countedLayer counts openings of its compressed stream.
type countedLayer struct {
	v1.Layer
	opened *atomic.Int32
}

func (c countedLayer) Compressed() (io.ReadCloser, error) {
	c.opened.Add(1)
	return c.Layer.Compressed()
}

func readAll(t *testing.T, l v1.Layer, n int) ([]byte, error) {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	var b []byte
	if n < 0 {
		b, err = io.ReadAll(rc)
	} else {
		b = make([]byte, n)
		_, err = io.ReadFull(rc, b)
	}
	require.NoError(t, rc.Close())
	return b, err
}

// TestSpool: a layer read to its end is inflated once for every later
// reader, with the same bytes; one read partly, or past the bound, is
// inflated again by the next reader.
func TestSpool(t *testing.T) {
	blob := gzFile(t, "app/server.js", strings.Repeat("console.log('hi')\n", 100))
	for _, tc := range []struct {
		name       string
		maxBytes   int64
		firstRead  int // bytes the first reader reads; -1: to the end
		wantOpened int32
	}{
		{name: "read to the end", maxBytes: 1 << 20, firstRead: -1, wantOpened: 1},
		{name: "closed early", maxBytes: 1 << 20, firstRead: 100, wantOpened: 2},
		{name: "past the bound", maxBytes: 1024, firstRead: -1, wantOpened: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
			require.NoError(t, err)
			var opened atomic.Int32
			s, err := NewSpool(tc.maxBytes)
			require.NoError(t, err)
			defer s.Close()
			img, err := mutate.AppendLayers(empty.Image, countedLayer{Layer: l, opened: &opened})
			require.NoError(t, err)
			ls, err := s.Image(img).Layers()
			require.NoError(t, err)
			want, err := readAll(t, l, -1)
			require.NoError(t, err)

			first, err := readAll(t, ls[0], tc.firstRead)
			require.NoError(t, err)
			second, err := readAll(t, ls[0], -1)
			require.NoError(t, err)
			require.Equal(t, want[:len(first)], first)
			require.Equal(t, want, second)
			require.Equal(t, tc.wantOpened, opened.Load(), "openings of the compressed layer")
		})
	}
}

// TestSpoolRefusesTamperedLayer: bytes served under a layer's digest that
// are not the layer's fail the read at its end and are never kept for the
// next reader.
func TestSpoolRefusesTamperedLayer(t *testing.T) {
	real := gzFile(t, "app/server.js", "console.log('v1000')")
	var fake []byte
	for i := 1001; len(fake) != len(real); i++ {
		require.Less(t, i, 10000, "no same-size stand-in found")
		fake = gzFile(t, "app/server.js", "console.log('v"+strconv.Itoa(i)+"')")
	}
	swap := true
	got := tampered(t, real, fake, &swap)

	s, err := NewSpool(1 << 20)
	require.NoError(t, err)
	defer s.Close()
	ls, err := s.Image(got).Layers()
	require.NoError(t, err)
	for i := range 2 {
		_, err = readAll(t, ls[0], -1)
		require.Error(t, err, "read %d: a layer served with other bytes than its digest must fail", i+1)
		require.Contains(t, err.Error(), "error verifying sha256 checksum")
	}
	swap = false
	b, err := readAll(t, ls[0], -1)
	require.NoError(t, err)
	require.Contains(t, string(b), "console.log('v1000')")
}

// TestSpoolGivesBackDroppedBytes: what a stream closed early had reserved
// is given back, so a layer that fits the bound exactly is kept by the
// next reader that reads it to its end.
func TestSpoolGivesBackDroppedBytes(t *testing.T) {
	blob := gzFile(t, "app/server.js", strings.Repeat("console.log('hi')\n", 100))
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
	require.NoError(t, err)
	want, err := readAll(t, l, -1)
	require.NoError(t, err)
	var opened atomic.Int32
	s, err := NewSpool(int64(len(want)))
	require.NoError(t, err)
	defer s.Close()
	sl := s.Layers([]v1.Layer{countedLayer{Layer: l, opened: &opened}})[0]
	_, err = readAll(t, sl, 1000) // closed early: dropped
	require.NoError(t, err)
	for range 2 {
		got, err := readAll(t, sl, -1)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	require.Equal(t, int32(2), opened.Load(), "openings: the partial read and the one that was kept")
}

// tampered is an image of one layer (real) read from an in-process
// registry that, while *swap is set, serves fake (same size, so only the
// digest can tell) under the layer's digest.
func tampered(t *testing.T, real, fake []byte, swap *bool) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(real)), nil })
	require.NoError(t, err)
	d, err := l.Digest()
	require.NoError(t, err)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *swap && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Header().Set("Content-Length", strconv.Itoa(len(fake)))
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

// sameSize returns a gzipped one-file tar of name, its content data with
// a number appended, as long as want.
func sameSize(t *testing.T, want []byte, name, data string) []byte {
	t.Helper()
	for i := 1000; i < 10000; i++ {
		if b := gzFile(t, name, data+strconv.Itoa(i)); len(b) == len(want) {
			return b
		}
	}
	t.Fatal("no same-size stand-in found")
	return nil
}
