package hardening_test

import (
	"archive/tar"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/require"
)

// hostileCase is one image of the hostile corpus with what its hardened
// filesystem must (not) hold.
type hostileCase struct {
	name string
	// cleared are setuid names the report must list as cleared.
	cleared []string
	// gone are paths that must not exist after hardening (deleted by the
	// upstream; a pass that "fixes" them would bring them back).
	gone []string
	// regular are paths that must be regular files after hardening.
	regular []string
	// refused means the pass must refuse the image (ErrUnsafeLayer).
	refused bool
}

var hostileCases = []hostileCase{
	{name: fixtures.HostileLinkModeName, cleared: []string{fixtures.LinkModePlain, fixtures.LinkModeLink + " (hard link)"},
		regular: []string{fixtures.LinkModePlain, fixtures.LinkModeLink, fixtures.LinkCapPlain, fixtures.LinkCapLink}},
	{name: fixtures.HostileLinkReplacedName, cleared: []string{fixtures.LinkSetuidLink + " (hard link)"},
		regular: []string{fixtures.LinkSetuidTarget, fixtures.LinkSetuidLink}},
	{name: fixtures.HostileLinkDeletedName, cleared: []string{fixtures.LinkSetuidLink + " (hard link)"},
		gone: []string{fixtures.LinkSetuidTarget}, regular: []string{fixtures.LinkSetuidLink}},
	{name: fixtures.HostileLinkChainName, cleared: []string{fixtures.LinkChainA, fixtures.LinkChainB + " (hard link)", fixtures.LinkChainC + " (hard link)"},
		regular: []string{fixtures.LinkChainA, fixtures.LinkChainB, fixtures.LinkChainC}},
	{name: fixtures.HostileSymlinkParentName, cleared: []string{fixtures.SymlinkParentFile},
		gone: []string{fixtures.SymlinkParentLink + "/sudo"}, regular: []string{fixtures.SymlinkParentFile}},
	{name: fixtures.HostileSymlinkParentGoneName, cleared: []string{fixtures.SymlinkParentFile},
		gone: []string{fixtures.SymlinkParentLink}, regular: []string{fixtures.SymlinkParentFile}},
	{name: fixtures.HostileLowerSymlinkParentName, refused: true},
	{name: fixtures.HostileOpaqueName, gone: []string{fixtures.OpaqueHidden}, regular: []string{fixtures.OpaqueKept}},
	{name: fixtures.HostileFileReplacesDirName, gone: []string{fixtures.ReplacedDirFile}, regular: []string{fixtures.ReplacedDir}},
}

// hardened appends the pass's layer to img.
func hardened(t *testing.T, img v1.Image) (v1.Image, *hardening.Report, error) {
	t.Helper()
	res, err := hardening.Harden(layers(t, img), hardening.DefaultOptions())
	if err != nil {
		return nil, nil, err
	}
	out, err := mutate.AppendLayers(img, res.Layer)
	require.NoError(t, err)
	return out, res.Report, nil
}

// TestHardenHostileLinks hardens each link, parent-symlink, opaque and
// file-replaces-directory case and checks the result with
// go-containerregistry's flattener, not the pass's own reader.
func TestHardenHostileLinks(t *testing.T) {
	imgs := corpus(t)
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			img, r, err := hardened(t, imgs[tc.name])
			if tc.refused {
				require.ErrorIs(t, err, hardening.ErrUnsafeLayer)
				require.Contains(t, err.Error(), "opt/b")
				return
			}
			require.NoError(t, err)
			for _, c := range tc.cleared {
				require.Contains(t, r.SetuidCleared, c)
			}
			v := extractView(t, img)
			require.Empty(t, v.findings, "mutate.Extract of the hardened image")
			for _, p := range tc.gone {
				require.NotContains(t, v.types, p, "%s was deleted upstream; hardening must not bring it back", p)
			}
			for _, p := range tc.regular {
				require.Contains(t, v.types, p)
				require.Equal(t, byte(tar.TypeReg), v.types[p], "%s must be a regular file", p)
			}
			bad, err := hardening.Audit(layers(t, img), []string{"/tmp"})
			require.NoError(t, err)
			require.Empty(t, bad)
		})
	}
}
