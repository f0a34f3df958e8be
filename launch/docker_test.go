package launch

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// TestMismatches feeds mismatches what an engine that drops or adds settings
// would report; each case must be caught.
func TestMismatches(t *testing.T) {
	spec, err := policies.Translate(policies.Default())
	require.NoError(t, err)
	d, err := name.NewDigest("127.0.0.1:5000/x@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")
	require.NoError(t, err)
	cfgDigest := v1.Hash{Algorithm: "sha256", Hex: "cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"}
	v := &Verified{Digest: d, ConfigDigest: cfgDigest, Policy: policies.Default(), Spec: spec, imageEnv: []string{"PATH=/bin"}}
	req := request{
		mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/home/u/p", Target: "/workspace", ReadOnly: true}},
		env:    []string{"TOKEN=secret"},
	}
	good := func() container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: cfgDigest.String(), HostConfig: hostConfig(spec, req)},
			Config:            &container.Config{User: spec.User, Env: []string{"PATH=/bin", "TOKEN=secret"}},
		}
	}
	require.Empty(t, mismatches(good(), v, req))

	tests := []struct {
		name string
		edit func(*container.InspectResponse)
		want string
	}{
		{"mount made writable", func(r *container.InspectResponse) {
			r.HostConfig.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: "/home/u/p", Target: "/workspace"}}
		}, "Mounts"},
		{"mount dropped", func(r *container.InspectResponse) { r.HostConfig.Mounts = nil }, "Mounts"},
		{"extra bind", func(r *container.InspectResponse) { r.HostConfig.Binds = []string{"/:/host"} }, "Binds"},
		{"volumes from", func(r *container.InspectResponse) { r.HostConfig.VolumesFrom = []string{"other"} }, "VolumesFrom"},
		{"extra env", func(r *container.InspectResponse) { r.Config.Env = append(r.Config.Env, "LD_PRELOAD=/x") }, "Env has unexpected LD_PRELOAD"},
		{"env dropped", func(r *container.InspectResponse) { r.Config.Env = []string{"PATH=/bin"} }, "Env lacks TOKEN"},
		{"privileged", func(r *container.InspectResponse) { r.HostConfig.Privileged = true }, "Privileged"},
		{"network", func(r *container.InspectResponse) { r.HostConfig.NetworkMode = "host" }, "NetworkMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			hc := *r.HostConfig
			r.HostConfig = &hc
			cfg := *r.Config
			r.Config = &cfg
			tt.edit(&r)
			m := mismatches(r, v, req)
			require.NotEmpty(t, m)
			require.Contains(t, m[0], tt.want)
			for _, s := range m {
				require.NotContains(t, s, "secret", "values never in errors")
			}
		})
	}
}
