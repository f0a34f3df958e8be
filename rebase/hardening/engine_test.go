package hardening_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"
)

// TestHostileOnEngines pushes each hostile case before and after hardening
// and unpacks both with the real engines: dockerd (pull, create, export)
// and BuildKit (llb.Image to the local exporter, containerd's applier). The
// hardened filesystem must hold no setuid/setgid file and no file
// capability on either. The unhardened one must show the planted file on
// the engine where it survives, which proves the check can see it.
// BuildKit's local exporter does not carry security.capability to the
// disk, so file capabilities are checked on dockerd's export only.
func TestHostileOnEngines(t *testing.T) {
	reg := testenv.Registry(t)
	imgs := corpus(t)
	prefix := fmt.Sprintf("%s/hardening-engines-%d", reg, time.Now().UnixNano())
	type pushed struct{ before, after string }
	refs := map[string]pushed{}
	for _, tc := range hostileCases {
		if tc.refused {
			continue
		}
		img, _, err := hardened(t, imgs[tc.name])
		require.NoError(t, err, tc.name)
		refs[tc.name] = pushed{push(t, prefix+"/"+tc.name+":before", imgs[tc.name]), push(t, prefix+"/"+tc.name+":after", img)}
	}
	engines := []struct {
		name string
		view func(t *testing.T, ref string) tarView
	}{
		{"dockerd", dockerView},
		{"buildkit", buildkitView},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, tc := range hostileCases {
				if tc.refused {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					r := refs[tc.name]
					if len(tc.cleared) > 0 {
						require.NotEmpty(t, e.view(t, r.before).findings, "the unhardened image must show a setuid file on %s", e.name)
					}
					v := e.view(t, r.after)
					require.Empty(t, v.findings, "hardened image unpacked by %s", e.name)
					for _, p := range tc.gone {
						require.NotContains(t, v.types, p)
					}
					for _, p := range tc.regular {
						require.Equal(t, byte(tar.TypeReg), v.types[p], "%s must be a regular file", p)
					}
				})
			}
		})
	}
}

func push(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return tag.Context().Digest(d.String()).String()
}

// dockerView pulls ref into dockerd, creates (not starts) a container and
// reads its exported filesystem's headers.
func dockerView(t *testing.T, ref string) tarView {
	t.Helper()
	c := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := c.ImagePull(ctx, ref, image.PullOptions{})
	require.NoError(t, err, "docker pull %s", ref)
	err = jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil) // returns the pull's own error
	rc.Close()
	require.NoError(t, err, "docker pull %s", ref)
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	created, err := c.ContainerCreate(ctx, &container.Config{Image: ref, Entrypoint: []string{"/nothing"}}, nil, nil, nil, "")
	require.NoError(t, err)
	defer removeContainer(c, created.ID)
	ex, err := c.ContainerExport(ctx, created.ID)
	require.NoError(t, err)
	defer ex.Close()
	return readTarView(t, ex)
}

func removeContainer(c *dockerclient.Client, id string) {
	_ = c.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
}

// buildkitView unpacks ref with BuildKit and walks the local export: the
// files are real, so their mode bits and security.capability xattr are read
// from the disk.
func buildkitView(t *testing.T, ref string) tarView {
	t.Helper()
	addr := testenv.BuildKit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := bkclient.New(ctx, addr)
	require.NoError(t, err)
	defer c.Close()
	def, err := llb.Image(ref).Marshal(ctx)
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = c.Solve(ctx, def, bkclient.SolveOpt{Exports: []bkclient.ExportEntry{{Type: bkclient.ExporterLocal, OutputDir: dir}}}, nil)
	require.NoError(t, err, "solving %s", ref)
	v := tarView{types: map[string]byte{}}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		v.types[rel] = typeflag(fi.Mode())
		if m := fi.Mode(); m&os.ModeSetuid != 0 || (m&os.ModeSetgid != 0 && !m.IsDir()) {
			v.findings = append(v.findings, fmt.Sprintf("%s: setuid/setgid (%v)", rel, m))
		}
		if fi.Mode().IsRegular() {
			buf := make([]byte, 64)
			if _, err := syscall.Getxattr(p, "security.capability", buf); err == nil {
				v.findings = append(v.findings, rel+": file capability")
			} else if !errors.Is(err, syscall.ENODATA) {
				return fmt.Errorf("reading xattrs of %s: %w", rel, err)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return v
}

// typeflag is the tar type of a file on disk, for comparing with tar views.
func typeflag(m os.FileMode) byte {
	switch {
	case m.IsRegular():
		return tar.TypeReg
	case m.IsDir():
		return tar.TypeDir
	case m&os.ModeSymlink != 0:
		return tar.TypeSymlink
	default:
		return tar.TypeChar // devices and the rest: not what the checks look for
	}
}
