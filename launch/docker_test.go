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
	// The literal baseline of mismatches_test.go, for the same inputs.
	good := dockerDefault
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
			ContainerJSONBase: &container.ContainerJSONBase{Image: cfgDigest.String(), HostConfig: withRuntime(hostConfig(spec, req))},
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

	want := proxySettings{image: "sha256:proxy", mode: "egress", cmd: egress.Command(spec.Egress.Allow), engine: engineDocker, nets: []string{"egress", "run-internal"}}
	proxy := func() container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: "sha256:proxy", HostConfig: want.hostConfig()},
			Config:            &container.Config{User: egress.User, Cmd: want.cmd, Entrypoint: []string{egress.BinaryPath}},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
				"egress": {}, "run-internal": {},
			}},
		}
	}
	require.Empty(t, proxyMismatches(proxy(), want))
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
			m := proxyMismatches(r, want)
			require.NotEmpty(t, m)
			require.Contains(t, m[0], tt.want)
		})
	}
}

// TestRelayedMismatches covers allowlist mode on podman: the server joins
// the relay's namespace and is on no network, its proxy variables name the
// relay on loopback, and the relay and proxy have exactly their volume.
func TestRelayedMismatches(t *testing.T) {
	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.example.com:443"}}
	spec, err := policies.Translate(p)
	require.NoError(t, err)
	d, err := name.NewDigest("127.0.0.1:5000/x@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12")
	require.NoError(t, err)
	cfgDigest := v1.Hash{Algorithm: "sha256", Hex: "cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"}
	v := &Verified{Digest: d, ConfigDigest: cfgDigest, Policy: p, Spec: spec}
	req := request{network: "container:relayid", proxyURL: "http://" + egress.RelayListen, engine: enginePodman}
	require.Contains(t, wantEnv(spec, req), "HTTPS_PROXY=http://127.0.0.1:3128")
	server := func(nets ...string) container.InspectResponse {
		ns := map[string]*network.EndpointSettings{}
		for _, n := range nets {
			ns[n] = &network.EndpointSettings{}
		}
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: cfgDigest.String(), HostConfig: withRuntime(hostConfig(spec, req))},
			Config:            &container.Config{User: spec.User, Env: wantEnv(spec, req)},
			NetworkSettings:   &container.NetworkSettings{Networks: ns},
		}
	}
	require.Empty(t, mismatches(server(), v, req))
	require.Contains(t, strings.Join(mismatches(server("podman"), v, req), ";"), "networks", "a server in the relay's namespace is on no network")
	for _, mode := range []container.NetworkMode{"container:otherid", "bridge", "none", "host"} {
		other := server()
		other.HostConfig.NetworkMode = mode
		require.Contains(t, strings.Join(mismatches(other, v, req), ";"), "NetworkMode", mode)
	}
	noProxy := server()
	noProxy.Config.Env = nil
	require.Contains(t, strings.Join(mismatches(noProxy, v, req), ";"), "Env")

	relay := proxySettings{image: "sha256:proxy", mode: "none", cmd: egress.RelayCommand(egress.Plan{Allow: spec.Egress.Allow}), engine: enginePodman,
		mounts: []volumeMount{{name: "run-egress", target: egress.SocketDir, readOnly: true}}, sysctls: relaySysctls}
	// As podman reports it: no HostConfig.Mounts, the volume in Binds and Mounts.
	inspect := func() container.InspectResponse {
		hc := relay.hostConfig()
		hc.Mounts = nil
		hc.Binds = []string{"run-egress:" + egress.SocketDir + ":ro,rprivate,nosuid,nodev,rbind"}
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: "sha256:proxy", HostConfig: hc},
			Config:            &container.Config{User: egress.User, Cmd: relay.cmd, Entrypoint: []string{egress.BinaryPath}},
			Mounts:            []container.MountPoint{{Type: mount.TypeVolume, Name: "run-egress", Destination: egress.SocketDir, RW: false}},
			NetworkSettings:   &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}},
		}
	}
	require.Empty(t, proxyMismatches(inspect(), relay))
	noSysctls := inspect()
	noSysctls.HostConfig.Sysctls = nil
	require.Empty(t, proxyMismatches(noSysctls, relay), "podman 4.3 reports no sysctls")
	dockerRelay := relay
	dockerRelay.engine = engineDocker
	require.Contains(t, strings.Join(proxyMismatches(noSysctls, dockerRelay), ";"), "Sysctls", "dockerd reports them: missing is a mismatch")
	tests := []struct {
		name string
		edit func(*container.InspectResponse)
		want string
	}{
		{"writable socket volume", func(r *container.InspectResponse) { r.Mounts[0].RW = true }, "mounts"},
		{"bind without ro", func(r *container.InspectResponse) {
			r.HostConfig.Binds = []string{"run-egress:" + egress.SocketDir + ":rw"}
		}, "mounts"},
		{"host directory", func(r *container.InspectResponse) {
			r.Mounts = append(r.Mounts, container.MountPoint{Type: mount.TypeBind, Source: "/", Destination: "/host"})
		}, "mounts"},
		{"on a network", func(r *container.InspectResponse) { r.NetworkSettings.Networks["podman"] = &network.EndpointSettings{} }, "networks"},
		{"network mode", func(r *container.InspectResponse) { r.HostConfig.NetworkMode = "host" }, "NetworkMode"},
		{"another sysctl", func(r *container.InspectResponse) {
			r.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ip_forward": "1"}
		}, "Sysctls"},
		{"other DNS", func(r *container.InspectResponse) { r.HostConfig.DNS = []string{"8.8.8.8"} }, "Dns"},
		{"wider relay DNS", func(r *container.InspectResponse) {
			r.Config.Cmd = append(slices.Clone(r.Config.Cmd), "--public")
		}, "command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inspect()
			r.Mounts = slices.Clone(r.Mounts)
			tt.edit(&r)
			m := proxyMismatches(r, relay)
			require.NotEmpty(t, m)
			require.Contains(t, strings.Join(m, ";"), tt.want)
		})
	}
}

// withRuntime adds what an engine reports and drydock does not set.
func withRuntime(hc *container.HostConfig) *container.HostConfig {
	hc.Runtime = "runc"
	return hc
}
