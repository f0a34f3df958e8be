package build_test

import (
	"context"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// withStart pushes the echo fixture again with another start command (base
// annotations kept, so rebase applies) and returns its reference.
func withStart(t *testing.T, e *env, repo string, entrypoint []string) string {
	t.Helper()
	ref, err := name.ParseReference(e.fx.Upstream)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.Entrypoint, cfg.Config.Cmd = entrypoint, nil
	edited, err := mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	edited = mutate.Annotations(edited, m.Annotations).(v1.Image)
	dst, err := name.ParseReference(e.reg + "/" + e.prefix + "/" + repo + ":1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(dst, edited))
	return dst.String()
}

func TestHardenShellFormStart(t *testing.T) {
	e := setup(t)
	t.Run("a plain sh -c command becomes exec form", func(t *testing.T) {
		src := withStart(t, e, "shellform", []string{"/bin/sh", "-c", "exec /usr/local/bin/mcp-server"})
		res, err := build.Harden(context.Background(), src, e.dst("shellform"),
			build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase))
		require.NoError(t, err)
		require.True(t, res.ExecForm)
		img := checkPushed(t, res.Ref)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, []string{"/usr/local/bin/mcp-server"}, cfg.Config.Entrypoint)
		require.Empty(t, cfg.Config.Cmd)
	})
	t.Run("a real script is refused before anything is pushed", func(t *testing.T) {
		src := withStart(t, e, "shellscript", []string{"/bin/sh", "-c", "cd /tmp && /usr/local/bin/mcp-server"})
		_, err := build.Harden(context.Background(), src, e.dst("shellscript"),
			build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase))
		require.ErrorIs(t, err, build.ErrNeedsShell)
		require.ErrorContains(t, err, "--strategy inplace")
	})
}
