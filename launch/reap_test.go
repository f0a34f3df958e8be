package launch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
)

// TestReapOrphans (real dockerd): what a killed allowlist run left — a
// proxy container, an internal network (drydock before the relay layout)
// and a socket volume labelled for a
// server container that is gone — is removed; the same for a server that
// still exists, or too young, is kept.
func TestReapOrphans(t *testing.T) {
	w := setup(t)
	ctx := context.Background()
	d := w.docker
	ref := w.image(t, "reap", policies.Default())
	rc, err := d.ImagePull(ctx, ref, image.PullOptions{})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()

	suffix := fmt.Sprint(time.Now().UnixNano())
	live := "drydock-reap-live-" + suffix
	dead := "drydock-reap-dead-" + suffix
	// The live server: a container that exists (never started).
	_, err = d.ContainerCreate(ctx, &container.Config{Image: ref}, &container.HostConfig{NetworkMode: "none"}, nil, nil, live)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.ContainerRemove(context.Background(), live, container.RemoveOptions{Force: true}) })

	leftovers := func(server string) (ctr, net, vol string) {
		labels := map[string]string{LabelRun: "1", LabelEgressFor: server}
		c, err := d.ContainerCreate(ctx, &container.Config{Image: ref, Labels: labels}, &container.HostConfig{NetworkMode: "none"}, nil, nil, server+"-egress")
		require.NoError(t, err)
		n, err := d.NetworkCreate(ctx, server+"-internal", network.CreateOptions{Driver: "bridge", Internal: true, Labels: labels})
		require.NoError(t, err)
		v, err := d.VolumeCreate(ctx, volume.CreateOptions{Name: server + "-egress", Labels: labels})
		require.NoError(t, err)
		t.Cleanup(func() {
			bg := context.Background()
			_ = d.ContainerRemove(bg, c.ID, container.RemoveOptions{Force: true})
			_ = d.NetworkRemove(bg, n.ID)
			_ = d.VolumeRemove(bg, v.Name, true)
		})
		return c.ID, n.ID, v.Name
	}
	deadCtr, deadNet, deadVol := leftovers(dead)
	liveCtr, liveNet, liveVol := leftovers(live)

	var log bytes.Buffer
	reapOrphans(ctx, d, &log, time.Hour) // too young: nothing goes
	requireExists(t, d, deadCtr, deadNet, deadVol, true)

	reapOrphans(ctx, d, &log, 0)
	requireExists(t, d, deadCtr, deadNet, deadVol, false)
	requireExists(t, d, liveCtr, liveNet, liveVol, true)
	require.Contains(t, log.String(), dead+"-internal")
}

func requireExists(t *testing.T, d *client.Client, ctr, net, vol string, want bool) {
	t.Helper()
	ctx := context.Background()
	_, err := d.ContainerInspect(ctx, ctr)
	require.Equal(t, want, err == nil, "container %s: %v", ctr, err)
	_, err = d.NetworkInspect(ctx, net, network.InspectOptions{})
	require.Equal(t, want, err == nil, "network %s: %v", net, err)
	_, err = d.VolumeInspect(ctx, vol)
	require.Equal(t, want, err == nil, "volume %s: %v", vol, err)
}
