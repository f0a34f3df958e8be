package startcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// catalogDir holds metorial/mcp-containers' real catalog: each server's
// newest version.json with its Nixpacks build plan.
const catalogDir = "../mirror/testdata/metorial/catalog"

// TestCatalogPlans simulates the image of every server in the catalog from
// its real build plan (start command, phases' paths and nix packages,
// variables, run image) and resolves its start command. What the plans do not
// carry is filled in the way the tools lay it out, and said here:
//   - package.json scripts: `<pm> run X` / `<pm> start` get X = "node
//     dist/index.js" (the shape of the real start scripts sampled: magic-mcp,
//     firecrawl, Figma-Context-MCP, mcp-server-kubernetes, DesktopCommander);
//   - a bare program name is a console script in /opt/venv/bin (python) or a
//     node_modules/.bin link to a `#!/usr/bin/env node` file (node);
//   - a relative program (./out) is a binary; `cd DIR` targets exist.
func TestCatalogPlans(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(catalogDir, "*/*/*/versions/*/version.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no version.json under %s (%v): the vendored catalog is missing", catalogDir, err)
	}
	newest := map[string]string{} // server dir → newest version.json
	created := map[string]string{}
	for _, f := range files {
		var v struct {
			CreatedAt string `json:"createdAt"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("parsing %s: %v", f, err)
		}
		srv := filepath.Dir(filepath.Dir(filepath.Dir(f)))
		if v.CreatedAt > created[srv] {
			newest[srv], created[srv] = f, v.CreatedAt
		}
	}
	reasons := map[string][]string{}
	resolved := 0
	for srv, f := range newest {
		p, lang := readPlan(t, f)
		fsys, cfg := nixpacksImage(p, simulatedApp(p, lang))
		_, err := Resolve(fsys, cfg)
		if err == nil {
			resolved++
			continue
		}
		key := refusalKey(err)
		reasons[key] = append(reasons[key], strings.TrimPrefix(srv, catalogDir+"/"))
	}
	total := len(newest)
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return len(reasons[keys[i]]) > len(reasons[keys[j]]) || len(reasons[keys[i]]) == len(reasons[keys[j]]) && keys[i] < keys[j]
	})
	var report strings.Builder
	fmt.Fprintf(&report, "%d servers: %d resolve to exec form without a shell (%.1f%%), %d refused\n", total, resolved, 100*float64(resolved)/float64(total), total-resolved)
	for _, k := range keys {
		sort.Strings(reasons[k])
		fmt.Fprintf(&report, "  %3d  %s: %s\n", len(reasons[k]), k, strings.Join(reasons[k], ", "))
	}
	t.Log("\n" + report.String())
	if 100*resolved < 95*total {
		t.Errorf("only %d of %d catalog servers resolve; want at least 95%%\n%s", resolved, total, report.String())
	}
}

func readPlan(t *testing.T, f string) (plan, string) {
	var v struct {
		Builder []struct {
			Type string `json:"type"`
			Plan plan   `json:"plan"`
		} `json:"builder"`
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parsing %s: %v", f, err)
	}
	for _, bld := range v.Builder {
		if bld.Type == "nixpacks" {
			return bld.Plan, bld.Plan.Variables["NIXPACKS_METADATA"]
		}
	}
	t.Fatalf("%s has no nixpacks plan", f)
	return plan{}, ""
}

var cdRE = regexp.MustCompile(`^cd\s+(\S+)\s+&&`)

// simulatedApp lays out the /app (and /opt/venv) files the plan's build
// leaves behind, as far as the start command depends on them.
func simulatedApp(p plan, lang string) map[string]*fstest.MapFile {
	m := map[string]*fstest.MapFile{"app/node_modules/.bin": dir(0o755)}
	if strings.HasPrefix(lang, "python") {
		for k, v := range venv() {
			m[k] = v
		}
	}
	cmd := p.Start.Cmd
	if c := cdRE.FindStringSubmatch(cmd); c != nil {
		m[filepath.Join("app", c[1])] = dir(0o755)
		cmd = strings.TrimSpace(cmd[len(c[0]):])
	}
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return m
	}
	prog := f[0]
	if prog == "exec" && len(f) > 1 {
		prog = f[1]
	}
	switch {
	case prog == "npm" || prog == "pnpm" || prog == "yarn" || prog == "bun":
		name := "start"
		if len(f) > 2 && (f[1] == "run" || f[1] == "run-script") {
			name = f[2]
		}
		m["app/package.json"] = pkgJSON(fmt.Sprintf("%q:%q", name, "node dist/index.js"))
		m["app/dist/index.js"] = file("", 0o644)
	case strings.Contains(prog, "/"):
		m[filepath.Join("app", prog)] = elf()
	case strings.HasPrefix(lang, "python") && !strings.HasPrefix(prog, "python") && prog != "uv":
		for k, v := range venv(prog) {
			m[k] = v
		}
	case lang == "node" && prog != "node":
		m["app/node_modules/.bin/"+prog] = link("../" + prog + "/bin/run.js")
		m["app/node_modules/"+prog+"/bin/run.js"] = file("#!/usr/bin/env node\n", 0o755)
	}
	return m
}

// refusalKey groups refusals by kind for the report.
func refusalKey(err error) string {
	var ns *NeedsShellError
	var un *UnresolvedError
	switch {
	case errors.As(err, &ns):
		return "needs a shell: " + ns.Reason
	case errors.As(err, &un):
		return "unresolved: " + regexp.MustCompile(`/nix/store/\S+|\(.*\)`).ReplaceAllString(un.Reason, "…")
	}
	return "error: " + err.Error()
}
