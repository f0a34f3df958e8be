package launch

import (
	"context"
	"io"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
)

// TestNoLogCopy: the MCP stream reaches the client over attach and the
// engine keeps no copy of it (`docker logs` has nothing), on dockerd and,
// when its service is up, on podman.
func TestNoLogCopy(t *testing.T) {
	w := setup(t)
	engines := []struct {
		name   string
		engine func(*testing.T) *client.Client
	}{
		{"dockerd", func(*testing.T) *client.Client { return w.docker }},
		{"podman", podman},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			d := e.engine(t)
			ref := w.image(t, "nologs-"+e.name, policies.Default())
			pinned := digestOf(t, ref)
			s := w.start(t, ref, WithDocker(d))
			const marker = "only-over-attach-5f1c"
			require.Equal(t, marker, echoText(t, s, marker))

			list, err := d.ContainerList(context.Background(), container.ListOptions{
				Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+pinned)),
			})
			require.NoError(t, err)
			require.Len(t, list, 1)
			info, err := d.ContainerInspect(context.Background(), list[0].ID)
			require.NoError(t, err)
			require.Equal(t, "none", info.HostConfig.LogConfig.Type)
			rc, err := d.ContainerLogs(context.Background(), list[0].ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
			if err == nil {
				logs, rerr := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, rerr)
				require.NotContains(t, string(logs), marker, "the engine kept a copy of the MCP stream")
			} else {
				t.Logf("%s refuses to read logs: %v", e.name, err)
			}
			require.NoError(t, s.stdin.Close())
			r := s.wait(t)
			require.NoError(t, r.err)
		})
	}
}
