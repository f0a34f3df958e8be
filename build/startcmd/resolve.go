package startcmd

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

var shells = []string{"sh", "bash", "dash", "ash", "zsh"}

// resolver carries the state a shell would: environment and directory.
type resolver struct {
	fsys      fs.FS
	profileFS fs.FS // where the login shell read its profile files
	up, rt    user  // the upstream's user (who ran the shell) and the runtime user
	home      string
	runtime   map[string]bool
	env       *environ
	cwd       string
	login     bool
	steps     []string
}

// stat finds p in the image through symlinks, as the upstream's user.
func (r *resolver) stat(p string) (fs.FileInfo, error) {
	_, fi, _, err := walk(r.fsys, p, r.up)
	return fi, err
}

// readFile reads p in the image through symlinks.
func (r *resolver) readFile(p string) ([]byte, error) {
	real, _, _, err := walk(r.fsys, p, r.up)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(r.fsys, fsName(real))
}

func (r *resolver) step(format string, a ...any) {
	r.steps = append(r.steps, fmt.Sprintf(format, a...))
}

// command resolves one argv to the exec form it amounts to.
func (r *resolver) command(argv []string, depth int) ([]string, error) {
	if depth > maxDepth {
		return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("scripts call scripts more than %d deep", maxDepth)}
	}
	base := path.Base(argv[0])
	switch {
	case slices.Contains(shells, base):
		return r.shell(argv, depth)
	case slices.Contains([]string{"npm", "pnpm", "yarn", "bun"}, base):
		if out, ok, err := r.packageScript(argv, depth); ok || err != nil {
			return out, err
		}
	case base == "uv":
		return r.uvRun(argv, depth)
	}
	return r.program(argv)
}

// shell handles `sh [-l] -c SCRIPT`: the script is parsed, never run.
func (r *resolver) shell(argv []string, depth int) ([]string, error) {
	login, script, i := false, -1, 1
	for ; i < len(argv) && script < 0; i++ {
		a := argv[i]
		switch {
		case a == "--login":
			login = true
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 1:
			login = login || strings.Contains(a, "l")
			if strings.Contains(a, "c") {
				script = i + 1
			}
		default:
			return nil, &NeedsShellError{Command: quoteArgs(argv), Reason: "it runs a shell script file"}
		}
	}
	if script < 0 {
		return nil, &NeedsShellError{Command: quoteArgs(argv), Reason: "it starts a shell without -c SCRIPT"}
	}
	if script >= len(argv) {
		return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: "the image has no start command (the shell's -c has no script)"}
	}
	if login && !r.login {
		r.login = true
		if err := r.loginEnv(path.Base(argv[0])); err != nil {
			return nil, err
		}
	}
	if extra := argv[script+1:]; len(extra) > 0 {
		r.step("%s: the words after the script (%s) are $0.. of the script, which uses none; dropped", argv[0], quoteArgs(extra))
	}
	return r.script(argv[script], nil, depth+1)
}

// loginEnv applies the profile files a login shell reads.
func (r *resolver) loginEnv(shell string) error {
	if _, ok := r.env.get("HOME"); !ok {
		// The engine gives the shell HOME from passwd; profile files use
		// it. Not exported into the result: the runtime user has its own.
		r.env.set("HOME", r.home, false)
	}
	stat := func(p string) (fs.FileInfo, error) {
		_, fi, _, err := walk(r.profileFS, p, r.up)
		return fi, err
	}
	for _, f := range loginFiles(r.profileFS, shell, r.home) {
		steps, err := applyProfile(r.profileFS, f, r.env, r.runtime, stat)
		r.steps = append(r.steps, steps...)
		if err != nil {
			return err
		}
		r.nixProfile(f, stat)
	}
	return nil
}

// nixDaemonSh is the script Nix installers source from /etc/profile.d.
const nixDaemonSh = "/nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh"

// nixProfile applies the one effect of Nix's nix-daemon.sh that starts
// programs: PATH gains the user's and the default Nix profile. The script is
// shell code in if-blocks, which drydock does not run, so this is the known
// result of sourcing it (export PATH="$NIX_LINK/bin:.../default/bin:$PATH").
func (r *resolver) nixProfile(file string, stat func(string) (fs.FileInfo, error)) {
	b, err := fs.ReadFile(r.profileFS, fsName(file))
	if err != nil || !strings.HasPrefix(file, "/etc/profile.d/") || !strings.Contains(string(b), nixDaemonSh) {
		return
	}
	if _, err := stat(nixDaemonSh); err != nil {
		return
	}
	p, _ := r.env.get("PATH")
	add := path.Join(r.home, ".nix-profile/bin") + ":/nix/var/nix/profiles/default/bin"
	r.env.set("PATH", add+":"+p, true)
	r.step("%s sources %s: PATH=%s:$PATH", file, nixDaemonSh, add)
}

// script parses one shell command line: leading `cd DIR &&`, `exec` and
// NAME=value prefixes become the working directory and environment; any
// other operator needs a shell.
func (r *resolver) script(line string, extra []string, depth int) ([]string, error) {
	lx := &lexer{src: line, lookup: r.env.get, runtime: r.runtime}
	toks, err := lx.tokens()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case len(toks) >= 3 && toks[0].op == "" && len(toks[0].fields) == 1 && toks[0].fields[0] == "cd" && toks[1].op == "" && len(toks[1].fields) == 1 && toks[2].op == "&&":
			dir := toks[1].fields[0]
			if err := r.chdir(dir, line); err != nil {
				return nil, err
			}
			toks = toks[3:]
			continue
		case len(toks) > 0 && toks[0].op == "" && len(toks[0].fields) == 1 && toks[0].fields[0] == "exec":
			toks = toks[1:]
			continue
		case len(toks) > 1 && toks[0].assign != "":
			r.env.set(toks[0].assign, toks[0].value, true)
			r.step("%s=%s set in the environment", toks[0].assign, toks[0].value)
			toks = toks[1:]
			continue
		}
		break
	}
	var argv []string
	for _, t := range toks {
		if t.op != "" {
			return nil, lx.fail(reasonFor(t.op))
		}
		argv = append(argv, t.fields...)
	}
	if len(argv) == 0 {
		return nil, &UnresolvedError{Command: line, Reason: "it runs no program"}
	}
	return r.command(append(argv, extra...), depth)
}

// chdir follows `cd DIR`: the working directory of the exec form changes.
func (r *resolver) chdir(dir, line string) error {
	p := dir
	if !path.IsAbs(p) {
		p = path.Join(r.cwd, p)
	}
	real, fi, _, err := walk(r.fsys, p, r.up)
	if err != nil || !fi.IsDir() {
		return &UnresolvedError{Command: line, Reason: fmt.Sprintf("cd %s: %s is not a directory in the image", dir, p)}
	}
	r.step("cd %s: working directory %s", dir, real)
	r.cwd = real
	return nil
}

// lookPath finds name the way the shell does: on PATH (an empty entry is
// the working directory), the first regular file with an execute bit.
func (r *resolver) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			name = path.Join(r.cwd, name)
		}
		return name, nil
	}
	p, _ := r.env.get("PATH")
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = r.cwd
		} else if !path.IsAbs(dir) {
			dir = path.Join(r.cwd, dir)
		}
		cand := path.Join(dir, name)
		if _, fi, _, err := walk(r.fsys, cand, r.up); err == nil && fi.Mode().IsRegular() && r.up.may(fi, 1) {
			return cand, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH (%s)", name, p)
}

// program resolves argv[0] to its real path and sees through #! lines.
func (r *resolver) program(argv []string) ([]string, error) {
	found, err := r.lookPath(argv[0])
	if err != nil {
		return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: err.Error()}
	}
	real, err := r.runnable(found, argv)
	if err != nil {
		return nil, err
	}
	if real != found {
		r.step("%s: %s → %s", argv[0], found, real)
	}
	head, err := readHead(r.fsys, real, 256)
	if err != nil {
		return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("reading %s: %v", real, err)}
	}
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return append([]string{real}, argv[1:]...), nil
	case bytes.HasPrefix(head, []byte("#!")):
		return r.shebang(real, head, argv)
	}
	return nil, &NeedsShellError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s is neither a binary nor a #! script; only a shell would run it", real)}
}

// runnable returns the real path of found and checks that the runtime user
// can reach, read and execute it.
func (r *resolver) runnable(found string, argv []string) (string, error) {
	real, _, _, err := walk(r.fsys, found, r.up)
	if err != nil {
		return "", &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s: %v", found, err)}
	}
	// The exec form names the real path, so that is what the runtime user
	// must reach (not /root/.nix-profile/..., which leads there).
	_, fi, blocked, err := walk(r.fsys, real, r.rt)
	if err != nil {
		return "", &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s: %v", real, err)}
	}
	switch {
	case !fi.Mode().IsRegular():
		return "", &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s is not a regular file", real)}
	case blocked != "":
		return "", &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("the runtime user %s cannot search %s on the way to %s", r.rt, blocked, real)}
	case !r.rt.may(fi, 5):
		return "", &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("the runtime user %s cannot read and execute %s (mode %s)", r.rt, real, fi.Mode().Perm())}
	}
	return real, nil
}

// shebang resolves a #! script: `#!/usr/bin/env X` becomes X's real path
// (PATH is read now, not at run time); an absolute interpreter stays with
// the kernel, after checking it exists; a shell interpreter is refused.
func (r *resolver) shebang(script string, head []byte, argv []string) ([]string, error) {
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return nil, &NeedsShellError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s has an empty #! line", script)}
	}
	if slices.Contains(shells, path.Base(f[0])) || (path.Base(f[0]) == "env" && len(f) > 1 && slices.Contains(shells, f[1])) {
		return nil, &NeedsShellError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s is a shell script (#!%s)", script, strings.TrimSpace(string(line)))}
	}
	if path.Base(f[0]) == "env" {
		if len(f) < 2 || strings.HasPrefix(f[1], "-") || strings.Contains(f[1], "=") {
			return nil, &UnresolvedError{Command: quoteArgs(argv), Reason: fmt.Sprintf("%s: #!%s is not `env PROGRAM`", script, strings.TrimSpace(string(line)))}
		}
		interp, err := r.program(append([]string{f[1]}, f[2:]...))
		if err != nil {
			return nil, err
		}
		r.step("%s: #!%s → %s", script, strings.TrimSpace(string(line)), interp[0])
		return append(append(interp, script), argv[1:]...), nil
	}
	if _, err := r.runnable(f[0], argv); err != nil {
		return nil, fmt.Errorf("interpreter of %s: %w", script, err)
	}
	return append([]string{script}, argv[1:]...), nil
}

// filterPath drops from PATH what the runtime user cannot search, empty and
// relative entries (the working directory) and directories that do not
// exist: the exec form no longer needs PATH to find its program, and a
// child process must not find programs in unreadable or moving places.
func (r *resolver) filterPath() {
	p, ok := r.env.get("PATH")
	if !ok {
		return
	}
	var keep, drop []string
	for _, dir := range strings.Split(p, ":") {
		if dir == "" || !path.IsAbs(dir) || slices.Contains(keep, dir) {
			drop = append(drop, fmt.Sprintf("%q", dir))
			continue
		}
		real, fi, blocked, err := walk(r.fsys, dir, r.rt)
		if err != nil || !fi.IsDir() || !r.rt.may(fi, 5) {
			drop = append(drop, dir)
			continue
		}
		if blocked != "" {
			// /root/.nix-profile/bin: the name is behind /root (0700), but
			// the directory it leads to is readable; PATH names that.
			if _, _, b2, err := walk(r.fsys, real, r.rt); err != nil || b2 != "" || slices.Contains(keep, real) {
				drop = append(drop, dir)
				continue
			}
			r.step("PATH: %s → %s (%s cannot search %s)", dir, real, r.rt, blocked)
			dir = real
		}
		keep = append(keep, dir)
	}
	r.env.set("PATH", strings.Join(keep, ":"), true)
	if len(drop) > 0 {
		r.step("PATH: dropped %s (missing, relative, repeated or not searchable by %s)", strings.Join(drop, ", "), r.rt)
	}
}
