package launch

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// podman returns a Docker API client for the podman service hack/dev-env
// starts (DRYDOCK_TEST_PODMAN_HOST). Under CI=true podman is expected, so a
// missing or silent service fails the test; elsewhere it skips.
func podman(t *testing.T) *client.Client {
	t.Helper()
	host := os.Getenv("DRYDOCK_TEST_PODMAN_HOST")
	why := "DRYDOCK_TEST_PODMAN_HOST is not set"
	if host != "" {
		c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err = c.Ping(ctx); err == nil {
				t.Cleanup(func() { c.Close() })
				return c
			}
		}
		why = "podman at " + host + " does not answer: " + err.Error()
	}
	testenv.Unavailable(t, "%s; start it with `hack/dev-env up` and `eval \"$(hack/dev-env env)\"`", why)
	return nil
}

// TestPodman runs a verified image through podman's Docker-compatible API:
// the same create → inspect-and-compare → start path as with dockerd.
func TestPodman(t *testing.T) {
	w := setup(t)
	pm := podman(t)
	ref := w.image(t, "podman", policies.Default())
	pinned := digestOf(t, ref)

	start := time.Now()
	s := w.start(t, ref, WithDocker(pm))
	t.Logf("podman: run → initialize (pull included) %v", time.Since(start))
	require.Equal(t, "via podman", echoText(t, s, "via podman"))
	got := probe(t, s.ClientSession, map[string]any{"connect": "127.0.0.1:9"})
	require.Equal(t, false, got["rootWritable"], "read-only root filesystem")
	require.Equal(t, true, got["tmpWritable"], "tmpfs at /tmp")
	require.EqualValues(t, 65532, got["uid"])
	require.Equal(t, true, got["noNewPrivs"])
	require.Equal(t, "0000000000000000", got["capEff"], "every capability dropped")
	// Podman's own writable tmpfs mounts of read-only containers are
	// replaced by drydock's noexec ones.
	mounts := probe(t, s.ClientSession, map[string]any{"readFile": "/proc/self/mounts"})["file"].(string)
	for _, dir := range []string{"/tmp", "/run", "/var/tmp"} {
		line := ""
		for _, l := range strings.Split(mounts, "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[1] == dir {
				line = l
			}
		}
		require.Contains(t, line, "tmpfs", "%s is a tmpfs: %s", dir, mounts)
		require.Contains(t, line, "noexec", "%s is noexec", dir)
	}

	require.NoError(t, s.stdin.Close())
	r := s.wait(t)
	require.NoError(t, r.err)
	require.Equal(t, 0, r.code)
	// The container is removed on podman too.
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := pm.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+pinned))})
		require.NoError(t, err)
		if len(list) == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "podman still has the container 30s after the run ended")
		time.Sleep(100 * time.Millisecond)
	}
}
