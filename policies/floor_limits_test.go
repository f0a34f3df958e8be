package policies

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 13: no test sat exactly at a limit, so turning a > into >= in a
// floor comparison passed. Each limit below has a case at it, one step under
// and one step over; the expected violations are written out.
func TestFloorCheckLimits(t *testing.T) {
	floor, err := ParseFloor([]byte(`apiVersion: drydock.dev/v1
kind: Floor
network: {modes: [none, allowlist], hosts: ["*.github.com:443", "localhost:*"]}
resources: {maxMemory: 1Gi, maxCpus: "2", maxPids: 256}
capabilities: {allowAdd: [NET_BIND_SERVICE]}
mounts: {allowSources: [/srv/data]}
`), "floor.yaml", "/home/dev")
	require.NoError(t, err)
	noSources := *floor
	noSources.Mounts.AllowSources = []string{}

	tests := []struct {
		name  string
		floor *Floor
		edit  func(p *Policy)
		want  []string // the violated fields; nil: accepted
	}{
		// resources.memory against maxMemory 1Gi = 1073741824 bytes.
		{"memory at the limit", floor, func(p *Policy) { p.Resources.Memory = "1Gi" }, nil},
		{"memory at the limit in other units", floor, func(p *Policy) { p.Resources.Memory = "1024Mi" }, nil},
		{"memory one byte under", floor, func(p *Policy) { p.Resources.Memory = "1073741823" }, nil},
		{"memory one byte over", floor, func(p *Policy) { p.Resources.Memory = "1073741825" }, []string{"resources.memory"}},
		// resources.cpus against maxCpus 2, in nano-CPUs.
		{"cpus at the limit", floor, func(p *Policy) { p.Resources.CPUs = "2" }, nil},
		{"cpus at the limit written as a decimal", floor, func(p *Policy) { p.Resources.CPUs = "2.000000000" }, nil},
		{"cpus one nano-CPU under", floor, func(p *Policy) { p.Resources.CPUs = "1.999999999" }, nil},
		{"cpus one nano-CPU over", floor, func(p *Policy) { p.Resources.CPUs = "2.000000001" }, []string{"resources.cpus"}},
		// resources.pids against maxPids 256.
		{"pids at the limit", floor, func(p *Policy) { p.Resources.Pids = 256 }, nil},
		{"pids one under", floor, func(p *Policy) { p.Resources.Pids = 255 }, nil},
		{"pids one over", floor, func(p *Policy) { p.Resources.Pids = 257 }, []string{"resources.pids"}},
		{"all three one over", floor, func(p *Policy) {
			p.Resources = Resources{Memory: "1073741825", CPUs: "2.000000001", Pids: 257}
		}, []string{"resources.memory", "resources.cpus", "resources.pids"}},
		// network.mode against modes [none, allowlist].
		{"mode none (in the set)", floor, func(p *Policy) { p.Network = Network{Mode: NetworkNone} }, nil},
		{"mode allowlist (in the set)", floor, func(p *Policy) {
			p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443"}}
		}, nil},
		{"mode bridge (not in the set)", floor, func(p *Policy) { p.Network = Network{Mode: NetworkBridge} }, []string{"network.mode"}},
		// network.allow against hosts [*.github.com:443, localhost:*].
		{"every host matches", floor, func(p *Policy) {
			p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443", "a.b.github.com:443", "localhost:1", "localhost:65535"}}
		}, nil},
		{"the wildcard's bare domain", floor, func(p *Policy) {
			p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443", "github.com:443"}}
		}, []string{"network.allow[1]"}},
		{"the next port", floor, func(p *Policy) {
			p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:444"}}
		}, []string{"network.allow[0]"}},
		{"a look-alike domain", floor, func(p *Policy) {
			p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"evilgithub.com:443", "api.github.com.evil:443"}}
		}, []string{"network.allow[0]", "network.allow[1]"}},
		// capabilities.add against allowAdd [NET_BIND_SERVICE].
		{"no capability added", floor, func(p *Policy) { p.Capabilities.Add = []string{} }, nil},
		{"the allowed capability", floor, func(p *Policy) { p.Capabilities.Add = []string{"NET_BIND_SERVICE"} }, nil},
		{"one capability more", floor, func(p *Policy) { p.Capabilities.Add = []string{"NET_BIND_SERVICE", "NET_RAW"} }, []string{"capabilities.add[1]"}},
		// a required mount needs at least one allowed source.
		{"required mount, sources allowed", floor, func(p *Policy) { p.Mounts = []Mount{{Target: "/data", Required: true}} }, nil},
		{"optional mount, no sources", &noSources, func(p *Policy) { p.Mounts = []Mount{{Target: "/data"}} }, nil},
		{"required mount, no sources", &noSources, func(p *Policy) {
			p.Mounts = []Mount{{Target: "/opt", ReadOnly: true}, {Target: "/data", Required: true}}
		}, []string{"mounts[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Default()
			tt.edit(p)
			require.NoError(t, p.Validate(), "the case must be a valid policy")
			err := tt.floor.Check(p)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var fe *FloorError
			require.ErrorAs(t, err, &fe)
			var got []string
			for _, v := range fe.Violations {
				got = append(got, v.Field)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// The floor file's own lower bounds, at and one step past each.
func TestParseFloorLimits(t *testing.T) {
	const head = "apiVersion: drydock.dev/v1\nkind: Floor\n"
	tests := []struct {
		doc, wantErr string // wantErr empty: accepted
	}{
		{"resources: {maxPids: 1}", ""},
		{"resources: {maxPids: 0}", "resources.maxPids"},
		{"resources: {maxMemory: \"1\"}", ""},
		{"resources: {maxMemory: \"0\"}", "resources.maxMemory"},
		{"resources: {maxCpus: \"0.000000001\"}", ""},
		{"resources: {maxCpus: \"0\"}", "resources.maxCpus"},
		{"network: {hosts: [\"a.example:1\", \"a.example:65535\"]}", ""},
		{"network: {hosts: [\"a.example:0\"]}", "network.hosts[0]"},
		{"network: {hosts: [\"a.example:65536\"]}", "network.hosts[0]"},
		{"mounts: {allowSources: [/a]}", ""},
		{"mounts: {allowSources: [\"~\"]}", ""},
		{"mounts: {allowSources: [a]}", "mounts.allowSources[0]"},
		{"network: {hosts: [\"*.github.com:443\", \"*:443\"]}", `network.hosts[1]: "*:443": a wildcard host must start with *.`},
		{"network: {hosts: [\"*github.com:443\"]}", `network.hosts[0]: "*github.com:443": a wildcard host must start with *.`},
		{"network: {hosts: [\"a.*.com:443\"]}", `network.hosts[0]: "a.*.com:443": * may only start the host`},
		{"network: {hosts: [\":443\"]}", `network.hosts[0]: ":443" has no host`},
		{"network: {hosts: [\"github.com\"]}", `network.hosts[0]: "github.com" must be host:port`},
		{"network: {hosts: [\"github.com:*\"]}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			_, err := ParseFloor([]byte(head+tt.doc+"\n"), "floor.yaml", "/home/dev")
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	t.Run("newer apiVersion", func(t *testing.T) {
		_, err := ParseFloor([]byte("apiVersion: drydock.dev/v2\nkind: Floor\n"), "floor.yaml", "/home/dev")
		require.ErrorContains(t, err, `apiVersion: "drydock.dev/v2" is not supported; this drydock reads "drydock.dev/v1"`)
	})
	t.Run("~/ without a home directory", func(t *testing.T) {
		_, err := ParseFloor([]byte(head+"mounts: {allowSources: [~/projects, /srv]}\n"), "floor.yaml", "")
		require.ErrorContains(t, err, `mounts.allowSources[0]: "~/projects" needs a home directory, and none is known`)
		require.NotContains(t, err.Error(), "allowSources[1]")
	})
}

// AllowsSource compares against the allowed sources' real paths, as the
// resolver gives them, and keeps the written path when resolving fails.
func TestFloorAllowsSourceResolved(t *testing.T) {
	f := StrictFloor()
	f.Mounts.AllowSources = []string{"/home/dev/link", "/srv/gone"}
	resolve := func(s string) (string, error) {
		switch s {
		case "/home/dev/link":
			return "/data/real", nil
		case "/srv/gone":
			return "/elsewhere", os.ErrNotExist
		}
		return s, nil
	}
	for src, want := range map[string]bool{
		"/data/real":     true,  // the link's target
		"/data/real/sub": true,  // under it
		"/home/dev/link": false, // the link itself is not what gets bound
		"/srv/gone/x":    true,  // unresolvable: the written path counts
		"/elsewhere":     false, // a failed resolution's value is ignored
	} {
		require.Equal(t, want, f.AllowsSource(src, resolve), src)
	}
}

// The policy's own lower bounds (label decode validation), at and one step
// past each.
func TestValidateLimits(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(p *Policy)
		wantErr string // empty: valid
	}{
		{"memory at the 4Mi minimum", func(p *Policy) { p.Resources.Memory = "4Mi" }, ""},
		{"memory one byte under 4Mi", func(p *Policy) { p.Resources.Memory = "4194303" }, "resources.memory"},
		{"smallest cpus", func(p *Policy) { p.Resources.CPUs = "0.000000001" }, ""},
		{"zero cpus", func(p *Policy) { p.Resources.CPUs = "0" }, "resources.cpus"},
		{"one pid", func(p *Policy) { p.Resources.Pids = 1 }, ""},
		{"zero pids", func(p *Policy) { p.Resources.Pids = 0 }, "resources.pids"},
		{"smallest tmpfs", func(p *Policy) { p.Tmpfs = []Tmpfs{{Path: "/tmp", Size: "1"}} }, ""},
		{"empty tmpfs", func(p *Policy) { p.Tmpfs = []Tmpfs{{Path: "/tmp", Size: "0"}} }, "tmpfs[0].size"},
		{"uid and gid 1", func(p *Policy) { p.User = "1:1" }, ""},
		{"named user and group", func(p *Policy) { p.User = "app:app" }, `user: "app:app" must be numeric UID:GID`},
		{"named group", func(p *Policy) { p.User = "1000:app" }, `user: "1000:app" must be numeric UID:GID`},
		{"uid without a gid", func(p *Policy) { p.User = "65532" }, `user: "65532" must be numeric UID:GID`},
		{"three parts", func(p *Policy) { p.User = "1:1:1" }, `user: "1:1:1" must be numeric UID:GID`},
		{"gid 0", func(p *Policy) { p.User = "65532:0" }, "user:"},
		{"largest uid", func(p *Policy) { p.User = "4294967295:1" }, ""},
		{"uid past 32 bits", func(p *Policy) { p.User = "4294967296:1" }, "user:"},
		{"ports 1 and 65535", func(p *Policy) {
			p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"a.example:1", "a.example:65535"}}
		}, ""},
		{"port 0", func(p *Policy) { p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"a.example:0"}} }, "network.allow[0]"},
		{"port 65536", func(p *Policy) { p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"a.example:65536"}} }, "network.allow[0]"},
		{"allowlist with one host", func(p *Policy) { p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"a.example:443"}} }, ""},
		{"allowlist with no host", func(p *Policy) { p.Network = Network{Mode: NetworkAllowlist} }, "network.allow"},
		{"none with a host", func(p *Policy) { p.Network = Network{Mode: NetworkNone, Allow: []string{"a.example:443"}} }, "network.allow"},
		{"bridge with a host", func(p *Policy) { p.Network = Network{Mode: NetworkBridge, Allow: []string{"a.example:443"}} }, "network.allow"},
		{"drop ALL and more", func(p *Policy) { p.Capabilities.Drop = []string{"ALL", "NET_RAW"} }, "capabilities.drop"},
		{"drop nothing", func(p *Policy) { p.Capabilities.Drop = []string{} }, "capabilities.drop"},
		{"add a capability", func(p *Policy) { p.Capabilities.Add = []string{"NET_BIND_SERVICE"} }, ""},
		{"add ALL", func(p *Policy) { p.Capabilities.Add = []string{"ALL"} }, "capabilities.add[0]"},
		{"add a lowercase name", func(p *Policy) { p.Capabilities.Add = []string{"net_raw"} }, "capabilities.add[0]"},
		{"add with the CAP_ prefix", func(p *Policy) { p.Capabilities.Add = []string{"CAP_NET_RAW"} }, "capabilities.add[0]"},
		{"allowlist host without a name", func(p *Policy) { p.Network = Network{Mode: NetworkAllowlist, Allow: []string{":443"}} }, "network.allow[0]"},
		{"allowlist host without a port", func(p *Policy) { p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"a.example"}} }, "network.allow[0]"},
		{"unparsable memory", func(p *Policy) { p.Resources.Memory = "lots" }, "resources.memory"},
		{"unparsable cpus", func(p *Policy) { p.Resources.CPUs = "one" }, "resources.cpus"},
		{"unparsable tmpfs size", func(p *Policy) { p.Tmpfs = []Tmpfs{{Path: "/tmp", Size: "big"}} }, "tmpfs[0].size"},
		{"two tmpfs on one path", func(p *Policy) { p.Tmpfs = []Tmpfs{{Path: "/tmp", Size: "1Mi"}, {Path: "/tmp", Size: "1Mi"}} }, `tmpfs[1].path: "/tmp" is already used by tmpfs[0].path`},
		{"relative tmpfs path", func(p *Policy) { p.Tmpfs = []Tmpfs{{Path: "tmp", Size: "1Mi"}} }, "tmpfs[0].path"},
		{"tmpfs over a mount target", func(p *Policy) { p.Mounts = []Mount{{Target: "/tmp"}} }, "mounts[0].target"},
		{"root as a mount target", func(p *Policy) { p.Mounts = []Mount{{Target: "/"}} }, "mounts[0].target"},
		{"unclean mount target", func(p *Policy) { p.Mounts = []Mount{{Target: "/a/../b"}} }, "mounts[0].target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Default()
			tt.edit(p)
			err := p.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
