package policies

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFloor(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
		check              func(t *testing.T, f *Floor)
	}{
		{name: "design sketch", doc: `apiVersion: drydock.dev/v1
kind: Floor
network: {modes: [none, allowlist], hosts: ["*.github.com:443"]}
resources: {maxMemory: 2Gi, maxCpus: "2", maxPids: 512}
capabilities: {allowAdd: []}
mounts: {allowSources: ["~/projects"], allowWritable: false}
env: {allow: [GITHUB_TOKEN]}
`, check: func(t *testing.T, f *Floor) {
			require.Equal(t, []string{"none", "allowlist"}, f.Network.Modes)
			require.Equal(t, []string{"/home/dev/projects"}, f.Mounts.AllowSources, "~ expanded")
			require.True(t, f.AllowsEnv("GITHUB_TOKEN"))
			require.False(t, f.AllowsEnv("HOME"))
		}},
		{name: "omitted fields stay strict", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nenv: {allow: [A]}\n",
			check: func(t *testing.T, f *Floor) {
				strict := StrictFloor()
				require.Equal(t, strict.Network, f.Network)
				require.Equal(t, strict.Resources, f.Resources)
				require.Empty(t, f.Mounts.AllowSources)
			}},
		{name: "json", doc: `{"apiVersion":"drydock.dev/v1","kind":"Floor","resources":{"maxPids":64}}`,
			check: func(t *testing.T, f *Floor) { require.EqualValues(t, 64, f.Resources.MaxPids) }},
		{name: "unknown field", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nnetwork: {ports: [1]}\n", wantErr: "network.ports: unknown field"},
		{name: "wrong kind", doc: "apiVersion: drydock.dev/v1\nkind: Policy\n", wantErr: "kind:"},
		{name: "bad mode", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nnetwork: {modes: [host]}\n", wantErr: "network.modes[0]"},
		{name: "bad host pattern", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nnetwork: {hosts: [\"a.*.com:443\"]}\n", wantErr: "network.hosts[0]"},
		{name: "host without port", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nnetwork: {hosts: [github.com]}\n", wantErr: "network.hosts[0]"},
		{name: "relative source", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nmounts: {allowSources: [projects]}\n", wantErr: "mounts.allowSources[0]"},
		{name: "root source", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nmounts: {allowSources: [/]}\n", wantErr: "mounts.allowSources[0]"},
		{name: "bad memory", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nresources: {maxMemory: lots}\n", wantErr: "resources.maxMemory"},
		{name: "bad env", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nenv: {allow: [A=B]}\n", wantErr: "env.allow[0]"},
		{name: "cap prefix", doc: "apiVersion: drydock.dev/v1\nkind: Floor\ncapabilities: {allowAdd: [CAP_NET_RAW]}\n", wantErr: "capabilities.allowAdd[0]"},
		{name: "wrong type", doc: "apiVersion: drydock.dev/v1\nkind: Floor\nresources: {maxPids: many}\n", wantErr: "resources.maxPids: got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFloor([]byte(tt.doc), "floor.yaml", "/home/dev")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, "floor.yaml", "error names the file")
				return
			}
			require.NoError(t, err)
			tt.check(t, f)
		})
	}
}

func TestLoadFloor(t *testing.T) {
	t.Run("missing default file means the strict floor", func(t *testing.T) {
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
		f, err := LoadFloor("")
		require.NoError(t, err)
		require.Equal(t, StrictFloor(), f)
	})
	t.Run("default path is read", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", dir)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "drydock"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "drydock", "floor.yaml"),
			[]byte("apiVersion: drydock.dev/v1\nkind: Floor\nresources: {maxPids: 32}\n"), 0o644))
		f, err := LoadFloor("")
		require.NoError(t, err)
		require.EqualValues(t, 32, f.Resources.MaxPids)
	})
	t.Run("missing explicit file is an error", func(t *testing.T) {
		_, err := LoadFloor(filepath.Join(t.TempDir(), "nope.yaml"))
		require.ErrorContains(t, err, "reading floor file")
	})
}

func TestFloorCheck(t *testing.T) {
	greedy := Default()
	greedy.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443", "evil.example:443", "api.github.com:80"}}
	greedy.Resources = Resources{Memory: "4Gi", CPUs: "3", Pids: 1024}
	greedy.Capabilities.Add = []string{"NET_ADMIN"}
	greedy.Mounts = []Mount{{Target: "/workspace", Required: true}}
	require.NoError(t, greedy.Validate())

	floor, err := ParseFloor([]byte(`apiVersion: drydock.dev/v1
kind: Floor
network: {modes: [none, allowlist], hosts: ["*.github.com:443"]}
`), "floor.yaml", "/home/dev")
	require.NoError(t, err)

	tests := []struct {
		name   string
		floor  *Floor
		policy *Policy
		golden string // empty: no violation
	}{
		{"default policy under the strict floor", StrictFloor(), Default(), ""},
		{"every violation listed (strict)", StrictFloor(), greedy, "floor.strict.txt"},
		{"every violation listed (hosts floor)", floor, greedy, "floor.hosts.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.floor.Check(tt.policy)
			if tt.golden == "" {
				require.NoError(t, err)
				return
			}
			var fe *FloorError
			require.ErrorAs(t, err, &fe)
			golden(t, tt.golden, err.Error())
		})
	}
}

func TestFloorHostsAndSources(t *testing.T) {
	f := StrictFloor()
	f.Network.Hosts = []string{"*.github.com:443", "localhost:*", "Example.org:80"}
	for hp, want := range map[string]bool{
		"api.github.com:443": true, "github.com:443": false, "api.github.com:80": false,
		"evilgithub.com:443": false, "localhost:8080": true, "example.org:80": true, "nonsense": false,
	} {
		require.Equal(t, want, f.allowsHost(hp), hp)
	}
	f.Mounts.AllowSources = []string{"/home/dev/projects"}
	same := func(s string) (string, error) { return s, nil }
	for src, want := range map[string]bool{
		"/home/dev/projects": true, "/home/dev/projects/a": true, "/home/dev/projects-evil": false, "/home/dev": false,
	} {
		require.Equal(t, want, f.AllowsSource(src, same), src)
	}
}

// TestFloorErrorRender: the library names the floor file input by its API
// (LoadFloor's path), never a CLI flag; a CLI renders its flag there.
func TestFloorErrorRender(t *testing.T) {
	e := &FloorError{Violations: []Violation{{Field: "resources.pids", Message: "1024 exceeds the floor's maxPids 256"}}}
	require.Equal(t, "the policy asks for more than this machine's floor allows: resources.pids 1024 exceeds the floor's maxPids 256 (widen the floor file, ~/.config/drydock/floor.yaml or LoadFloor(path), only if you trust the image)", e.Error())
	require.Equal(t, "the policy asks for more than this machine's floor allows: resources.pids 1024 exceeds the floor's maxPids 256 (widen the floor file, ~/.config/drydock/floor.yaml or --floor, only if you trust the image)",
		e.Render(func(f string) string { return map[string]string{"LoadFloor(path)": "--floor"}[f] }))
}
