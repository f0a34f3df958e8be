package rebase

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCarryRefusesTamperedLayer: the carry layer copies the upstream base's
// files into the image drydock signs, so bytes served under a layer's
// digest that are not the layer's must be refused, not carried.
// mutate.Extract reports the digest error only after the merged tar's end
// blocks, where a tar reader stops.
func TestCarryRefusesTamperedLayer(t *testing.T) {
	real := gzFile(t, "usr/bin/git", "real-git-1000")
	fake := sameSize(t, real, "usr/bin/git", "evil-git-")
	swap := true
	img := tampered(t, real, fake, &swap)
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	_, err := CarryLayer(img, []string{"usr/bin/git"}, date)
	require.Error(t, err, "a layer served with other bytes than its digest must not be carried")
	require.Contains(t, err.Error(), "error verifying sha256 checksum")

	swap = false
	_, err = CarryLayer(img, []string{"usr/bin/git"}, date)
	require.NoError(t, err)
}
