package build_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/startcmd"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// rootLayer holds /root (0700, root's) with a copy of an ELF header as
// /root/bin/mcp-server: a program only root can reach.
func rootLayer(t *testing.T) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	elf := []byte("\x7fELF\x02\x01\x01")
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "root/", Mode: 0o700},
		{Typeflag: tar.TypeDir, Name: "root/bin/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "root/bin/mcp-server", Mode: 0o755, Size: int64(len(elf))},
	} {
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write(elf)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	require.NoError(t, err)
	return l
}

// withStart pushes the echo fixture again with another start command and
// env (base annotations kept, so rebase applies), plus extra layers, and
// returns its reference.
func withStart(t *testing.T, e *env, repo string, entrypoint, env []string, extra ...v1.Layer) string {
	t.Helper()
	ref, err := name.ParseReference(e.fx.Upstream)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	img, err = mutate.AppendLayers(img, extra...)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.Entrypoint, cfg.Config.Cmd = entrypoint, nil
	if env != nil {
		cfg.Config.Env = env
	}
	edited, err := mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	edited = mutate.Annotations(edited, m.Annotations).(v1.Image)
	dst, err := name.ParseReference(e.reg + "/" + e.prefix + "/" + repo + ":1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(dst, edited))
	return dst.String()
}

// TestHardenStartCommand: harden decides at harden time how the result
// starts. The upstream command becomes an exec-form entrypoint naming the
// program's absolute path (cmd empty), PATH loses what the runtime user
// cannot search, and both are reported; a command that needs a shell is
// refused with the command and the reason, before anything is pushed.
func TestHardenStartCommand(t *testing.T) {
	e := setup(t)
	t.Run("sh -c with cd becomes exec form with a working directory", func(t *testing.T) {
		src := withStart(t, e, "shellform", []string{"/bin/sh", "-c", "cd /tmp && exec mcp-server"},
			[]string{"PATH=/usr/local/bin:/root/bin:/usr/bin:/bin"}, rootLayer(t))
		res, err := build.Harden(context.Background(), src, e.dst("shellform"),
			build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase))
		require.NoError(t, err)
		require.NotNil(t, res.Start)
		require.Equal(t, "/bin/sh -c 'cd /tmp && exec mcp-server'", res.Start.Before)
		require.Equal(t, "/usr/local/bin/mcp-server", res.Start.After)
		require.Equal(t, "/usr/local/bin", res.Start.Path, "/root/bin is not searchable by 65532; /usr/bin and /bin are not in the hardened base")
		img := checkPushed(t, res.Ref)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, []string{"/usr/local/bin/mcp-server"}, cfg.Config.Entrypoint)
		require.Empty(t, cfg.Config.Cmd)
		require.Equal(t, "/tmp", cfg.Config.WorkingDir)
		require.Contains(t, cfg.Config.Env, "PATH=/usr/local/bin")
	})
	t.Run("a pipeline is refused before anything is pushed", func(t *testing.T) {
		src := withStart(t, e, "shellscript", []string{"/bin/sh", "-c", "/usr/local/bin/mcp-server | tee /tmp/log"}, nil)
		_, err := build.Harden(context.Background(), src, e.dst("shellscript"),
			build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase))
		var shellErr *startcmd.NeedsShellError
		require.True(t, errors.As(err, &shellErr), "Harden() = %v, want a *startcmd.NeedsShellError", err)
		require.Equal(t, "/usr/local/bin/mcp-server | tee /tmp/log", shellErr.Command)
		require.ErrorContains(t, err, "pipe")
	})
	t.Run("inplace without removeTools keeps the shell and the command", func(t *testing.T) {
		src := withStart(t, e, "shellkept", []string{"/bin/sh", "-c", "/usr/local/bin/mcp-server | tee /tmp/log"}, nil)
		res, err := build.Harden(context.Background(), src, e.dst("shellkept"),
			build.WithStrategy(build.StrategyInplace), build.WithEngine(build.EngineRegistry))
		require.NoError(t, err)
		require.Contains(t, res.Start.Kept, "this result keeps its shell")
		img := checkPushed(t, res.Ref)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, []string{"/bin/sh", "-c", "/usr/local/bin/mcp-server | tee /tmp/log"}, cfg.Config.Entrypoint)
		require.Contains(t, paths(t, img), "bin/busybox")
	})
}
