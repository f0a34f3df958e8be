package reproduce_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/reproduce"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// world is the fixtures every test here shares: the Go and the node
// upstreams with their upstream and hardened bases.
type world struct {
	reg, prefix string
	fx          *fixtures.Set
	node        *fixtures.NodeSet
}

var shared testenv.Shared[*world]

func setup(t *testing.T) *world {
	t.Helper()
	reg := testenv.Registry(t)
	testenv.BuildKit(t)
	return shared.Get(t, func() (*world, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		w := &world{reg: reg, prefix: fmt.Sprintf("reproduce-test-%d", time.Now().UnixNano())}
		var err error
		if w.fx, err = fixtures.Build(ctx, reg, w.prefix); err != nil {
			return nil, err
		}
		if w.node, err = fixtures.BuildNode(ctx, reg, w.prefix); err != nil {
			return nil, err
		}
		return w, nil
	})
}

func (w *world) dst(n string) string { return w.reg + "/" + w.prefix + "/out/" + n }

// fixture is one upstream with its bases.
type fixture struct {
	name, upstream, oldBase, base string
}

func (w *world) fixtures() []fixture {
	return []fixture{
		{"go", w.fx.Upstream, w.fx.UpstreamBase, w.fx.HardenedBase},
		{"node", w.node.Upstream, w.node.UpstreamBase, w.node.HardenedBase},
	}
}

// harden runs one independent hardening: its own empty buildkitd for the
// BuildKit strategies (so no cache survives from the other run), its own
// working directory and destination repository.
func harden(t *testing.T, f fixture, strategy build.Strategy, dst string, extra ...build.Option) *build.Result {
	t.Helper()
	t.Chdir(t.TempDir())
	opts := []build.Option{build.WithStrategy(strategy), build.WithOldBase(f.oldBase)}
	if strategy != build.StrategyInplace {
		opts = append(opts, build.WithBase(f.base))
	}
	if strategy != build.StrategyRebase {
		opts = append(opts, build.WithBuildKitAddr(testenv.FreshBuildKit(t)))
	}
	res, err := build.Harden(context.Background(), f.upstream, dst, append(opts, extra...)...)
	require.NoError(t, err)
	return res
}

// TestTwoRunsSameDigest hardens each fixture with each strategy twice,
// independently (fresh daemons, other working directories and repositories,
// SOURCE_DATE_EPOCH unset, seconds of wall time apart), and requires the
// same digest; it also requires every timestamp in the config, the history
// and the hardening layer to be no later than the source date, which
// defaults to the upstream's creation time, so no build time can leak in
// however far apart the clocks are.
func TestTwoRunsSameDigest(t *testing.T) {
	w := setup(t)
	t.Setenv(build.EnvSourceDateEpoch, "")
	for _, f := range w.fixtures() {
		for _, strategy := range []build.Strategy{build.StrategyRebuild, build.StrategyInplace, build.StrategyRebase} {
			t.Run(f.name+"/"+string(strategy), func(t *testing.T) {
				start := time.Now()
				var results [2]*build.Result
				for i := range results {
					t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) {
						results[i] = harden(t, f, strategy, w.dst(fmt.Sprintf("%s-%s-%d", f.name, strategy, i)))
					})
				}
				require.NotNil(t, results[1])
				a, b := results[0], results[1]
				require.Equal(t, strategy, a.Strategy)
				require.Equal(t, a.Engine, b.Engine)
				if a.Digest != b.Digest {
					diff, err := reproduce.Compare(context.Background(), mustDigest(t, a.Ref), mustDigest(t, b.Ref))
					require.NoError(t, err)
					t.Fatalf("%s %s: run 1 gave %s, run 2 %s: %s", f.name, strategy, a.Digest, b.Digest, diff)
				}
				up := config(t, f.upstream)
				require.Equal(t, up.Created.Time.Unix(), a.SourceDateEpoch, "the source date defaults to the upstream's creation time")
				checkDates(t, a.Ref, time.Unix(a.SourceDateEpoch, 0))
				t.Logf("%s %s (%s): %s, both runs in %s", f.name, strategy, a.Engine, a.Digest, time.Since(start).Round(time.Millisecond))
			})
		}
	}
}

// TestInputsChangeDigest: the digest follows the inputs — another policy,
// another hardened base or another source date give another image, on
// either engine.
func TestInputsChangeDigest(t *testing.T) {
	w := setup(t)
	t.Setenv(build.EnvSourceDateEpoch, "")
	f := w.fixtures()[0]
	strict := policies.Default()
	other := policies.Default()
	other.User = "1000:1000"
	for _, strategy := range []build.Strategy{build.StrategyRebase, build.StrategyRebuild} {
		t.Run(string(strategy), func(t *testing.T) {
			dst := func(n string) string { return w.dst(string(strategy) + "-inputs-" + strings.ReplaceAll(n, " ", "-")) }
			ref := harden(t, f, strategy, dst("ref"), build.WithPolicy(strict)).Digest
			tests := []struct {
				name   string
				f      fixture
				opts   []build.Option
				differ bool
			}{
				{"same inputs", f, []build.Option{build.WithPolicy(strict)}, false},
				{"other policy", f, []build.Option{build.WithPolicy(other)}, true},
				{"other base", fixture{f.name, f.upstream, f.oldBase, w.node.HardenedBase}, []build.Option{build.WithPolicy(strict)}, true},
				{"other source date", f, []build.Option{build.WithPolicy(strict), build.WithSourceDateEpoch(time.Unix(1700000000, 0))}, true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got := harden(t, tt.f, strategy, dst(tt.name), tt.opts...).Digest
					if tt.differ {
						require.NotEqual(t, ref, got)
					} else {
						require.Equal(t, ref, got)
					}
				})
			}
		})
	}
	t.Run("SOURCE_DATE_EPOCH", func(t *testing.T) {
		t.Setenv(build.EnvSourceDateEpoch, "1700000000")
		res := harden(t, f, build.StrategyRebase, w.dst("inputs-env"), build.WithPolicy(strict))
		require.Equal(t, int64(1700000000), res.SourceDateEpoch)
		require.Equal(t, time.Unix(1700000000, 0).UTC(), config(t, res.Ref).Created.Time.UTC())
		checkDates(t, res.Ref, time.Unix(1700000000, 0))
	})
}

func mustDigest(t *testing.T, ref string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	return d
}

func image(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	img, err := remote.Image(r)
	require.NoError(t, err)
	return img
}

func config(t *testing.T, ref string) *v1.ConfigFile {
	t.Helper()
	cf, err := image(t, ref).ConfigFile()
	require.NoError(t, err)
	return cf
}

// checkDates requires the config's created time to be the source date and
// no history entry or hardening-layer entry to be later than it (the
// layer is empty when the hardened base needed no change).
func checkDates(t *testing.T, ref string, date time.Time) {
	t.Helper()
	img := image(t, ref)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.True(t, cf.Created.Time.Equal(date), "config created %s, want the source date %s", cf.Created.Time, date)
	for i, h := range cf.History {
		require.False(t, h.Created.Time.After(date), "history[%d] created %s, after the source date %s", i, h.Created.Time, date)
	}
	ls, err := img.Layers()
	require.NoError(t, err)
	rc, err := ls[len(ls)-1].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.False(t, h.ModTime.After(date), "hardening layer /%s modified %s, after the source date %s", h.Name, h.ModTime, date)
	}
}
