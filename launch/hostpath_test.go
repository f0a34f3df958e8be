package launch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
)

func TestCheckHostPath(t *testing.T) {
	const server = 65532
	tests := []struct {
		name string
		// parentMode is the mode of the source's parent directory; the
		// owners (-1: unchanged) are set with chown, which needs root.
		parentMode            os.FileMode
		parentOwner, srcOwner [2]int
		wantErr               string
	}{
		{name: "private parent", parentMode: 0o755},
		{name: "world-writable parent", parentMode: 0o777, wantErr: "is writable by other users"},
		{name: "sticky world-writable parent, our entry", parentMode: 0o777 | os.ModeSticky},
		{name: "sticky world-writable parent, the server's entry", parentMode: 0o777 | os.ModeSticky, srcOwner: [2]int{server, server}, wantErr: "is writable by other users"},
		{name: "parent owned by the server's user", parentMode: 0o755, parentOwner: [2]int{server, server}, wantErr: "is owned by uid 65532"},
		{name: "group-writable parent of the server's group", parentMode: 0o775, parentOwner: [2]int{-1, server}, wantErr: "is writable by other users"},
		{name: "group-writable parent of our own group", parentMode: 0o775},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chown := tt.parentOwner != [2]int{} || tt.srcOwner != [2]int{}
			if chown && os.Getuid() != 0 {
				t.Skip("giving a directory to uid 65532 needs root; run the launch tests as root (as .ci/run does)")
			}
			// t.TempDir's own parents (/, /tmp, the test's directory) are
			// checked too; they pass in the private case.
			parent := filepath.Join(t.TempDir(), "parent")
			src := filepath.Join(parent, "src")
			require.NoError(t, os.MkdirAll(src, 0o755))
			require.NoError(t, os.Chmod(parent, tt.parentMode))
			if tt.parentOwner != [2]int{} {
				require.NoError(t, os.Chown(parent, tt.parentOwner[0], tt.parentOwner[1]))
			}
			if tt.srcOwner != [2]int{} {
				require.NoError(t, os.Chown(src, tt.srcOwner[0], tt.srcOwner[1]))
			}
			err := checkHostPath(src, server, server)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, parent)
		})
	}
}

func TestSubmounts(t *testing.T) {
	tests := []struct {
		dir  string
		want []string
	}{
		{"/home/u/p", []string{"/home/u/p/node_modules"}},
		{"/home/u/p/", []string{"/home/u/p/node_modules"}},
		{"/home/u/p two", []string{"/home/u/p two/cache"}},
		{"/home/u/pp", nil},
		{"/srv", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := submounts("testdata/mountinfo", tt.dir)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestRunRefusesSubmounts mounts a tmpfs below a read-only --mount source
// on this host: the engine (API before 1.44) would leave it writable.
func TestRunRefusesSubmounts(t *testing.T) {
	w := setup(t)
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs for this test needs root; run the launch tests as root (as .ci/run does)")
	}
	p := policies.Default()
	p.Mounts = []policies.Mount{{Target: "/workspace", ReadOnly: true}}
	ref := w.image(t, "submounts", p)
	src := t.TempDir()
	sub := filepath.Join(src, "cache")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, syscall.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = syscall.Unmount(sub, 0) })
	floor := policies.StrictFloor()
	floor.Mounts.AllowSources = []string{src}
	_, err := Run(context.Background(), ref, WithVerifier(w.signer), WithFloor(floor),
		WithMounts(MountRequest{Source: src, Target: "/workspace"}),
		WithStdio(strings.NewReader(""), &lockedBuffer{}, &lockedBuffer{}))
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorContains(t, err, "has mounts below it ("+sub+") that this engine (API before 1.44) would leave writable")
	require.Empty(t, w.containers(t, digestOf(t, ref)))
}

// TestReadOnlyRecursive: from API 1.44 a read-only bind asks for
// ReadOnlyForceRecursive instead of refusing submounts, and the check
// after create requires it back.
func TestReadOnlyRecursive(t *testing.T) {
	src := t.TempDir()
	floor := policies.StrictFloor()
	floor.Mounts.AllowSources = []string{src}
	declared := map[string]policies.Mount{"/workspace": {Target: "/workspace", ReadOnly: true}}
	m, err := checkMount(MountRequest{Source: src, Target: "/workspace"}, declared, floor, [2]int{65532, 65532}, true)
	require.NoError(t, err)
	require.Equal(t, mount.Mount{Type: "bind", Source: src, Target: "/workspace", ReadOnly: true,
		BindOptions: &mount.BindOptions{ReadOnlyForceRecursive: true}}, m)
	dropped := m
	dropped.BindOptions = nil
	require.False(t, sameMounts([]mount.Mount{dropped}, []mount.Mount{m}), "an engine that drops the recursive flag is refused")
	require.True(t, sameMounts([]mount.Mount{m}, []mount.Mount{m}))
}
