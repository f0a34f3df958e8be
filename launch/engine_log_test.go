package launch

import (
	"context"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// engineLog is the real engine with a log of the calls launch makes to it:
// the tests check what happened to a container, in which order.
type engineLog struct {
	Docker
	mu     sync.Mutex
	events []event
	// inspected is closed at the first ContainerInspect.
	inspected chan struct{}
	once      sync.Once
}

type event struct {
	call, id string
	at       time.Duration
}

func newEngineLog(d Docker) *engineLog { return &engineLog{Docker: d, inspected: make(chan struct{})} }

var recStart = time.Now()

func (r *engineLog) note(call, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{call, id, time.Since(recStart)})
}

func (r *engineLog) log() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func (r *engineLog) ContainerCreate(ctx context.Context, c *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, p *ocispec.Platform, name string) (container.CreateResponse, error) {
	res, err := r.Docker.ContainerCreate(ctx, c, hc, nc, p, name)
	r.note("create", res.ID)
	return res, err
}

func (r *engineLog) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	res, err := r.Docker.ContainerInspect(ctx, id)
	r.note("inspect", id)
	r.once.Do(func() { close(r.inspected) })
	return res, err
}

func (r *engineLog) ContainerAttach(ctx context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error) {
	res, err := r.Docker.ContainerAttach(ctx, id, o)
	r.note("attach", id)
	return res, err
}

func (r *engineLog) ContainerStart(ctx context.Context, id string, o container.StartOptions) error {
	r.note("start", id)
	return r.Docker.ContainerStart(ctx, id, o)
}

func (r *engineLog) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	err := r.Docker.ContainerRemove(ctx, id, o)
	r.note("remove", id)
	return err
}

func (r *engineLog) ServerVersion(ctx context.Context) (types.Version, error) {
	res, err := r.Docker.ServerVersion(ctx)
	r.note("version", "")
	return res, err
}
