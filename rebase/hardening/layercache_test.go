package hardening_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// TestLayerCache: a pass replayed from the layer cache writes the same
// hardening layer and report as one that read the layers, for every image
// of the hostile corpus; a damaged cache file is read past, not trusted.
func TestLayerCache(t *testing.T) {
	imgs := corpus(t)
	for _, name := range []string{fixtures.HostileName, fixtures.HostileManyFilesName} {
		t.Run(name, func(t *testing.T) {
			ls := layers(t, imgs[name])
			plain, err := hardening.Harden(ls, hardening.DefaultOptions())
			require.NoError(t, err)
			want, err := plain.Layer.Digest()
			require.NoError(t, err)

			o := hardening.DefaultOptions()
			o.LayerCache = t.TempDir()
			for _, run := range []string{"cold", "warm"} {
				res, err := hardening.Harden(ls, o)
				require.NoError(t, err, run)
				got, err := res.Layer.Digest()
				require.NoError(t, err)
				require.Equal(t, want, got, "%s run: hardening layer differs from an uncached pass", run)
				require.Equal(t, plain.Report, res.Report, run)
			}
			files, err := filepath.Glob(filepath.Join(o.LayerCache, "*.gob"))
			require.NoError(t, err)
			require.NotEmpty(t, files, "the cold run records the layers it read")

			for _, f := range files {
				require.NoError(t, os.WriteFile(f, []byte("not gob"), 0o600))
			}
			res, err := hardening.Harden(ls, o)
			require.NoError(t, err, "a damaged cache is a miss")
			got, err := res.Layer.Digest()
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

// TestLayerCacheNeverPartial: a layer whose kept content exceeds what the
// cache records (a 65 MiB setuid file, after a plain file that was already
// recorded) is not cached at all, so a second pass over it still fixes the
// setuid files at and after the big one.
func TestLayerCacheNeverPartial(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	big := make([]byte, 65<<20)
	for _, f := range []struct {
		name string
		data []byte
	}{{"opt/a-plain", []byte("before\n")}, {"opt/big-suid", big}, {"opt/small-suid", []byte("#!/bin/true\n")}} {
		mode := int64(0o4755)
		if f.name == "opt/a-plain" {
			mode = 0o644
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: mode, Size: int64(len(f.data))}))
		_, err := tw.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	require.NoError(t, err)

	o := hardening.DefaultOptions()
	o.LayerCache = t.TempDir()
	for _, run := range []string{"first", "second"} {
		res, err := hardening.Harden([]v1.Layer{l}, o)
		require.NoError(t, err, run)
		require.Equal(t, []string{"/opt/big-suid", "/opt/small-suid"}, res.Report.SetuidCleared, "%s pass", run)
	}
	files, err := filepath.Glob(filepath.Join(o.LayerCache, "*"))
	require.NoError(t, err)
	require.Empty(t, files, "a layer over the cache's content bound must not be recorded")
}
