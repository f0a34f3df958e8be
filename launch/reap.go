package launch

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// orphanAge protects a run that is still starting: its proxy exists a
// moment before its server container does.
const orphanAge = 2 * time.Minute

// reapOrphans removes the egress proxies, relays and socket volumes (and
// the internal networks of drydock before the relay layout) of allowlist
// runs that were killed before they could clean up (SIGKILL): everything
// labelled for a server container that no longer exists and older than
// minAge. It is best effort; each removal is reported on stderr.
func reapOrphans(ctx context.Context, d Docker, stderr io.Writer, minAge time.Duration) {
	now := time.Now()
	f := filters.NewArgs(filters.Arg("label", LabelEgressFor))
	gone := map[string]bool{}
	serverGone := func(server string) bool {
		if g, ok := gone[server]; ok {
			return g
		}
		_, err := d.ContainerInspect(ctx, server)
		gone[server] = server != "" && client.IsErrNotFound(err)
		return gone[server]
	}
	orphan := func(labels map[string]string, created time.Time) bool {
		return now.Sub(created) >= minAge && serverGone(labels[LabelEgressFor])
	}
	if ctrs, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
		for _, c := range ctrs {
			if orphan(c.Labels, time.Unix(c.Created, 0)) && d.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) == nil {
				fmt.Fprintf(stderr, "drydock: removed container %s left by a killed run\n", firstName(c.Names, c.ID))
			}
		}
	}
	if nets, err := d.NetworkList(ctx, network.ListOptions{Filters: f}); err == nil {
		for _, n := range nets {
			if orphan(n.Labels, n.Created) && d.NetworkRemove(ctx, n.ID) == nil {
				fmt.Fprintf(stderr, "drydock: removed network %s left by a killed run\n", n.Name)
			}
		}
	}
	if vols, err := d.VolumeList(ctx, volume.ListOptions{Filters: f}); err == nil {
		for _, v := range vols.Volumes {
			created, err := time.Parse(time.RFC3339, v.CreatedAt)
			if err == nil && orphan(v.Labels, created) && d.VolumeRemove(ctx, v.Name, false) == nil {
				fmt.Fprintf(stderr, "drydock: removed volume %s left by a killed run\n", v.Name)
			}
		}
	}
}

func firstName(names []string, id string) string {
	if len(names) > 0 {
		return names[0]
	}
	return id
}
