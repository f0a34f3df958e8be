package launch

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"
)

// sandboxEngine is an engine that reports back what it was asked to
// create, after edit (an engine dropping a setting). Calls it does not
// implement panic through the nil embedded interface.
type sandboxEngine struct {
	Docker
	edit    func(*container.InspectResponse)
	created *container.HostConfig
	config  *container.Config
	started bool
	removed bool
}

func (e *sandboxEngine) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{}, nil
}

func (e *sandboxEngine) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{
		ID: "sha256:" + sixtyFour("c"),
		Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
			Env: []string{"PATH=/bin"}, Volumes: map[string]struct{}{"/data/": {}},
		}},
	}, nil
}

func (e *sandboxEngine) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	e.config, e.created = cfg, hc
	return container.CreateResponse{ID: "c1"}, nil
}

func (e *sandboxEngine) ContainerInspect(context.Context, string) (container.InspectResponse, error) {
	hc := *e.created
	hc.Runtime = "runc" // what dockerd reports
	cfg := *e.config
	got := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{Image: "sha256:" + sixtyFour("c"), HostConfig: &hc},
		Config:            &cfg,
	}
	if e.edit != nil {
		e.edit(&got)
	}
	return got, nil
}

func (e *sandboxEngine) ContainerAttach(context.Context, string, container.AttachOptions) (types.HijackedResponse, error) {
	a, b := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, b) }()
	return types.NewHijackedResponse(a, "application/vnd.docker.multiplexed-stream"), nil
}

func (e *sandboxEngine) ContainerStart(context.Context, string, container.StartOptions) error {
	e.started = true
	return nil
}

func (e *sandboxEngine) ContainerRemove(context.Context, string, container.RemoveOptions) error {
	e.removed = true
	return nil
}

func sixtyFour(c string) string {
	s := ""
	for range 64 {
		s += c
	}
	return s
}

// TestStartSandboxed: a start check's container is created from the
// policy's translation like run's (plus a tmpfs over each image VOLUME),
// and an engine that drops a setting gets the container removed unstarted.
func TestStartSandboxed(t *testing.T) {
	ref, err := name.NewDigest("127.0.0.1:5000/x/up@sha256:" + sixtyFour("a"))
	require.NoError(t, err)
	spec, err := policies.Translate(policies.Default())
	require.NoError(t, err)
	spec.User = "" // the upstream keeps its own user

	t.Run("applied", func(t *testing.T) {
		e := &sandboxEngine{}
		s, err := StartSandboxed(context.Background(), e, ref, spec, []string{"serve"}, io.Discard)
		require.NoError(t, err)
		defer s.Remove()
		require.True(t, e.started)
		hc := e.created
		require.True(t, hc.ReadonlyRootfs)
		require.Equal(t, container.NetworkMode("none"), hc.NetworkMode)
		require.Equal(t, []string{"ALL"}, []string(hc.CapDrop))
		require.Equal(t, []string{"no-new-privileges"}, hc.SecurityOpt)
		require.Equal(t, int64(512<<20), hc.Memory)
		require.Equal(t, int64(128), *hc.PidsLimit)
		require.Equal(t, "none", hc.LogConfig.Type)
		require.Equal(t, map[string]string{
			"/tmp":  "rw,noexec,nosuid,nodev,size=67108864",
			"/data": "rw,noexec,nosuid,nodev,size=67108864",
		}, hc.Tmpfs)
		require.Equal(t, "", e.config.User)
		require.Equal(t, ref.String(), e.config.Image)
		require.Equal(t, []string{"serve"}, []string(e.config.Cmd))
		require.Equal(t, "1", e.config.Labels[LabelSmoke])
		require.Empty(t, e.config.Labels[LabelRun], "reaping and run's lookups must not mistake it for a server")
	})
	t.Run("engine dropped read-only", func(t *testing.T) {
		e := &sandboxEngine{edit: func(r *container.InspectResponse) { r.HostConfig.ReadonlyRootfs = false }}
		_, err := StartSandboxed(context.Background(), e, ref, spec, nil, io.Discard)
		require.ErrorIs(t, err, ErrRefused)
		require.ErrorContains(t, err, "ReadonlyRootfs is false, policy wants true")
		require.False(t, e.started, "never started")
		require.True(t, e.removed, "removed")
	})
	t.Run("allowlist", func(t *testing.T) {
		p := policies.Default()
		p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"example.com:443"}}
		al, err := policies.Translate(p)
		require.NoError(t, err)
		e := &sandboxEngine{}
		_, err = StartSandboxed(context.Background(), e, ref, al, nil, io.Discard)
		require.ErrorContains(t, err, "network mode allowlist needs an egress proxy")
		require.Nil(t, e.created, "nothing created")
	})
}
