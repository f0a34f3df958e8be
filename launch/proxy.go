package launch

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// stopGrace is how long a server gets after SIGTERM before it is killed.
const stopGrace = 10 * time.Second

// run creates the container for a verified image, checks that the engine
// applied the policy, starts it and proxies stdio until it exits.
func run(ctx context.Context, v *Verified, o *options, engine engineKind) (int, error) {
	d := o.docker
	ref := v.Digest.String()
	// Cleanup must happen even when ctx was cancelled by a signal.
	bg := context.WithoutCancel(ctx)
	req, err := prepare(v, o, len(o.mounts) > 0 && recursiveReadOnly(ctx, d))
	if err != nil {
		return 0, err
	}
	req.engine = engine
	name := containerName(v)
	if v.Spec.Egress != nil {
		eg, err := startEgress(ctx, d, v, o, name, req.engine)
		if err != nil {
			return 0, err
		}
		defer eg.cleanup(bg)
		req.network, req.proxyURL = eg.serverNetwork, eg.proxyURL
		eg.serverID = name
	}
	// Create first and pull only when the engine lacks the image, as docker
	// run does: a warm launch makes one round trip fewer. Either way the
	// inspection below checks that the container runs the verified config.
	create := func() (container.CreateResponse, error) {
		return d.ContainerCreate(ctx, containerConfig(v, req.args, req), hostConfig(v.Spec, req), nil, nil, name)
	}
	created, err := create()
	if err != nil && client.IsErrNotFound(err) {
		if v.Offline {
			// Offline, the engine's copy is the only one there is.
			return 0, fmt.Errorf("the registry is unreachable and %s is not in the local container engine; run it once while online", ref)
		}
		if err := ensureImage(ctx, d, ref); err != nil {
			return 0, err
		}
		created, err = create()
	}
	if err != nil {
		return 0, fmt.Errorf("creating container for %s: %w", ref, err)
	}
	id := created.ID
	// RemoveVolumes: an image VOLUME the check refused must not stay behind.
	remove := func() { _ = d.ContainerRemove(bg, id, container.RemoveOptions{Force: true, RemoveVolumes: true}) }

	info, err := d.ContainerInspect(ctx, id)
	if err != nil {
		remove()
		return 0, fmt.Errorf("inspecting container for %s: %w", ref, err)
	}
	if m := mismatches(info, v, req); len(m) > 0 {
		remove()
		return 0, fmt.Errorf("%w: the container engine did not apply the policy of %s (%s); not starting it", ErrRefused, ref, strings.Join(m, "; "))
	}

	hj, err := d.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		remove()
		return 0, fmt.Errorf("attaching to container for %s: %w", ref, err)
	}
	defer hj.Close()
	// Wait is registered before start so a fast exit is not missed.
	waitC, errC := d.ContainerWait(bg, id, container.WaitConditionNextExit)
	if err := d.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		remove()
		return 0, fmt.Errorf("starting container for %s: %w", ref, err)
	}

	outDone := make(chan struct{})
	go func() {
		// The stream is multiplexed (no TTY): stdout carries MCP, stderr logs.
		_, _ = stdcopy.StdCopy(o.stdout, o.stderr, hj.Reader)
		close(outDone)
	}()
	go func() {
		_, _ = io.Copy(hj.Conn, o.stdin)
		_ = hj.CloseWrite()
	}()

	var code int
	select {
	case res := <-waitC:
		code = exitCode(res)
	case err := <-errC:
		remove()
		return 0, fmt.Errorf("waiting for container of %s: %w", ref, err)
	case <-ctx.Done():
		code, err = stop(bg, d, id, waitC, errC)
		if err != nil {
			return 0, err
		}
	}
	// Drain what the server wrote before it exited.
	select {
	case <-outDone:
	case <-time.After(5 * time.Second):
	}
	return code, nil
}

// stop forwards SIGTERM, then kills after the grace period.
func stop(ctx context.Context, d Docker, id string, waitC <-chan container.WaitResponse, errC <-chan error) (int, error) {
	_ = d.ContainerKill(ctx, id, "SIGTERM")
	select {
	case res := <-waitC:
		return exitCode(res), nil
	case err := <-errC:
		return 0, fmt.Errorf("waiting for container %s to stop: %w", id, err)
	case <-time.After(stopGrace):
		_ = d.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		return 137, nil
	}
}

func exitCode(res container.WaitResponse) int {
	if res.Error != nil && res.Error.Message != "" && res.StatusCode == 0 {
		return 125
	}
	return int(res.StatusCode)
}
