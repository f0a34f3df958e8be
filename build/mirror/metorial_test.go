package mirror_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
)

// TestImportMetorialRealCatalog imports the whole vendored metorial
// catalog (testdata/metorial, see its README): nothing aborts, every built
// server is present, and the entries the issue names keep what matters.
func TestImportMetorialRealCatalog(t *testing.T) {
	c, notes, err := mirror.ImportMetorial("testdata/metorial")
	require.NoError(t, err, "the real catalog must import without an abort")
	out, err := c.Encode()
	require.NoError(t, err)
	golden := "testdata/metorial-catalog.golden.yaml"
	if *update {
		require.NoError(t, os.WriteFile(golden, out, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(out))

	// The written catalog loads back as a valid catalog.
	_, err = mirror.Parse(out, filepath.Join(t.TempDir(), "catalog.yaml"))
	require.NoError(t, err)

	// Every folder metorial built (one with versions/) is a server, except
	// the lowercase copy of Bankless, which publishes the same image.
	built, err := filepath.Glob("testdata/metorial/catalog/*/*/*/versions")
	require.NoError(t, err)
	require.Len(t, built, 408)
	names := map[string]mirror.Server{}
	for _, s := range c.Servers {
		names[s.Name] = s
	}
	for _, v := range built {
		rel, _ := filepath.Rel("testdata/metorial/catalog", filepath.Dir(v))
		name := strings.ToLower(strings.ReplaceAll(filepath.ToSlash(rel), "/", "--"))
		require.Contains(t, names, name, "server for %s", rel)
	}
	require.Len(t, c.Servers, 407)

	kinds := map[string]int{}
	for _, n := range notes {
		kinds[n.Kind]++
	}
	require.Equal(t, map[string]int{
		mirror.NoteArgs: 9, mirror.NoteArgsOut: 3, mirror.NoteCase: 1, mirror.NoteDuplicate: 1,
		mirror.NoteMount: 7, mirror.NoteNoManifest: 1, mirror.NoteNoPlan: 3, mirror.NoteNoVersion: 1,
	}, kinds)

	gh := names["github--github-mcp-server--github-mcp-server"]
	require.Equal(t, "ghcr.io/metorial/mcp-container--github--github-mcp-server--github-mcp-server:23fa0dd1a821d1346c1de2abafe7327d26981606", gh.Source)
	require.Equal(t, []string{"stdio"}, gh.Args, "argumentsTemplate stdio is kept")
	require.Equal(t, &mirror.Overrides{Env: &mirror.Allow{Allow: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}}}, gh.Policy)
	require.Equal(t, &mirror.Upstream{Version: "23fa0dd1a821d1346c1de2abafe7327d26981606", CreatedAt: "2025-10-03T03:29:10.696Z",
		Runtime: "go", StartCommand: "./out", RunImage: "ubuntu:noble"}, gh.Upstream)

	bank := names["bankless--onchain-mcp--onchain-mcp"]
	require.Equal(t, "ghcr.io/metorial/mcp-container--bankless--onchain-mcp--onchain-mcp:5a0f10947e717c7988c7e75c7edd92544985fdf4", bank.Source)
	require.Contains(t, notes, mirror.Note{Server: "bankless/onchain-mcp/onchain-mcp", Kind: mirror.NoteCase,
		Text: "fullId Bankless/onchain-mcp/onchain-mcp differs from its folder only in case; the image name is lowercase either way"})
	require.Contains(t, notes, mirror.Note{Server: "bankless/onchain-mcp/onchain-mcp", Kind: mirror.NoteDuplicate,
		Text: "publishes the same image as Bankless/onchain-mcp/onchain-mcp, which is kept"})

	fs := names["modelcontextprotocol--servers--filesystem"]
	require.Equal(t, []string{"/mnt/dir"}, fs.Args, "{{DIR}} is the mount's target")
	require.Equal(t, []policies.Mount{{Target: "/mnt/dir", ReadOnly: true, Required: true}}, fs.Policy.Mounts)
	require.Equal(t, []string{"--auth-token", "{{SENTRY_TOKEN}}"}, names["modelcontextprotocol--servers--sentry"].Args)
	require.Equal(t, []string{"--db-path", "{{DB_PATH}}"}, names["modelcontextprotocol--servers--sqlite"].Args, "the program name is not an arg")
	require.Equal(t, []string{"--figma-api-key={{FIGMA_API_KEY}}", "--stdio"}, names["glips--figma-context-mcp--figma-context-mcp"].Args)
	require.Equal(t, []string{"--rabbitmq-host={{MCP_SERVER_RABBITMQ_RABBITMQ_HOST}}", "--port={{MCP_SERVER_RABBITMQ_PORT}}",
		"--username={{MCP_SERVER_RABBITMQ_USERNAME}}", "--password={{MCP_SERVER_RABBITMQ_PASSWORD}}", "--use-tls={{MCP_SERVER_RABBITMQ_USE_TLS}}"},
		names["kenliao94--mcp-server-rabbitmq--mcp-server-rabbitmq"].Args, "required cli flags")
	require.Equal(t, []string{"--access-token={{MCP_SERVER_SUPABASE_ACCESS_TOKEN?}}"},
		names["supabase-community--supabase-mcp--mcp-server-supabase"].Args, "optional cli flags")
	require.Nil(t, names["kw510--strava-mcp--strava-mcp"].Args, "a <your-subdomain> template has no args")

	args, withPlaceholder, servers := 0, 0, 0
	for _, s := range c.Servers {
		args += len(s.Args)
		if slices.ContainsFunc(s.Args, func(a string) bool { return len(mirror.Placeholders(a)) > 0 }) {
			servers++
		}
		for _, a := range s.Args {
			if len(mirror.Placeholders(a)) > 0 {
				withPlaceholder++
			}
		}
	}
	t.Logf("%d servers, %d notes %v, %d args (%d with placeholders) on %d servers with placeholders", len(c.Servers), len(notes), kinds, args, withPlaceholder, servers)
}

func TestImportMetorialNeedsACatalog(t *testing.T) {
	_, _, err := mirror.ImportMetorial(t.TempDir())
	require.ErrorContains(t, err, "catalog/<owner>/<repo>/<id>/manifest.json")
}

// TestImportMetorialOddities: each odd layout is a note and the rest of
// the catalog still imports.
func TestImportMetorialOddities(t *testing.T) {
	const manifest = `{"id":"s","fullId":%q,"title":"S","config":{"configValues":[]}}`
	version := func(sha, at string) string {
		return `{"version":"` + sha + `","createdAt":"` + at + `","builder":[{"type":"nixpacks","plan":{"start":{"cmd":"node index.js"}}}]}`
	}
	const old, newer = "1111111111111111111111111111111111111111", "0000000000000000000000000000000000000000"
	tests := []struct {
		name       string
		files      map[string]string
		wantSource string // "" when no server
		wantNote   string // a note kind that must be present
	}{
		{"newest by createdAt, not by name",
			map[string]string{"o/r/s/manifest.json": sprintf(manifest, "o/r/s"),
				"o/r/s/versions/" + old + "/version.json":   version(old, "2025-04-01T00:00:00.000Z"),
				"o/r/s/versions/" + newer + "/version.json": version(newer, "2025-09-01T00:00:00.000Z")},
			"ghcr.io/metorial/mcp-container--o--r--s:" + newer, ""},
		{"fullId names another place",
			map[string]string{"o/r/s/manifest.json": sprintf(manifest, "x/y/z"), "o/r/s/versions/" + old + "/version.json": version(old, "2025-04-01T00:00:00Z")},
			"ghcr.io/metorial/mcp-container--o--r--s:" + old, mirror.NotePlace},
		{"odd version folder is skipped",
			map[string]string{"o/r/s/manifest.json": sprintf(manifest, "o/r/s"), "o/r/s/versions/" + old + "/version.json": version(old, "2025-04-01T00:00:00Z"),
				"o/r/s/versions/not a sha/version.json": version("x", "2026-01-01T00:00:00Z")},
			"ghcr.io/metorial/mcp-container--o--r--s:" + old, mirror.NoteBadFile},
		{"unreadable manifest", map[string]string{"o/r/s/manifest.json": "{", "o/r/s/versions/" + old + "/version.json": version(old, "2025-04-01T00:00:00Z")},
			"", mirror.NoteBadFile},
		{"never built", map[string]string{"o/r/s/manifest.json": sprintf(manifest, "o/r/s")}, "", mirror.NoteNoVersion},
		{"bad createdAt", map[string]string{"o/r/s/manifest.json": sprintf(manifest, "o/r/s"), "o/r/s/versions/" + old + "/version.json": version(old, "yesterday")},
			"", mirror.NoteBadFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.files["ok/ok/ok/manifest.json"] = sprintf(manifest, "ok/ok/ok")
			tt.files["ok/ok/ok/versions/"+old+"/version.json"] = version(old, "2025-04-01T00:00:00Z")
			for f, data := range tt.files {
				p := filepath.Join(dir, "catalog", filepath.FromSlash(f))
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
			}
			c, notes, err := mirror.ImportMetorial(dir)
			require.NoError(t, err)
			var sources []string
			for _, s := range c.Servers {
				sources = append(sources, s.Source)
			}
			want := []string{"ghcr.io/metorial/mcp-container--ok--ok--ok:" + old}
			if tt.wantSource != "" {
				want = append(want, tt.wantSource)
			}
			require.ElementsMatch(t, want, sources)
			if tt.wantNote != "" {
				require.True(t, slices.ContainsFunc(notes, func(n mirror.Note) bool { return n.Kind == tt.wantNote && n.Server == "o/r/s" }), "notes = %v", notes)
			}
		})
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
