package policies

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 13, item 10: encoding/json and sigs.k8s.io/yaml keep the last of two
// equal keys, other readers (a reviewer's tool, jq, Python) may keep the
// first, so a label or file with a duplicate key means different things to
// different readers. Each case below has the harmless value last, so the old
// decoder accepted it.

func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	// The default label with the fields in canonical order; each case
	// repeats one field with a hostile first value.
	const (
		head = `{"apiVersion":"drydock.dev/v1","capabilities":{"add":[],"drop":["ALL"]},"env":{"allow":[]},"mounts":[],"network":{"mode":"none"},"noNewPrivileges":true,"readOnlyRootfs":true,`
		tail = `"seccomp":"runtime/default","tmpfs":[{"path":"/tmp","size":"64Mi"}],"user":"65532:65532"}`
		res  = `"resources":{"cpus":"1","memory":"512Mi","pids":128},`
	)
	tests := []struct {
		name, label, want string
	}{
		{"top-level key", `{"user":"0:0",` + head[1:] + res + tail, "user: duplicate key"},
		{"nested key", head + `"resources":{"pids":100000,"cpus":"1","memory":"512Mi","pids":128},` + tail, "resources.pids: duplicate key"},
		{"whole object twice", head + `"network":{"mode":"bridge"},` + res + tail, "network: duplicate key"},
		{"key inside a list item", head + res + `"seccomp":"runtime/default","tmpfs":[{"path":"/tmp","size":"64Gi","size":"64Mi"}],"user":"65532:65532"}`, "tmpfs[0].size: duplicate key"},
		{"escaped spelling of the same key", `{"us\u0065r":"0:0",` + head[1:] + res + tail, "user: duplicate key"},
		// encoding/json matches field names case-insensitively; the other
		// spelling is refused as an unknown field before it can win.
		{"other case", head + res + tail[:len(tail)-1] + `,"USER":"0:0"}`, "USER: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.label)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "dev.drydock.policy label", "error names the label")
		})
	}
	t.Run("every duplicate listed", func(t *testing.T) {
		_, err := Decode(`{"user":"0:0","user":"1:1","seccomp":"x","seccomp":"y"}`)
		require.ErrorContains(t, err, "user: duplicate key")
		require.ErrorContains(t, err, "seccomp: duplicate key")
	})
	t.Run("the default label is still accepted", func(t *testing.T) {
		_, err := Decode(head + res + tail)
		require.NoError(t, err)
	})
}

func TestLoadRefusesDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"top-level key", "user: \"0:0\"\nuser: \"65532:65532\"\n", "user: duplicate key (lines 1 and 2)"},
		{"nested key", "resources:\n  pids: 100000\n  memory: 256Mi\n  pids: 64\n", "resources.pids: duplicate key (lines 2 and 4)"},
		{"quoted and plain spelling", "resources:\n  pids: 100000\n  \"pids\": 64\n", "resources.pids: duplicate key"},
		{"JSON document", `{"resources":{"pids":100000,"pids":64}}`, "resources.pids: duplicate key"},
		{"key inside a list item", "tmpfs:\n  - path: /tmp\n    size: 64Gi\n    size: 64Mi\n", "tmpfs[0].size: duplicate key"},
		{"merge key against a written key", "resources:\n  <<: {pids: 100000}\n  pids: 64\n", "resources.pids: duplicate key"},
		{"written key before a merge key", "resources:\n  pids: 64\n  <<: {pids: 100000}\n", "resources.pids: duplicate key"},
		{"two merged mappings", "resources:\n  <<: [{pids: 100000}, {pids: 64}]\n", "resources.pids: duplicate key"},
		{"merge through an alias", "env: &e {allow: []}\nnetwork:\n  <<: *e\n  mode: none\n  allow: []\n", "network.allow: duplicate key (lines 1 and 5)"},
		{"number and string spelling", "resources:\n  1: a\n  '1': b\n", "resources.1: duplicate key"},
		{"alias as a key", "env: {allow: [&k pids]}\nresources: {*k : 100000, pids: 64}\n", "resources.pids: duplicate key (lines 2 and 2)"},
		{"merge of a mapping that merges", "env: &e {allow: []}\nnetwork:\n  <<: {<<: *e, mode: none}\n  allow: []\n", "network.allow: duplicate key (lines 1 and 4)"},
		{"duplicate after a list", "env: {allow: [A]}\ntmpfs: [{path: /tmp, size: 1Mi}]\nuser: \"0:0\"\nuser: \"1:1\"\n", "user: duplicate key (lines 3 and 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o644))
			_, err := Load(path)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, path, "error names the file")
		})
	}
	t.Run("empty file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		_, err := Load(path)
		require.ErrorContains(t, err, "the document must be a mapping of fields")
	})
	t.Run("one merge key is fine", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		require.NoError(t, os.WriteFile(path, []byte("resources:\n  <<: {pids: 64}\n  memory: 256Mi\n"), 0o644))
		p, err := Load(path)
		require.NoError(t, err)
		require.EqualValues(t, 64, p.Resources.Pids)
		require.Equal(t, "256Mi", p.Resources.Memory)
	})
}

func TestParseFloorRefusesDuplicateKeys(t *testing.T) {
	const head = "apiVersion: drydock.dev/v1\nkind: Floor\n"
	tests := []struct {
		name, doc, want string
	}{
		{"nested key", head + "resources:\n  maxPids: 512\n  maxPids: 64\n", "resources.maxPids: duplicate key (lines 4 and 5)"},
		{"whole section twice", head + "network: {modes: [none, bridge]}\nnetwork: {modes: [none]}\n", "network: duplicate key (lines 3 and 4)"},
		{"kind twice", head + "kind: Floor\n", "kind: duplicate key (lines 2 and 3)"},
		{"JSON document", `{"apiVersion":"drydock.dev/v1","kind":"Floor","mounts":{"allowWritable":true,"allowWritable":false}}`, "mounts.allowWritable: duplicate key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFloor([]byte(tt.doc), "floor.yaml", "/home/dev")
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "floor.yaml", "error names the file")
		})
	}
}

// A mapping that merges itself must not send the check round in circles.
func TestLoadMergeCycleEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte("env: &e {allow: [], <<: *e}\nnetwork: {<<: *e, mode: none}\n"), 0o644))
	_, err := Load(path)
	require.Error(t, err)
}

// A merge of aliases of merges of aliases must not make the duplicate check
// walk an exponential number of keys (the converter refuses the document).
func TestLoadMergeBombEnds(t *testing.T) {
	doc := "env: &a {allow: []}\n"
	prev := "a"
	for i := range 12 {
		name := string(rune('b' + i))
		doc += "x" + name + ": &" + name + " {<<: [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]}\n"
		prev = name
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	_, err := Load(path)
	require.Error(t, err)
}
