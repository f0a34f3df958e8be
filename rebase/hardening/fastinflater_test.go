package hardening_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// twoFaced is a gzip layer whose Uncompressed is not its Compressed
// inflated: which one the pass read shows in its report.
type twoFaced struct {
	v1.Layer            // Compressed: a setuid /bin/compressed
	uncompressed []byte // a setuid /bin/uncompressed
}

func (l twoFaced) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}

type fastTwoFaced struct{ twoFaced }

func (fastTwoFaced) InflatesFast() {}

func plainTar(t *testing.T, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o4755, Size: 2}))
	_, err := tw.Write([]byte("su"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// TestFastInflaterReadThroughUncompressed: the pass inflates a gzip layer
// itself, except a FastInflater (rebase's spool), which it reads through
// Uncompressed.
func TestFastInflaterReadThroughUncompressed(t *testing.T) {
	gz := gzTar(t, "bin/compressed", 0o4755, "su")
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil })
	require.NoError(t, err)
	plain := twoFaced{Layer: l, uncompressed: plainTar(t, "bin/uncompressed")}
	for _, tc := range []struct {
		name  string
		layer v1.Layer
		want  []string
	}{
		{name: "gzip layer", layer: plain, want: []string{"/bin/compressed"}},
		{name: "fast inflater", layer: fastTwoFaced{plain}, want: []string{"/bin/uncompressed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := hardening.Harden([]v1.Layer{tc.layer}, hardening.DefaultOptions())
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Report.SetuidCleared)
		})
	}
}

// closeCounter counts Close calls on a compressed stream.
type closeCounter struct {
	io.Reader
	closed *int
}

func (c closeCounter) Close() error { *c.closed++; return nil }

// gzipTyped claims a gzip media type; its Compressed is the given bytes
// (nil: it fails).
type gzipTyped struct {
	v1.Layer
	compressed []byte
	closed     *int
}

func (l gzipTyped) Compressed() (io.ReadCloser, error) {
	if l.compressed == nil {
		return nil, errors.New("blob unknown")
	}
	return closeCounter{Reader: bytes.NewReader(l.compressed), closed: l.closed}, nil
}

// TestLayerStreams: an uncompressed layer is read as it is, a gzip one is
// inflated by the pass; a compressed stream that cannot be opened, or is
// not gzip, refuses the image (and is closed).
func TestLayerStreams(t *testing.T) {
	tarBytes := plainTar(t, "bin/plain")
	for _, tc := range []struct {
		name       string
		layer      func(closed *int) v1.Layer
		want       []string
		wantErr    string
		wantClosed int
	}{
		{name: "uncompressed layer", layer: func(*int) v1.Layer { return static.NewLayer(tarBytes, types.OCIUncompressedLayer) },
			want: []string{"/bin/plain"}},
		{name: "compressed stream fails", layer: func(c *int) v1.Layer {
			return gzipTyped{Layer: static.NewLayer(tarBytes, types.OCILayer), closed: c}
		}, wantErr: "blob unknown"},
		{name: "not gzip", layer: func(c *int) v1.Layer {
			return gzipTyped{Layer: static.NewLayer(tarBytes, types.OCILayer), compressed: tarBytes, closed: c}
		}, wantErr: "opening gzip stream", wantClosed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := 0
			res, err := hardening.Harden([]v1.Layer{tc.layer(&closed)}, hardening.DefaultOptions())
			if tc.wantErr != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.wantErr)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.want, res.Report.SetuidCleared)
			}
			require.Equal(t, tc.wantClosed, closed, "closes of the compressed stream")
		})
	}
}
