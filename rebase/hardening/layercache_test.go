package hardening_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/drydock-dev/drydock/testdata/fixtures"
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
