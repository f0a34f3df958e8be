package launch

import (
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/drydock-dev/drydock/launch/egress"
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

// TestEgressMismatches covers allowlist mode: the server must sit on the
// run's internal network only, and the proxy must be exactly as created.
func TestEgressMismatches(t *testing.T) {
	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.example.com:443"}}
	spec, err := policies.Translate(p)
	require.NoError(t, err)
	d, err := name.NewDigest("127.0.0.1:5000/x@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")
	require.NoError(t, err)
	cfgDigest := v1.Hash{Algorithm: "sha256", Hex: "cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"}
	v := &Verified{Digest: d, ConfigDigest: cfgDigest, Policy: p, Spec: spec}
	req := request{network: "run-internal"}
	server := func(nets ...string) container.InspectResponse {
		ns := map[string]*network.EndpointSettings{}
		for _, n := range nets {
			ns[n] = &network.EndpointSettings{}
		}
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: cfgDigest.String(), HostConfig: hostConfig(spec, req)},
			Config:            &container.Config{User: spec.User, Env: wantEnv(spec, req)},
			NetworkSettings:   &container.NetworkSettings{Networks: ns},
		}
	}
	require.Equal(t, container.NetworkMode("run-internal"), hostConfig(spec, req).NetworkMode, "the placeholder is replaced")
	require.Empty(t, mismatches(server("run-internal"), v, req))
	require.Contains(t, strings.Join(mismatches(server("run-internal", "bridge"), v, req), ";"), "networks")
	noProxyEnv := server("run-internal")
	noProxyEnv.Config.Env = nil
	require.Contains(t, strings.Join(mismatches(noProxyEnv, v, req), ";"), "Env lacks HTTP_PROXY")

	want := proxyWant(spec.Egress, "sha256:proxy", "egress", engineDocker)
	proxy := func() container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: "sha256:proxy", HostConfig: want.hostConfig()},
			Config:            &container.Config{User: egress.User, Cmd: want.cmd, Entrypoint: []string{egress.BinaryPath}},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
				"egress": {}, "run-internal": {},
			}},
		}
	}
	require.Empty(t, proxyMismatches(proxy(), want, "run-internal"))
	tests := []struct {
		name string
		edit func(*container.InspectResponse)
		want string
	}{
		{"privileged", func(r *container.InspectResponse) { r.HostConfig.Privileged = true }, "Privileged"},
		{"writable root", func(r *container.InspectResponse) { r.HostConfig.ReadonlyRootfs = false }, "ReadonlyRootfs"},
		{"wider allowlist", func(r *container.InspectResponse) {
			r.Config.Cmd = append(slices.Clone(r.Config.Cmd), "--allow", "evil.example.com:443")
		}, "command"},
		{"other image", func(r *container.InspectResponse) { r.Image = "sha256:other" }, "image"},
		{"extra network", func(r *container.InspectResponse) { r.NetworkSettings.Networks["host"] = &network.EndpointSettings{} }, "networks"},
		{"capability added", func(r *container.InspectResponse) { r.HostConfig.CapAdd = []string{"NET_ADMIN"} }, "CapAdd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := proxy()
			hc := *r.HostConfig
			r.HostConfig = &hc
			tt.edit(&r)
			m := proxyMismatches(r, want, "run-internal")
			require.NotEmpty(t, m)
			require.Contains(t, m[0], tt.want)
		})
	}
}
