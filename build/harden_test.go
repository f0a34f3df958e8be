package build_test

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
	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

type env struct {
	reg, prefix, buildkit string
	fx                    *fixtures.Set
	hostile               *fixtures.HostileSet
}

var shared testenv.Shared[*env]

func setup(t *testing.T) *env {
	t.Helper()
	reg := testenv.Registry(t)
	bk := testenv.BuildKit(t)
	return shared.Get(t, func() (*env, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		e := &env{reg: reg, buildkit: bk, prefix: fmt.Sprintf("build-test-%d", time.Now().UnixNano())}
		var err error
		if e.fx, err = fixtures.Build(ctx, reg, e.prefix); err != nil {
			return nil, err
		}
		if e.hostile, err = fixtures.BuildHostile(ctx, reg, e.prefix); err != nil {
			return nil, err
		}
		return e, nil
	})
}

func (e *env) dst(n string) string { return e.reg + "/" + e.prefix + "/out/" + n }

// checkPushed reads the pushed image's layers and config, not the report.
func checkPushed(t *testing.T, ref string) v1.Image {
	t.Helper()
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	img, err := remote.Image(d)
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	bad, err := hardening.Audit(ls, []string{"/tmp"})
	require.NoError(t, err)
	require.Empty(t, bad, "pushed image %s breaks the hardening rules", ref)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "65532:65532", cf.Config.User)
	m, err := img.Manifest()
	require.NoError(t, err)
	require.Equal(t, types.OCIManifestSchema1, m.MediaType)
	require.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	for _, l := range m.Layers {
		require.Contains(t, []types.MediaType{types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer}, l.MediaType)
	}
	return img
}

// paths lists the pushed image's merged filesystem.
func paths(t *testing.T, img v1.Image) []string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, strings.TrimSuffix(h.Name, "/"))
	}
}

// daemonFor gives strategies that run on BuildKit a private, empty
// buildkitd: BuildKit v0.34 exports wrong layer stacks for Merge/Diff results
// once refs from an earlier build of the same content sit in its cache
// (drydock's read-back check refuses them, build.ErrOutputRejected). The
// tests pin down what the strategies produce, so each gets a clean daemon.
func daemonFor(t *testing.T, e *env, strategy build.Strategy) string {
	if strategy == build.StrategyRebase {
		return e.buildkit
	}
	return testenv.FreshBuildKit(t)
}

func TestHardenStrategies(t *testing.T) {
	e := setup(t)
	tests := []struct {
		strategy, want build.Strategy
		base           bool
	}{
		{build.StrategyRebuild, build.StrategyRebuild, true},
		{build.StrategyRebase, build.StrategyRebase, true},
		{build.StrategyInplace, build.StrategyInplace, false},
		{build.StrategyAuto, build.StrategyRebuild, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy), func(t *testing.T) {
			ctx := context.Background()
			res, err := build.Harden(ctx, e.fx.UpstreamTag, e.dst("echo-"+string(tt.strategy)),
				build.WithBase(e.fx.HardenedBase), build.WithStrategy(tt.strategy), build.WithBuildKitAddr(daemonFor(t, e, tt.strategy)))
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Strategy)
			require.NotEmpty(t, res.StrategyReason)
			require.True(t, res.Hardening.UserAdded == !tt.base, "the hardened base has the user already; the upstream does not")
			img := checkPushed(t, res.Ref)
			m, err := img.Manifest()
			require.NoError(t, err)
			if tt.base {
				require.Equal(t, e.fx.HardenedBase, m.Annotations[build.AnnotationBaseName])
				require.NotContains(t, paths(t, img), "bin/busybox", "rebuild/rebase never bring the upstream shell")
			} else {
				require.Empty(t, m.Annotations[build.AnnotationBaseName])
				require.Empty(t, res.Hardening.Removed, "inplace removes tools only when the policy asks")
			}
		})
	}
}

func TestHardenWithoutBuildKit(t *testing.T) {
	e := setup(t)
	const gone = "unix:///nonexistent/buildkitd.sock"
	t.Run("auto falls back to rebase", func(t *testing.T) {
		res, err := build.Harden(context.Background(), e.fx.Upstream, e.dst("echo-nobk"),
			build.WithBase(e.fx.HardenedBase), build.WithBuildKitAddr(gone))
		require.NoError(t, err)
		require.Equal(t, build.StrategyRebase, res.Strategy)
		require.Contains(t, res.StrategyReason, "BuildKit is not reachable")
		checkPushed(t, res.Ref)
	})
	t.Run("rebuild says BuildKit is missing", func(t *testing.T) {
		_, err := build.Harden(context.Background(), e.fx.Upstream, e.dst("echo-nobk"),
			build.WithBase(e.fx.HardenedBase), build.WithBuildKitAddr(gone), build.WithStrategy(build.StrategyRebuild))
		require.ErrorIs(t, err, build.ErrNoBuildKit)
	})
}

func TestHardenHostile(t *testing.T) {
	e := setup(t)
	tests := []struct {
		image    string
		strategy build.Strategy
		wantErr  string
	}{
		{fixtures.HostileName, build.StrategyRebuild, ""},
		{fixtures.HostileName, build.StrategyRebase, ""},
		{fixtures.HostileName, build.StrategyInplace, ""},
		{fixtures.HostileBigConfigName, build.StrategyRebase, "image config is"},
		{fixtures.HostileTarPathName, build.StrategyRebase, "climbs out of the image root"},
		{fixtures.HostileTarPathName, build.StrategyInplace, "climbs out of the image root"},
		{fixtures.HostileManyFilesName, build.StrategyRebase, ""},
	}
	for _, tt := range tests {
		t.Run(tt.image+"/"+string(tt.strategy), func(t *testing.T) {
			res, err := build.Harden(context.Background(), e.hostile.Images[tt.image], e.dst(tt.image+"-"+string(tt.strategy)),
				build.WithBase(e.fx.HardenedBase), build.WithStrategy(tt.strategy), build.WithBuildKitAddr(daemonFor(t, e, tt.strategy)))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			checkPushed(t, res.Ref)
			if tt.image == fixtures.HostileName {
				require.Contains(t, res.Hardening.SetuidCleared, fixtures.HostileSetuid)
				require.Contains(t, res.Hardening.SetuidCleared, fixtures.HostileWhiteoutTrick)
				require.Contains(t, res.Hardening.DevicesRemoved, fixtures.HostileCharDev)
				require.True(t, strings.HasPrefix(res.Hardening.SymlinksNeutralised[0], fixtures.HostileEscapeLink))
			}
		})
	}
}
