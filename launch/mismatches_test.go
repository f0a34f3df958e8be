package launch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// The baselines below are written out as dockerd 20.10 (API 1.41) reports
// a container drydock created, checked by hand against `docker inspect`.
// They are never built by hostConfig, so a check that always passes, or a
// setting hostConfig stops asking for, makes a test fail.

const (
	testImageDigest  = "127.0.0.1:5000/x@sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	testConfigDigest = "sha256:cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"
)

// dockerDefault is the server container of the default policy with one
// read-only --mount and one --env.
func dockerDefault() container.InspectResponse {
	pids, init := int64(128), true
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			Image: testConfigDigest,
			HostConfig: &container.HostConfig{
				LogConfig:      container.LogConfig{Type: "none", Config: map[string]string{}},
				NetworkMode:    "none",
				AutoRemove:     true,
				CapDrop:        []string{"ALL"},
				CgroupnsMode:   "private",
				IpcMode:        "private",
				ReadonlyRootfs: true,
				SecurityOpt:    []string{"no-new-privileges"},
				Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=67108864"},
				ShmSize:        67108864,
				Runtime:        "runc",
				Resources: container.Resources{
					Memory: 536870912, MemorySwap: 536870912, NanoCPUs: 1000000000, PidsLimit: &pids,
					Devices: []container.DeviceMapping{},
				},
				Mounts: []mount.Mount{{Type: "bind", Source: "/home/u/p", Target: "/workspace", ReadOnly: true}},
				Init:   &init,
			},
		},
		Mounts: []container.MountPoint{{Type: "bind", Source: "/home/u/p", Destination: "/workspace", RW: false, Propagation: "rprivate"}},
		Config: &container.Config{User: "65532:65532", Env: []string{"PATH=/bin", "TOKEN=secret"}},
	}
}

// dockerAllowlist is the server container of an allowlist policy, on the
// run's internal network.
func dockerAllowlist() container.InspectResponse {
	r := dockerDefault()
	r.HostConfig.NetworkMode = "run-internal"
	r.HostConfig.Mounts = nil
	r.Mounts = []container.MountPoint{}
	r.Config.Env = []string{
		"PATH=/bin",
		"HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://127.0.0.1:3128",
		"http_proxy=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128",
		"NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1",
	}
	r.NetworkSettings = &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{"run-internal": {}}}
	return r
}

// serverCase weakens exactly one field of a baseline.
type serverCase struct {
	field     string
	allowlist bool // use the allowlist baseline
	edit      func(*container.InspectResponse)
}

var serverCases = []serverCase{
	{field: "image", edit: func(r *container.InspectResponse) { r.Image = "sha256:0000" }},
	{field: "user", edit: func(r *container.InspectResponse) { r.Config.User = "0:0" }},
	{field: "ReadonlyRootfs", edit: func(r *container.InspectResponse) { r.HostConfig.ReadonlyRootfs = false }},
	{field: "NetworkMode", edit: func(r *container.InspectResponse) { r.HostConfig.NetworkMode = "host" }},
	{field: "CapDrop", edit: func(r *container.InspectResponse) { r.HostConfig.CapDrop = []string{"NET_RAW"} }},
	{field: "CapAdd", edit: func(r *container.InspectResponse) { r.HostConfig.CapAdd = []string{"SYS_ADMIN"} }},
	{field: "SecurityOpt", edit: func(r *container.InspectResponse) { r.HostConfig.SecurityOpt = nil }},
	{field: "Memory", edit: func(r *container.InspectResponse) { r.HostConfig.Memory = 0 }},
	{field: "MemorySwap", edit: func(r *container.InspectResponse) { r.HostConfig.MemorySwap = -1 }},
	{field: "NanoCpus", edit: func(r *container.InspectResponse) { r.HostConfig.NanoCPUs = 0 }},
	{field: "PidsLimit", edit: func(r *container.InspectResponse) { r.HostConfig.PidsLimit = nil }},
	{field: "Tmpfs", edit: func(r *container.InspectResponse) {
		r.HostConfig.Tmpfs = map[string]string{"/tmp": "rw,nosuid,nodev,size=67108864"}
	}},
	{field: "Init", edit: func(r *container.InspectResponse) { no := false; r.HostConfig.Init = &no }},
	{field: "Privileged", edit: func(r *container.InspectResponse) { r.HostConfig.Privileged = true }},
	{field: "Binds", edit: func(r *container.InspectResponse) { r.HostConfig.Binds = []string{"/:/host"} }},
	{field: "Mounts", edit: func(r *container.InspectResponse) {
		r.HostConfig.Mounts = []mount.Mount{{Type: "bind", Source: "/home/u/p", Target: "/workspace"}}
	}},
	{field: "VolumesFrom", edit: func(r *container.InspectResponse) { r.HostConfig.VolumesFrom = []string{"other"} }},
	{field: "Devices", edit: func(r *container.InspectResponse) {
		r.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "rwm"}}
	}},
	{field: "PidMode", edit: func(r *container.InspectResponse) { r.HostConfig.PidMode = "host" }},
	{field: "IpcMode", edit: func(r *container.InspectResponse) { r.HostConfig.IpcMode = "shareable" }},
	{field: "UTSMode", edit: func(r *container.InspectResponse) { r.HostConfig.UTSMode = "host" }},
	{field: "CgroupnsMode", edit: func(r *container.InspectResponse) { r.HostConfig.CgroupnsMode = "host" }},
	{field: "UsernsMode", edit: func(r *container.InspectResponse) { r.HostConfig.UsernsMode = "host" }},
	{field: "Sysctls", edit: func(r *container.InspectResponse) {
		r.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
	}},
	{field: "ExtraHosts", edit: func(r *container.InspectResponse) { r.HostConfig.ExtraHosts = []string{"metadata:169.254.169.254"} }},
	{field: "Runtime", edit: func(r *container.InspectResponse) { r.HostConfig.Runtime = "nvidia" }},
	{field: "DeviceRequests", edit: func(r *container.InspectResponse) {
		r.HostConfig.DeviceRequests = []container.DeviceRequest{{Driver: "nvidia", Count: -1, Capabilities: [][]string{{"gpu"}}}}
	}},
	{field: "LogConfig", edit: func(r *container.InspectResponse) { r.HostConfig.LogConfig = container.LogConfig{Type: "json-file"} }},
	{field: "MountPoints", edit: func(r *container.InspectResponse) {
		r.Mounts = append(r.Mounts, container.MountPoint{Type: "volume", Name: "0a1b", Destination: "/data", RW: true})
	}},
	{field: "networks", allowlist: true, edit: func(r *container.InspectResponse) {
		r.NetworkSettings.Networks["bridge"] = &network.EndpointSettings{}
	}},
}

// serverInputs are the verified image and request the baselines belong to.
func serverInputs(t *testing.T, allowlist bool) (*Verified, request) {
	t.Helper()
	p := policies.Default()
	req := request{
		mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/home/u/p", Target: "/workspace", ReadOnly: true}},
		env:    []string{"TOKEN=secret"},
	}
	if allowlist {
		p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.example.com:443"}}
		req = request{network: "run-internal"}
	}
	spec, err := policies.Translate(p)
	require.NoError(t, err)
	d, err := name.NewDigest(testImageDigest)
	require.NoError(t, err)
	cfg, err := v1.NewHash(testConfigDigest)
	require.NoError(t, err)
	return &Verified{Digest: d, ConfigDigest: cfg, Policy: p, Spec: spec, imageEnv: []string{"PATH=/bin"}}, req
}

// TestMismatchesPerField weakens one field at a time: exactly that field
// must be reported, and nothing else.
func TestMismatchesPerField(t *testing.T) {
	for _, allowlist := range []bool{false, true} {
		v, req := serverInputs(t, allowlist)
		base := dockerDefault
		if allowlist {
			base = dockerAllowlist
		}
		require.Empty(t, mismatches(base(), v, req), "baseline (allowlist %t)", allowlist)
	}
	for _, tt := range serverCases {
		t.Run(tt.field, func(t *testing.T) {
			v, req := serverInputs(t, tt.allowlist)
			r := dockerDefault()
			if tt.allowlist {
				r = dockerAllowlist()
			}
			tt.edit(&r)
			m := mismatches(r, v, req)
			require.Len(t, m, 1, "mismatches() = %q", m)
			require.True(t, strings.HasPrefix(m[0], tt.field+" is "), "mismatches() = %q, want one naming %s", m, tt.field)
		})
	}
}

// proxyDocker is the allowlist proxy container as dockerd reports it.
func proxyDocker() container.InspectResponse {
	pids := int64(64)
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			Image: "sha256:proxy",
			HostConfig: &container.HostConfig{
				LogConfig:      container.LogConfig{Type: "json-file", Config: map[string]string{}},
				NetworkMode:    "egress",
				CapDrop:        []string{"ALL"},
				ReadonlyRootfs: true,
				SecurityOpt:    []string{"no-new-privileges"},
				Runtime:        "runc",
				Resources: container.Resources{
					Memory: 67108864, MemorySwap: 67108864, NanoCPUs: 500000000, PidsLimit: &pids,
					Devices: []container.DeviceMapping{},
				},
			},
		},
		Mounts: []container.MountPoint{},
		Config: &container.Config{
			User:       "65532:65532",
			Cmd:        []string{"egress-proxy", "--listen", ":3128", "--allow", "api.example.com:443"},
			Entrypoint: []string{"/drydock"},
		},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{"egress": {}, "run-internal": {}}},
	}
}

var proxyWant = proxySettings{
	image: "sha256:proxy", mode: "egress", engine: engineDocker, nets: []string{"egress", "run-internal"},
	cmd: []string{"egress-proxy", "--listen", ":3128", "--allow", "api.example.com:443"},
}

var proxyCases = []serverCase{
	{field: "image", edit: func(r *container.InspectResponse) { r.Image = "sha256:other" }},
	{field: "user", edit: func(r *container.InspectResponse) { r.Config.User = "0:0" }},
	{field: "command", edit: func(r *container.InspectResponse) {
		r.Config.Cmd = append(slices.Clone(r.Config.Cmd), "--allow", "evil.example.com:443")
	}},
	{field: "entrypoint", edit: func(r *container.InspectResponse) { r.Config.Entrypoint = []string{"/bin/sh"} }},
	{field: "ReadonlyRootfs", edit: func(r *container.InspectResponse) { r.HostConfig.ReadonlyRootfs = false }},
	{field: "CapDrop", edit: func(r *container.InspectResponse) { r.HostConfig.CapDrop = nil }},
	{field: "Tmpfs", edit: func(r *container.InspectResponse) { r.HostConfig.Tmpfs = map[string]string{"/tmp": "rw"} }},
	{field: "CapAdd", edit: func(r *container.InspectResponse) { r.HostConfig.CapAdd = []string{"NET_ADMIN"} }},
	{field: "SecurityOpt", edit: func(r *container.InspectResponse) { r.HostConfig.SecurityOpt = nil }},
	{field: "Privileged", edit: func(r *container.InspectResponse) { r.HostConfig.Privileged = true }},
	{field: "Memory", edit: func(r *container.InspectResponse) { r.HostConfig.Memory = 0 }},
	{field: "PidsLimit", edit: func(r *container.InspectResponse) { none := int64(-1); r.HostConfig.PidsLimit = &none }},
	{field: "mounts", edit: func(r *container.InspectResponse) {
		r.Mounts = []container.MountPoint{{Type: "bind", Source: "/", Destination: "/host", RW: true}}
	}},
	{field: "Devices", edit: func(r *container.InspectResponse) {
		r.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/mem", PathInContainer: "/dev/mem", CgroupPermissions: "rwm"}}
	}},
	{field: "NetworkMode", edit: func(r *container.InspectResponse) { r.HostConfig.NetworkMode = "host" }},
	{field: "networks", edit: func(r *container.InspectResponse) { r.NetworkSettings.Networks["host"] = &network.EndpointSettings{} }},
	{field: "Sysctls", edit: func(r *container.InspectResponse) {
		r.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
	}},
	{field: "Dns", edit: func(r *container.InspectResponse) { r.HostConfig.DNS = []string{"8.8.8.8"} }},
}

// TestProxyMismatchesPerField does the same for the egress proxy's check.
func TestProxyMismatchesPerField(t *testing.T) {
	require.Empty(t, proxyMismatches(proxyDocker(), proxyWant), "baseline")
	for _, tt := range proxyCases {
		t.Run(tt.field, func(t *testing.T) {
			r := proxyDocker()
			tt.edit(&r)
			m := proxyMismatches(r, proxyWant)
			require.Len(t, m, 1, "proxyMismatches() = %q", m)
			require.True(t, strings.HasPrefix(m[0], "proxy "+tt.field+" is "), "proxyMismatches() = %q, want one naming %s", m, tt.field)
		})
	}
}

// TestEveryCheckHasACase fails when a field checked by mismatches or
// proxyMismatches has no case above (or a case names no checked field).
func TestEveryCheckHasACase(t *testing.T) {
	tests := []struct {
		file, fn string
		cases    []serverCase
	}{
		{"docker.go", "mismatches", serverCases},
		{"allowlist.go", "proxyMismatches", proxyCases},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			checked := checkedFields(t, tt.file, tt.fn)
			covered := map[string]bool{}
			for _, c := range tt.cases {
				require.False(t, covered[c.field], "two cases for %s", c.field)
				covered[c.field] = true
			}
			require.Equal(t, slices.Sorted(maps.Keys(checked)), slices.Sorted(maps.Keys(covered)),
				"every check(\"Field\", …) in %s needs one case, and only those", tt.fn)
		})
	}
}

// checkedFields returns the first arguments of the check("Field", …) calls
// in function fn of file.
func checkedFields(t *testing.T, file, fn string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "check" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			require.True(t, ok && lit.Kind == token.STRING, "%s: check's field name must be a string literal", fn)
			s, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			out[s] = true
			return true
		})
	}
	require.NotEmpty(t, out, "no check calls found in %s of %s", fn, file)
	return out
}

// podmanDefault is dockerDefault as podman 4.3's compatible API reports it.
func podmanDefault() container.InspectResponse {
	r := dockerDefault()
	hc := r.HostConfig
	hc.CapDrop = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
	hc.Tmpfs = map[string]string{
		"/tmp":     "rw,noexec,nosuid,nodev,size=67108864,rprivate,tmpcopyup",
		"/run":     "rw,noexec,nosuid,nodev,size=16777216,rprivate,tmpcopyup",
		"/var/tmp": "rw,noexec,nosuid,nodev,size=16777216,rprivate,tmpcopyup",
	}
	hc.LogConfig = container.LogConfig{Type: "none"}
	hc.PidMode, hc.UTSMode, hc.IpcMode, hc.CgroupnsMode, hc.Runtime = "private", "private", "shareable", "", "oci"
	r.Config.Env = append(r.Config.Env, "container=podman", "TERM=xterm")
	return r
}

// TestPodmanSpellings: podman's spellings pass from podman and only from it.
func TestPodmanSpellings(t *testing.T) {
	v, req := serverInputs(t, false)
	req.engine = enginePodman
	require.Empty(t, mismatches(podmanDefault(), v, req))
	req.engine = engineDocker
	got := mismatches(podmanDefault(), v, req)
	var fields []string
	for _, m := range got {
		fields = append(fields, strings.SplitN(m, " ", 2)[0])
	}
	require.Equal(t, []string{"Tmpfs", "PidMode", "IpcMode", "UTSMode", "CgroupnsMode", "Runtime"}, fields, "mismatches() = %q", got)
}

// TestMismatchesGuards: an engine answer without its configuration, and
// podman's "bridge" spelling where no named network was asked for.
func TestMismatchesGuards(t *testing.T) {
	v, req := serverInputs(t, false)
	noHost := dockerDefault()
	noHost.HostConfig = nil
	require.Equal(t, []string{"engine returned no configuration"}, mismatches(noHost, v, req))
	noConfig := dockerDefault()
	noConfig.Config = nil
	require.Equal(t, []string{"engine returned no configuration"}, mismatches(noConfig, v, req))

	// Podman says "bridge" for any bridge-driver network; that is accepted
	// only for the allowlist's named network, never for network none.
	req.engine = enginePodman
	r := podmanDefault()
	r.HostConfig.NetworkMode = "bridge"
	m := mismatches(r, v, req)
	require.Len(t, m, 1, "%v", m)
	require.True(t, strings.HasPrefix(m[0], "NetworkMode is bridge"), m[0])

	// An allowlist server whose engine reports no network settings is on
	// no network: that is a mismatch for a named network, not a crash.
	av, areq := serverInputs(t, true)
	a := dockerAllowlist()
	a.NetworkSettings = nil
	m = mismatches(a, av, areq)
	require.Len(t, m, 1, "%v", m)
	require.True(t, strings.HasPrefix(m[0], "networks is []"), m[0])
}

// TestPodmanSpellingsOnlyTheirOwn: the normaliser accepts podman's own
// spellings of drydock's values and nothing else; another value reported by
// podman is still a mismatch, named by its field.
func TestPodmanSpellingsOnlyTheirOwn(t *testing.T) {
	v, req := serverInputs(t, false)
	req.engine = enginePodman
	tests := []struct {
		field string
		edit  func(hc *container.HostConfig)
	}{
		{"PidMode", func(hc *container.HostConfig) { hc.PidMode = "host" }},
		{"UTSMode", func(hc *container.HostConfig) { hc.UTSMode = "host" }},
		{"IpcMode", func(hc *container.HostConfig) { hc.IpcMode = "host" }},
		{"CgroupnsMode", func(hc *container.HostConfig) { hc.CgroupnsMode = "host" }},
		{"Runtime", func(hc *container.HostConfig) { hc.Runtime = "runsc" }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			r := podmanDefault()
			tt.edit(r.HostConfig)
			m := mismatches(r, v, req)
			require.Len(t, m, 1, "mismatches() = %q", m)
			require.True(t, strings.HasPrefix(m[0], tt.field+" is "), "mismatches() = %q, want one naming %s", m, tt.field)
		})
	}

	// On a named network podman says "bridge", which is accepted; "host"
	// is not.
	av, areq := serverInputs(t, true)
	areq.engine = enginePodman
	a, allow := podmanDefault(), dockerAllowlist()
	a.HostConfig.Mounts, a.Mounts, a.NetworkSettings = nil, allow.Mounts, allow.NetworkSettings
	a.Config.Env = append(allow.Config.Env, "container=podman", "TERM=xterm")
	a.HostConfig.NetworkMode = "bridge"
	require.Empty(t, mismatches(a, av, areq), "podman's bridge spelling of the named network")
	a.HostConfig.NetworkMode = "host"
	m := mismatches(a, av, areq)
	require.Len(t, m, 1, "mismatches() = %q", m)
	require.True(t, strings.HasPrefix(m[0], "NetworkMode is host"), m[0])
}
