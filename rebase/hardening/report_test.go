package hardening_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// tarLayer is one layer holding n regular files /many/fNNNNN with mode.
func tarLayer(t *testing.T, n int, mode int64) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "many/", Mode: 0o755}))
	for i := range n {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("many/f%05d", i), Mode: mode}))
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	require.NoError(t, err)
	return l
}

// TestReportBounded: a report's lists stop at MaxReportPaths while the
// counts (and the layer) cover every path, so a huge image cannot produce a
// huge report.
func TestReportBounded(t *testing.T) {
	limit := hardening.MaxReportPaths
	tests := []struct {
		name      string
		files     int
		mode      int64
		wantWorld int // exact count of world-writable fixes
		wantSuid  int // exact count of setuid clears
		truncated bool
	}{
		{name: "under the bound", files: limit - 1, mode: 0o666, wantWorld: limit - 1},
		{name: "at the bound", files: limit, mode: 0o4755, wantSuid: limit},
		{name: "over the bound", files: 3*limit + 7, mode: 0o4777, wantWorld: 3*limit + 7, wantSuid: 3*limit + 7, truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := hardening.Harden([]v1.Layer{tarLayer(t, tt.files, tt.mode)}, hardening.DefaultOptions())
			require.NoError(t, err)
			r := res.Report
			require.Equal(t, tt.wantWorld, r.Counts.WorldWritableFixed)
			require.Equal(t, tt.wantSuid, r.Counts.SetuidCleared)
			require.Len(t, r.WorldWritableFixed, min(tt.wantWorld, limit))
			require.Len(t, r.SetuidCleared, min(tt.wantSuid, limit))
			require.Equal(t, tt.truncated, r.Truncated)
			if tt.wantWorld > 0 {
				require.Equal(t, "/many/f00000", r.WorldWritableFixed[0], "the kept paths are the first in sorted order")
			}
			if tt.wantSuid > 0 {
				require.Contains(t, r.Summary(), fmt.Sprintf("%d setuid/setgid cleared", tt.wantSuid), "the summary counts every path")
			}

			// The layer fixes every file, listed or not.
			fixed := 0
			for _, h := range entries(t, res.Layer) {
				if h.Typeflag == tar.TypeReg && h.Mode&(0o4000|0o002) == 0 && h.Name != "etc/passwd" && h.Name != "etc/group" {
					fixed++
				}
			}
			require.Equal(t, tt.files, fixed)

			b, err := json.Marshal(r)
			require.NoError(t, err)
			require.Less(t, len(b), 64<<10, "the JSON report stays small")
		})
	}
}
