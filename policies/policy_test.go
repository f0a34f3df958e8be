package policies

import (
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestDefaultIsValidAndCanonical(t *testing.T) {
	p := Default()
	require.NoError(t, p.Validate())
	got, err := p.Encode()
	require.NoError(t, err)
	golden(t, "default.label.json", got)
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	p := Default()
	p.Mounts = []Mount{{Target: "/workspace", ReadOnly: true}}
	p.Env.Allow = []string{"GITHUB_TOKEN"}
	p.Resources.CPUs = "0.5"
	enc, err := p.Encode()
	require.NoError(t, err)
	back, err := Decode(enc)
	require.NoError(t, err)
	require.Equal(t, p, back)
	again, err := back.Encode()
	require.NoError(t, err)
	require.Equal(t, enc, again, "encoding is not stable")

	// Canonical: sorted keys, no spaces, no HTML escaping.
	require.NotContains(t, enc, " ")
	require.True(t, strings.HasPrefix(enc, `{"apiVersion":"drydock.dev/v1","capabilities":`), enc)
}

func TestDecodeRefuses(t *testing.T) {
	valid, err := Default().Encode()
	require.NoError(t, err)
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(valid), &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name, label, want string
	}{
		{"garbage", "not json", "dev.drydock.policy label"},
		{"empty object", "{}", "apiVersion"},
		{"unknown top-level field", edit(func(m map[string]any) { m["privileged"] = true }), "privileged: unknown field"},
		{"unknown nested field", edit(func(m map[string]any) { m["network"].(map[string]any)["hosts"] = []any{"x"} }), "network.hosts: unknown field"},
		{"unknown field in a list item", edit(func(m map[string]any) {
			m["tmpfs"] = []any{map[string]any{"path": "/tmp", "size": "1Mi", "mode": "1777"}}
		}), "tmpfs[0].mode: unknown field"},
		{"object where a list goes", edit(func(m map[string]any) { m["tmpfs"] = map[string]any{"path": "/tmp"} }), "tmpfs: got a object, want a list"},
		{"newer apiVersion", edit(func(m map[string]any) { m["apiVersion"] = "drydock.dev/v2" }), "apiVersion"},
		{"root user", edit(func(m map[string]any) { m["user"] = "0:0" }), "user: \"0:0\" runs as root"},
		{"named user", edit(func(m map[string]any) { m["user"] = "nonroot" }), "user:"},
		{"writable rootfs", edit(func(m map[string]any) { m["readOnlyRootfs"] = false }), "readOnlyRootfs: must be true"},
		{"new privileges", edit(func(m map[string]any) { m["noNewPrivileges"] = false }), "noNewPrivileges"},
		{"caps not dropped", edit(func(m map[string]any) { m["capabilities"].(map[string]any)["drop"] = []any{"NET_RAW"} }), "capabilities.drop"},
		{"bad cap add", edit(func(m map[string]any) { m["capabilities"].(map[string]any)["add"] = []any{"CAP_SYS_ADMIN"} }), "capabilities.add[0]"},
		{"bad memory", edit(func(m map[string]any) { m["resources"].(map[string]any)["memory"] = "lots" }), "resources.memory"},
		{"bad cpus", edit(func(m map[string]any) { m["resources"].(map[string]any)["cpus"] = "-1" }), "resources.cpus"},
		{"zero pids", edit(func(m map[string]any) { m["resources"].(map[string]any)["pids"] = 0 }), "resources.pids"},
		{"pids wrong type", edit(func(m map[string]any) { m["resources"].(map[string]any)["pids"] = "many" }), "resources.pids: got a string"},
		{"pids too large for any number type", strings.Replace(valid, `"pids":128`, `"pids":1e400`, 1), "resources.pids: got a number 1e400, want a whole number"},
		{"relative tmpfs", edit(func(m map[string]any) { m["tmpfs"] = []any{map[string]any{"path": "tmp", "size": "1Mi"}} }), "tmpfs[0].path"},
		{"unknown network mode", edit(func(m map[string]any) { m["network"] = map[string]any{"mode": "host"} }), "network.mode"},
		{"allowlist without hosts", edit(func(m map[string]any) { m["network"] = map[string]any{"mode": "allowlist"} }), "network.allow"},
		{"bad env name", edit(func(m map[string]any) { m["env"] = map[string]any{"allow": []any{"A-B"}} }), "env.allow[0]"},
		{"seccomp off", edit(func(m map[string]any) { m["seccomp"] = "unconfined" }), "seccomp"},
		{"too large", strings.Repeat(" ", MaxLabelSize+1), "more than the 65536 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.label)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		_, err := Decode(valid[:len(valid)-1])
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

func TestFromLabels(t *testing.T) {
	_, err := FromLabels(map[string]string{"other": "x"})
	require.ErrorIs(t, err, ErrNoLabel)
	enc, err := Default().Encode()
	require.NoError(t, err)
	p, err := FromLabels(map[string]string{LabelKey: enc})
	require.NoError(t, err)
	require.Equal(t, Default(), p)
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, p *Policy)
	}{
		{name: "overrides keep defaults", yaml: "resources:\n  memory: 256Mi\nenv:\n  allow: [GITHUB_TOKEN]\n",
			check: func(t *testing.T, p *Policy) {
				require.Equal(t, "256Mi", p.Resources.Memory)
				require.Equal(t, "1", p.Resources.CPUs, "default kept")
				require.Equal(t, []string{"GITHUB_TOKEN"}, p.Env.Allow)
			}},
		{name: "json works too", yaml: `{"resources":{"pids":64}}`,
			check: func(t *testing.T, p *Policy) { require.EqualValues(t, 64, p.Resources.Pids) }},
		{name: "unknown field named with path", yaml: "resources:\n  swap: 1Gi\n", wantErr: "resources.swap: unknown field"},
		{name: "every error listed", yaml: "user: root\nresources:\n  pids: -1\n", wantErr: "resources.pids"},
		{name: "not yaml", yaml: "a: [", wantErr: "not valid YAML"},
		{name: "scalar document", yaml: "42", wantErr: "mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o644))
			p, err := Load(path)
			if tt.wantErr != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.wantErr)
				require.Contains(t, err.Error(), path, "error names the file")
				return
			}
			require.NoError(t, err)
			tt.check(t, p)
		})
	}
	t.Run("every error listed", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "p.yaml")
		require.NoError(t, os.WriteFile(path, []byte("user: root\nresources:\n  pids: -1\n"), 0o644))
		_, err := Load(path)
		require.ErrorContains(t, err, "user:")
		require.ErrorContains(t, err, "resources.pids")
	})
}

func TestTranslate(t *testing.T) {
	p := Default()
	p.Tmpfs = append(p.Tmpfs, Tmpfs{Path: "/home/nonroot/.cache", Size: "16Mi"})
	p.Resources.CPUs = "0.25"
	spec, err := Translate(p)
	require.NoError(t, err)
	js, err := json.MarshalIndent(spec, "", "  ")
	require.NoError(t, err)
	golden(t, "translate.spec.json", string(js))
	golden(t, "translate.flags.txt", strings.Join(spec.DockerFlags(), " "))

	p.Network = Network{Mode: NetworkAllowlist, Allow: []string{"api.github.com:443", "*.githubusercontent.com:443"}}
	spec, err = Translate(p)
	require.NoError(t, err)
	require.Equal(t, InternalNetwork, spec.NetworkMode, "launch must replace the placeholder with the run's internal network")
	require.Equal(t, p.Network.Allow, spec.Egress.Allow)
	js, err = json.MarshalIndent(spec, "", "  ")
	require.NoError(t, err)
	golden(t, "translate.allowlist.spec.json", string(js))
	golden(t, "translate.allowlist.flags.txt", strings.Join(spec.DockerFlags(), " "))

	_, err = Translate(&Policy{})
	require.Error(t, err, "an invalid policy must not translate")
}

func TestParseQuantityAndCPUs(t *testing.T) {
	for in, want := range map[string]int64{"512Mi": 512 << 20, "1Gi": 1 << 30, "100": 100, "1k": 1000, "2G": 2e9, "0": 0,
		// The largest sizes that fit in an int64, with and without a unit.
		"9223372036854775807": 9223372036854775807, "8388607Ti": 9223370937343148032} {
		got, err := ParseQuantity(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "Mi", "1.5Gi", "-1", "1Xi", "99999999999999999Ti", "8388608Ti", "9223372036854775808"} {
		_, err := ParseQuantity(bad)
		require.Error(t, err, bad)
	}
	for in, want := range map[string]int64{"1": 1e9, "0.5": 5e8, "2.125": 2125e6, "0.000000001": 1, "1024": 1024e9, "1.": 1e9} {
		got, err := ParseCPUs(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", ".5", "1e3", "-1", "a", "0.0000000001", "1025", "1.x", "1.-5", "+1"} {
		_, err := ParseCPUs(bad)
		require.Error(t, err, bad)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run go test ./policies -update")
	require.Equal(t, strings.TrimSuffix(string(want), "\n"), got)
}
