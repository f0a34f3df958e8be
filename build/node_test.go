package build_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// size is the sum of an image's compressed layer sizes, as pulled.
func size(t *testing.T, ref string) int64 {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	img, err := remote.Image(r)
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// TestHardenNode hardens the node fixture (no base annotations, like
// Nixpacks images) with every strategy, the base and upstream base coming
// from a bases file, twice each (cold, then warm with the upstream
// unchanged), checks the pushed images and compares them with the upstream
// over MCP. It logs the timings and sizes the issue asks for.
func TestHardenNode(t *testing.T) {
	e := setup(t)
	testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	nx, err := fixtures.BuildNode(ctx, e.reg, e.prefix)
	require.NoError(t, err)

	basesFile := filepath.Join(t.TempDir(), "bases.yaml")
	require.NoError(t, os.WriteFile(basesFile, fmt.Appendf(nil, `apiVersion: drydock.dev/v1
kind: Bases
runtimes:
  - name: node
    base: %s
    commands: [node]
    upstreamBases: [%s]
  - name: static
    base: %s
    default: true
`, nx.HardenedBase, nx.UpstreamBase, e.fx.HardenedBase), 0o600))
	bases, err := policies.LoadBases(basesFile)
	require.NoError(t, err)

	t.Logf("node upstream %s: %.1f MiB", nx.Upstream, float64(size(t, nx.Upstream))/(1<<20))
	results := map[string]string{}
	for _, strategy := range []build.Strategy{build.StrategyInplace, build.StrategyRebase, build.StrategyAuto, build.StrategyRebuild} {
		t.Run(string(strategy), func(t *testing.T) {
			var times []time.Duration
			var res *build.Result
			for range 2 {
				start := time.Now()
				var err error
				res, err = build.Harden(ctx, nx.UpstreamTag, e.dst("node-"+string(strategy)),
					build.WithBases(bases), build.WithStrategy(strategy), build.WithBuildKitAddr(daemonFor(t, e, strategy)))
				require.NoError(t, err)
				times = append(times, time.Since(start))
			}
			if strategy == build.StrategyAuto {
				require.Equal(t, build.StrategyRebuild, res.Strategy)
				require.Contains(t, res.StrategyReason, "common layer prefix")
			}
			if strategy != build.StrategyInplace {
				require.Equal(t, "node", res.Runtime, "the runtime comes from the entrypoint")
			}
			img := checkPushed(t, res.Ref)
			if strategy == build.StrategyInplace {
				require.Contains(t, res.Hardening.SetuidCleared, fixtures.NodePlantedSetuid)
				require.Contains(t, res.Hardening.WorldWritableFixed, fixtures.NodePlantedWorld)
				require.Contains(t, paths(t, img), "bin/busybox", "inplace keeps the shell unless the policy says removeTools")
			} else {
				require.NotContains(t, paths(t, img), "bin/busybox")
				require.NotContains(t, paths(t, img), "usr/bin/apt-get")
			}
			results[string(strategy)] = res.Ref
			t.Logf("node %s (%s): cold %.1fs, warm %.1fs, size %.1f MiB; %s", res.Strategy, res.Engine,
				times[0].Seconds(), times[1].Seconds(), float64(size(t, res.Ref))/(1<<20), res.Hardening.Summary())
		})
	}

	t.Run("smoke", func(t *testing.T) {
		ref, ok := results[string(build.StrategyRebase)]
		// The rebase subtest failed (and so did this test): nothing to compare.
		require.True(t, ok, "no rebase result to compare")
		up, err := name.NewDigest(nx.Upstream)
		require.NoError(t, err)
		res, err := smoke.Compare(ctx, up.String(), ref)
		require.NoError(t, err)
		require.True(t, res.Match)
		require.NotEmpty(t, res.Upstream.Tools)
		require.Contains(t, res.Upstream.Capabilities, "tools")

		// A deliberately broken image: the hardened one with its server
		// script pointed elsewhere. It must not start, and say so.
		broken := breakImage(t, ref, e.dst("node-broken"))
		res, err = smoke.Compare(ctx, up.String(), broken)
		require.ErrorIs(t, err, smoke.ErrMismatch)
		require.False(t, res.Match)
		require.Contains(t, res.Differences[0], "hardened image did not answer")
	})
}

// breakImage pushes a copy of ref whose entrypoint names a missing script.
func breakImage(t *testing.T, ref, repo string) string {
	t.Helper()
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	img, err := remote.Image(d)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"node", "/app/missing.js"}
	broken, err := mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	bd, err := broken.Digest()
	require.NoError(t, err)
	r, err := name.ParseReference(repo)
	require.NoError(t, err)
	out := r.Context().Digest(bd.String())
	require.NoError(t, remote.Write(out, broken))
	return out.String()
}

func TestSmokeDiff(t *testing.T) {
	a := &smoke.Listing{Server: "s 1", Tools: []string{"read abc", "write def"}}
	tests := []struct {
		name string
		b    *smoke.Listing
		want []string
	}{
		{"same", &smoke.Listing{Server: "s 1", Tools: []string{"read abc", "write def"}}, nil},
		{"missing tool", &smoke.Listing{Server: "s 1", Tools: []string{"read abc"}}, []string{"tool write def: missing from hardened"}},
		{"changed schema", &smoke.Listing{Server: "s 1", Tools: []string{"read abc", "write 123"}},
			[]string{"tool write def: missing from hardened", "tool write 123: only in hardened"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, smoke.Diff(a, tt.b))
		})
	}
}
