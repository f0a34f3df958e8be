package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// The server container's lifecycle, one step per function: set up (create
// and check), start, pump stdio, wait. Nothing is started before the image
// is verified and the engine's report matches the policy.

// stopGrace is how long a server gets after SIGTERM before it is killed.
const stopGrace = 10 * time.Second

// errNotPulled says the engine lacks the image and setUp was told not to
// pull it (the signature is not verified yet): the caller pulls afterwards.
var errNotPulled = errors.New("image not in the engine")

// server is a created, checked and not yet started container.
type server struct {
	d   Docker
	id  string
	ref string
	// egressUp, in allowlist and public mode, starts (or waits for the
	// start of) the checked egress gateway and relay; the server starts
	// only after it succeeded.
	egressUp func() error
}

// run starts a set-up server (early, made while the signature was checked,
// with earlyCleanup; or nil: it is set up now) and proxies stdio until it
// exits.
func run(ctx context.Context, v *Verified, o *options, engine engineKind, early *server, earlyCleanup func()) (int, error) {
	bg := context.WithoutCancel(ctx) // cleanup must happen even after a signal
	s, cleanup := early, earlyCleanup
	if s == nil {
		var err error
		if s, cleanup, err = setUp(ctx, v, o, engine, true); err != nil {
			return 0, err
		}
	}
	defer cleanup()
	if s.egressUp != nil {
		if err := s.egressUp(); err != nil {
			s.remove(bg)
			return 0, err
		}
	}
	hj, waitC, errC, err := s.start(ctx, bg)
	if err != nil {
		return 0, err
	}
	defer hj.Close()
	outDone := pump(hj, o)
	code, err := s.wait(ctx, bg, waitC, errC)
	if err != nil {
		return 0, err
	}
	// Drain what the server wrote before it exited.
	select {
	case <-outDone:
	case <-time.After(5 * time.Second):
	}
	return code, nil
}

// setUp creates the container of v (with its egress gateway and relay, if
// the policy has them) and checks that the engine applied the policy; it
// starts nothing of the server. verified says v's signature verified:
// then the digest may be pulled when the engine lacks it (otherwise that
// is errNotPulled), and the checked gateway and relay start at once, while
// the server is created and checked (otherwise the server's egressUp
// starts them). The returned cleanup removes the egress containers; on
// error nothing is left behind.
func setUp(ctx context.Context, v *Verified, o *options, engine engineKind, verified bool) (*server, func(), error) {
	d := o.docker
	bg := context.WithoutCancel(ctx)
	cleanup := func() {}
	req, err := prepare(v, o, len(o.mounts) > 0 && recursiveReadOnly(ctx, d))
	if err != nil {
		return nil, cleanup, err
	}
	req.engine = engine
	name := containerName(v)
	var up func() error
	if v.Spec.Egress != nil {
		// Made early, the gateway and relay are wasted engine work when the
		// server's image still has to be pulled (the early path never
		// pulls): ask first.
		if !verified {
			if _, err := d.ImageInspect(ctx, v.Digest.String()); client.IsErrNotFound(err) {
				return nil, cleanup, errNotPulled
			}
		}
		eg, err := createEgress(ctx, d, v, o, name, req.engine)
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { eg.cleanup(bg) }
		req.network, req.proxyURL = eg.serverNetwork, eg.proxyURL
		eg.serverID = name
		up = func() error { return eg.startBoth(ctx, v) }
		if verified {
			started := make(chan error, 1)
			go func() { started <- eg.startBoth(ctx, v) }()
			up = sync.OnceValue(func() error { return <-started })
		}
	}
	s, err := create(ctx, d, v, req, name, verified)
	if err == nil {
		err = s.check(ctx, v, req)
	}
	if err != nil {
		if verified && up != nil {
			_ = up() // the start in flight ends before cleanup removes its containers
		}
		cleanup()
		return nil, func() {}, err
	}
	s.egressUp = up
	return s, cleanup, nil
}

// create creates the container. It asks first and pulls only when the
// engine lacks the image, as docker run does: a warm launch makes one round
// trip fewer. Either way check then verifies the container's config.
func create(ctx context.Context, d Docker, v *Verified, req request, name string, pull bool) (*server, error) {
	ref := v.Digest.String()
	mk := func() (container.CreateResponse, error) {
		return d.ContainerCreate(ctx, containerConfig(v, req.args, req), hostConfig(v.Spec, req), nil, nil, name)
	}
	created, err := mk()
	if err != nil && client.IsErrNotFound(err) {
		switch {
		case !pull:
			return nil, errNotPulled
		case v.Offline:
			// Offline, the engine's copy is the only one there is.
			return nil, fmt.Errorf("the registry is unreachable and %s is not in the local container engine; run it once while online", ref)
		}
		if err := ensureImage(ctx, d, ref); err != nil {
			return nil, err
		}
		created, err = mk()
	}
	if err != nil {
		return nil, fmt.Errorf("creating container for %s: %w", ref, err)
	}
	return &server{d: d, id: created.ID, ref: ref}, nil
}

// check inspects the container and removes it, refusing, when the engine
// did not apply the policy.
func (s *server) check(ctx context.Context, v *Verified, req request) error {
	info, err := s.d.ContainerInspect(ctx, s.id)
	if err != nil {
		s.remove(context.WithoutCancel(ctx))
		return fmt.Errorf("inspecting container for %s: %w", s.ref, err)
	}
	if m := mismatches(info, v, req); len(m) > 0 {
		s.remove(context.WithoutCancel(ctx))
		return fmt.Errorf("%w: the container engine did not apply the policy of %s (%s); not starting it", ErrRefused, s.ref, strings.Join(m, "; "))
	}
	return nil
}

// remove deletes the container. RemoveVolumes: an image VOLUME the check
// refused must not stay behind.
func (s *server) remove(ctx context.Context) {
	_ = s.d.ContainerRemove(ctx, s.id, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// start attaches to the container and starts it. The wait is registered
// before the start so that a fast exit is not missed.
func (s *server) start(ctx, bg context.Context) (types.HijackedResponse, <-chan container.WaitResponse, <-chan error, error) {
	hj, err := s.d.ContainerAttach(ctx, s.id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		s.remove(bg)
		return hj, nil, nil, fmt.Errorf("attaching to container for %s: %w", s.ref, err)
	}
	waitC, errC := s.d.ContainerWait(bg, s.id, container.WaitConditionNextExit)
	if err := s.d.ContainerStart(ctx, s.id, container.StartOptions{}); err != nil {
		hj.Close()
		s.remove(bg)
		return hj, nil, nil, fmt.Errorf("starting container for %s: %w", s.ref, err)
	}
	return hj, waitC, errC, nil
}

// pump copies the client's stdin to the server and the server's output
// back; the returned channel closes when the server's output ends.
func pump(hj types.HijackedResponse, o *options) <-chan struct{} {
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
	return outDone
}

// wait returns the server's exit code; a cancelled ctx stops it first.
func (s *server) wait(ctx, bg context.Context, waitC <-chan container.WaitResponse, errC <-chan error) (int, error) {
	select {
	case res := <-waitC:
		return exitCode(res), nil
	case err := <-errC:
		s.remove(bg)
		return 0, fmt.Errorf("waiting for container of %s: %w", s.ref, err)
	case <-ctx.Done():
		return stop(bg, s.d, s.id, waitC, errC)
	}
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
