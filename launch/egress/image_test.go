package egress

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// staticBinary builds a tiny static Go program, standing in for drydock.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\ngo 1.22\n"), 0o644))
	bin := filepath.Join(dir, "x")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

func TestCheckBinary(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		ok   bool
	}{
		{"static Go binary", staticBinary, true},
		{"not an ELF file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "script")
			require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
			return p
		}, false},
		// Debian's coreutils are dynamically linked against libc.
		{"dynamic binary", func(t *testing.T) string {
			p, err := exec.LookPath("ls")
			require.NoError(t, err)
			return p
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBinary(tt.path(t))
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.True(t, errors.Is(err, ErrNotStatic), "CheckBinary() = %v, want ErrNotStatic", err)
			require.Contains(t, err.Error(), "CGO_ENABLED=0", "the error says what to do")
		})
	}
}

func TestImage(t *testing.T) {
	bin := staticBinary(t)
	img, err := Image(bin)
	require.NoError(t, err)
	again, err := Image(bin)
	require.NoError(t, err)
	d1, err := img.ConfigName()
	require.NoError(t, err)
	d2, err := again.ConfigName()
	require.NoError(t, err)
	require.Equal(t, d1, d2, "the same binary gives the same image ID")

	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, User, cfg.Config.User)
	require.Equal(t, []string{BinaryPath}, cfg.Config.Entrypoint)
	dg, err := BinaryDigest(bin)
	require.NoError(t, err)
	require.Equal(t, dg, cfg.Config.Labels[BinaryLabel])
	require.Regexp(t, `^drydock-egress-proxy:[0-9a-f]{16}$`, Tag(dg))

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "an empty base plus the binary")
	diffID, err := layers[0].DiffID()
	require.NoError(t, err)
	require.Equal(t, []v1.Hash{diffID}, cfg.RootFS.DiffIDs, "engines refuse a config whose rootfs does not list the layer")
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files, owners := map[string]int64{}, map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		owners[h.Name] = fmt.Sprintf("%d:%d", h.Uid, h.Gid)
		files[h.Name] = h.Mode
	}
	require.Equal(t, map[string]int64{"etc/": 0o755, "run/": 0o755, "run/drydock-egress/": 0o700, "drydock": 0o555}, files)
	require.Equal(t, map[string]string{
		"etc/": "0:0", "run/": "0:0", "drydock": "0:0", // root-owned: the proxy's user cannot replace them
		"run/drydock-egress/": "65532:65532", // where the proxy creates its socket
	}, owners)

	// The archive is what the engine's load endpoint reads.
	p := filepath.Join(t.TempDir(), "img.tar")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, WriteTarball(f, Tag(dg), img))
	require.NoError(t, f.Close())
	loaded, err := tarball.ImageFromPath(p, nil)
	require.NoError(t, err)
	d3, err := loaded.ConfigName()
	require.NoError(t, err)
	require.Equal(t, d1, d3)

	_, err = Image("/nonexistent/drydock")
	require.ErrorIs(t, err, ErrNotStatic)
}
