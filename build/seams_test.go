package build_test

import (
	"context"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/rebase"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// wrongRebuilder stands in for a BuildKit daemon that exports the wrong
// layer stack (the v0.34 cache issue in the README): it pushes the upstream
// image itself, unhardened, and records what it was asked.
type wrongRebuilder struct {
	upstream v1.Image
	mu       sync.Mutex
	reqs     []build.RebuildRequest
}

func (w *wrongRebuilder) Rebuild(_ context.Context, req build.RebuildRequest) (string, error) {
	w.mu.Lock()
	w.reqs = append(w.reqs, req)
	w.mu.Unlock()
	d, err := w.upstream.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), remote.Write(req.Target.Digest(d.String()), w.upstream)
}

// upstreamRebaser assembles nothing: it hands back the upstream image.
type upstreamRebaser struct{}

func (upstreamRebaser) Rebase(in rebase.Input) (v1.Image, error) { return in.Upstream, nil }

// TestSeamsOutputChecked: whatever a Rebuilder or Rebaser pushes is read
// back and refused unless it is the expected stack plus the hardening layer;
// auto then assembles at the registry level instead. Deterministic, unlike
// waiting for BuildKit's cache issue.
func TestSeamsOutputChecked(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d, err := name.NewDigest(e.fx.Upstream)
	require.NoError(t, err)
	up, err := remote.Image(d)
	require.NoError(t, err)

	t.Run("rebuild refuses a wrong BuildKit export", func(t *testing.T) {
		rb := &wrongRebuilder{upstream: up}
		_, err := build.Harden(ctx, e.fx.Upstream, e.dst("seam-rebuild"), build.WithBase(e.fx.HardenedBase),
			build.WithStrategy(build.StrategyRebuild), build.WithRebuilder(rb))
		require.ErrorIs(t, err, build.ErrOutputRejected)
		require.Len(t, rb.reqs, 1)
		req := rb.reqs[0]
		require.Equal(t, e.dst("seam-rebuild"), req.Target.String())
		require.Equal(t, e.fx.HardenedBase, req.Annotations[build.AnnotationBaseName])
		require.Equal(t, "65532:65532", req.Config.Config.User)
	})
	t.Run("auto falls back to the registry", func(t *testing.T) {
		rb := &wrongRebuilder{upstream: up}
		// The shared daemon answers auto's probe; the fake does the build.
		res, err := build.Harden(ctx, e.fx.Upstream, e.dst("seam-auto"), build.WithBase(e.fx.HardenedBase),
			build.WithBuildKitAddr(e.buildkit), build.WithRebuilder(rb))
		require.NoError(t, err)
		require.Len(t, rb.reqs, 1)
		require.Equal(t, build.StrategyRebuild, res.Strategy)
		require.Equal(t, build.EngineRegistry, res.Engine)
		require.Contains(t, res.StrategyReason, "BuildKit failed")
		require.Contains(t, res.StrategyReason, build.ErrOutputRejected.Error())
		checkPushed(t, res.Ref)
	})
	t.Run("rebase refuses an unhardened assembly", func(t *testing.T) {
		_, err := build.Harden(ctx, e.fx.Upstream, e.dst("seam-rebase"), build.WithBase(e.fx.HardenedBase),
			build.WithStrategy(build.StrategyRebase), build.WithRebaser(upstreamRebaser{}))
		require.ErrorIs(t, err, build.ErrOutputRejected)
	})
	t.Run("nil seams are rejected", func(t *testing.T) {
		_, err := build.Harden(ctx, e.fx.Upstream, e.dst("seam-nil"), build.WithRebuilder(nil))
		require.ErrorContains(t, err, "nil Rebuilder")
		_, err = build.Harden(ctx, e.fx.Upstream, e.dst("seam-nil"), build.WithRebaser(nil))
		require.ErrorContains(t, err, "nil Rebaser")
	})
}
