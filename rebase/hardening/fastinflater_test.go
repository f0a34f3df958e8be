package hardening_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
