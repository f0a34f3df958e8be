package startcmd

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// packageJSON is what drydock reads of a package.json.
type packageJSON struct {
	Scripts map[string]string `json:"scripts"`
}

// packageScript resolves `npm|pnpm|yarn|bun run X [-- args]`, `… start` and
// the `pnpm X` / `yarn X` shorthands to the script's command. ok is false
// when argv is not a script run (bun FILE, say) and is a program to resolve.
func (r *resolver) packageScript(argv []string, depth int) (out []string, ok bool, err error) {
	pm, args := path.Base(argv[0]), argv[1:]
	if len(args) == 0 {
		return nil, true, &UnresolvedError{Command: quoteArgs(argv), Reason: pm + " without a command"}
	}
	var name string
	var extra []string
	switch {
	case args[0] == "run" || args[0] == "run-script":
		if len(args) < 2 {
			return nil, true, &UnresolvedError{Command: quoteArgs(argv), Reason: pm + " run without a script name"}
		}
		name, extra = args[1], args[2:]
	case args[0] == "start":
		name, extra = "start", args[1:]
	case pm == "pnpm" || pm == "yarn":
		name, extra = args[0], args[1:]
	default:
		return nil, false, nil // bun FILE, npm exec ...: the program itself
	}
	if strings.HasPrefix(name, "-") {
		return nil, true, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s flag %s is not supported; name the script first", pm, name)}
	}
	if len(extra) > 0 && extra[0] == "--" {
		extra = extra[1:]
	}
	dir, pkg, err := r.findPackage()
	if err != nil {
		return nil, true, &UnresolvedError{Command: quoteArgs(argv), Reason: err.Error()}
	}
	line, found := pkg.Scripts[name]
	if !found && pm == "bun" {
		if _, err := r.stat(path.Join(r.cwd, name)); err == nil {
			return nil, false, nil // bun run FILE: bun runs the file itself
		}
	}
	if !found {
		return r.noScript(argv, pm, name, dir, extra, depth)
	}
	// npm, yarn and bun run preX and postX around X: two more commands.
	for _, p := range []string{"pre" + name, "post" + name} {
		if _, has := pkg.Scripts[p]; has && pm != "pnpm" {
			return nil, true, &NeedsShellError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s would also run the %q script of %s/package.json", pm, p, dir)}
		}
	}
	if dir != r.cwd {
		r.step("%s runs scripts in the package directory %s", pm, dir)
		r.cwd = dir
	}
	r.addBinDirs(dir)
	r.step("%s run %s: package.json script %q", pm, name, line)
	out, err = r.script(line, extra, depth+1)
	return out, true, err
}

// noScript handles a script name package.json does not have: `npm start`
// falls back to `node server.js`, yarn and bun to a program of that name.
func (r *resolver) noScript(argv []string, pm, name, dir string, extra []string, depth int) ([]string, bool, error) {
	if name == "start" && pm == "npm" {
		if _, err := r.stat(path.Join(dir, "server.js")); err == nil {
			r.step("npm start: no start script; npm runs node server.js")
			r.cwd = dir
			out, err := r.command(append([]string{"node", "server.js"}, extra...), depth+1)
			return out, true, err
		}
	}
	return nil, true, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s/package.json has no %q script", dir, name)}
}

// findPackage reads the nearest package.json at or above the working
// directory, as the package managers do.
func (r *resolver) findPackage() (string, *packageJSON, error) {
	for dir := r.cwd; ; dir = path.Dir(dir) {
		b, err := r.readFile(path.Join(dir, "package.json"))
		if err == nil {
			var pkg packageJSON
			if err := json.Unmarshal(b, &pkg); err != nil {
				return "", nil, fmt.Errorf("parsing %s/package.json: %v", dir, err)
			}
			return dir, &pkg, nil
		}
		if dir == "/" {
			return "", nil, fmt.Errorf("no package.json in %s or above", r.cwd)
		}
	}
}

// addBinDirs puts node_modules/.bin of the package and of every directory
// above it first on PATH, as npm does for scripts.
func (r *resolver) addBinDirs(dir string) {
	var bins []string
	for d := dir; ; d = path.Dir(d) {
		b := path.Join(d, "node_modules/.bin")
		if fi, err := r.stat(b); err == nil && fi.IsDir() {
			bins = append(bins, b)
		}
		if d == "/" {
			break
		}
	}
	p, _ := r.env.get("PATH")
	for _, b := range slices.Backward(bins) {
		if !slices.Contains(strings.Split(p, ":"), b) {
			p = b + ":" + p
		}
	}
	r.env.set("PATH", p, true)
}

// uvFlags are `uv run` flags that do not change which program runs.
var uvFlags = []string{"--frozen", "--locked", "--no-sync", "--no-dev", "--offline", "-q", "--quiet"}

// uvRun resolves `uv run X` to X inside the project's venv: uv would sync
// the venv first; the hardened image runs it as it was built.
func (r *resolver) uvRun(argv []string, depth int) ([]string, error) {
	args := argv[1:]
	if len(args) == 0 || args[0] != "run" {
		return r.program(argv)
	}
	args = args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if !slices.Contains(uvFlags, args[0]) {
			return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("uv run flag %s is not supported", args[0])}
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: "uv run without a command"}
	}
	venv, ok := r.env.get("UV_PROJECT_ENVIRONMENT")
	if !ok {
		if venv, ok = r.env.get("VIRTUAL_ENV"); !ok {
			venv = ".venv"
		}
	}
	if !path.IsAbs(venv) {
		venv = path.Join(r.cwd, venv)
	}
	if _, err := r.stat(path.Join(venv, "bin/python")); err != nil {
		return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("uv run: no venv at %s (bin/python missing)", venv)}
	}
	r.step("uv run: venv %s, used as built (uv would sync it first)", venv)
	p, _ := r.env.get("PATH")
	r.env.set("PATH", path.Join(venv, "bin")+":"+p, true)
	r.env.set("VIRTUAL_ENV", venv, true)
	if strings.HasSuffix(args[0], ".py") {
		args = append([]string{path.Join(venv, "bin/python")}, args...)
	}
	return r.command(args, depth+1)
}
