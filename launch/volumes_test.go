package launch

import (
	"context"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/policies"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// TestImageVolumes: an image VOLUME the policy does not cover is refused
// before any container exists; covered by a policy tmpfs, the engine makes
// no volume there and the run's mount check passes (dockerd and podman).
func TestImageVolumes(t *testing.T) {
	w := setup(t)
	volumes := func(c *v1.Config) { c.Volumes = map[string]struct{}{"/data": {}, "/var/cache/app": {}} }

	ref := w.imageAt(t, w.reg, "volumes-refused", policies.Default(), volumes)
	_, err := Run(context.Background(), ref, WithVerifier(w.signer), WithStdio(strings.NewReader(""), &lockedBuffer{}, &lockedBuffer{}))
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorContains(t, err, "declares VOLUME /data /var/cache/app, which the engine would mount writable and exec-allowed; declare each path as a tmpfs")
	require.NotContains(t, err.Error(), "\n", "one sentence")
	require.Empty(t, w.containers(t, digestOf(t, ref)), "a refused run created a container")

	p := policies.Default()
	p.Tmpfs = append(p.Tmpfs, policies.Tmpfs{Path: "/data", Size: "16Mi"}, policies.Tmpfs{Path: "/var/cache/app", Size: "16Mi"})
	covered := w.imageAt(t, w.reg, "volumes-tmpfs", p, volumes)
	for _, e := range []struct {
		name string
		opts func(*testing.T) []Option
	}{
		{"dockerd", func(*testing.T) []Option { return nil }},
		{"podman", func(t *testing.T) []Option { return []Option{WithDocker(podman(t))} }},
	} {
		t.Run(e.name, func(t *testing.T) {
			s := w.start(t, covered, e.opts(t)...)
			got := probe(t, s.ClientSession, map[string]any{"writeDir": "/data"})
			require.Equal(t, true, got["dirWritable"], "the policy tmpfs is at /data")
			require.NoError(t, s.stdin.Close())
			require.NoError(t, s.wait(t).err)
		})
	}
}
