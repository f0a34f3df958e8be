package policies

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBasesDetect(t *testing.T) {
	b := DefaultBases()
	tests := []struct {
		name            string
		entrypoint, cmd []string
		env             []string
		want            string
	}{
		{"node entrypoint", []string{"node", "/app/index.js"}, nil, nil, "node"},
		{"node absolute", []string{"/usr/bin/node"}, []string{"dist/index.js"}, nil, "node"},
		{"nixpacks shell", []string{"/bin/bash", "-c"}, nil, nil, "static"},
		{"shell -c", []string{"/bin/sh", "-c", "node dist/index.js"}, nil, nil, "node"},
		{"python versioned", []string{"python3.11", "-m", "server"}, nil, nil, "python"},
		{"env wrapper", []string{"/usr/bin/env", "FOO=1", "npx", "x"}, nil, nil, "node"},
		{"by env", []string{"/app/start"}, nil, []string{"PATH=/bin", "NIXPACKS_NODE_VERSION=20"}, "node"},
		{"static default", []string{"/usr/local/bin/mcp-server"}, nil, nil, "static"},
		{"nodemon is not node", []string{"nodemon"}, nil, nil, "static"},
		// Nixpacks: ENTRYPOINT ["/bin/bash","-l","-c"], CMD ["<plan start cmd>"].
		{"nixpacks bash -l -c node", []string{"/bin/bash", "-l", "-c"}, []string{"node dist/index.js"}, nil, "node"},
		{"nixpacks npm run", []string{"/bin/bash", "-l", "-c"}, []string{"npm run start"}, nil, "node"},
		{"bash -ol pipefail -c", []string{"/bin/bash", "-ol", "pipefail", "-c", "pnpm start"}, nil, nil, "node"},
		{"bash -o pipefail -lc", []string{"bash", "-o", "pipefail", "-lc", "python3 -m srv"}, nil, nil, "python"},
		{"cd && node", []string{"/bin/bash", "-l", "-c"}, []string{"cd /app/server && node index.js"}, nil, "node"},
		{"console script by NIXPACKS_METADATA", []string{"/bin/bash", "-l", "-c"}, []string{"notes-mcp"}, []string{"NIXPACKS_METADATA=python"}, "python"},
		{"poetry metadata", []string{"/bin/bash", "-l", "-c"}, []string{"srv"}, []string{"NIXPACKS_METADATA=python,poetry"}, "python"},
		{"go metadata is no runtime of ours", []string{"/bin/bash", "-l", "-c"}, []string{"./out stdio"}, []string{"NIXPACKS_METADATA=go"}, "static"},
		{"metadata value must match exactly", []string{"/app/x"}, nil, []string{"NIXPACKS_METADATA=nodejs"}, "static"},
		{"script file, not -c", []string{"/bin/sh", "/app/start.sh"}, nil, nil, "static"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, why := b.Detect(tt.entrypoint, tt.cmd, tt.env)
			if r == nil || r.Name != tt.want {
				t.Fatalf("Detect() = %v (%s), want %s", r, why, tt.want)
			}
		})
	}
}

func TestLoadBasesErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown field", "apiVersion: drydock.dev/v1\nkind: Bases\nruntimes: [{name: a, base: b, colour: red}]\n", "colour"},
		{"no base", "apiVersion: drydock.dev/v1\nkind: Bases\nruntimes: [{name: node}]\n", "runtimes[0].base"},
		{"wrong kind", "apiVersion: drydock.dev/v1\nkind: Policy\n", "kind Bases"},
		{"two defaults", "apiVersion: drydock.dev/v1\nkind: Bases\nruntimes: [{name: a, base: x, default: true}, {name: b, base: y, default: true}]\n", "more than one"},
		{"duplicate key", "apiVersion: drydock.dev/v1\nkind: Bases\nruntimes:\n  - name: node\n    base: a\n    base: b\n", "runtimes[0].base: duplicate key (lines 5 and 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "bases.yaml")
			if err := os.WriteFile(f, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadBases(f)
			if err == nil || !contains(err.Error(), tt.want) {
				t.Fatalf("LoadBases() = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
