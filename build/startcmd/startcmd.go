// Package startcmd turns an image's start command into an exec-form
// entrypoint at harden time, so the hardened image starts without a shell.
//
// It computes the environment a login shell would have given the command
// (image ENV, /etc/profile, /etc/profile.d/*.sh, the user's profile; only the
// plain assignment and export forms, never by running a shell), resolves the
// program to an absolute path inside the image through every symlink, sees
// through npm/pnpm/yarn/bun scripts, uv run and #! lines, and drops from PATH
// every directory the runtime user cannot search. A command that needs real
// shell features is refused with a *NeedsShellError.
package startcmd

import (
	"fmt"
	"io/fs"
	"strings"
)

// ImageConfig is the part of an image config that decides how it starts.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string // who the upstream starts as; decides HOME and its profile
}

// Result is the exec-form start of the image.
type Result struct {
	Entrypoint []string // absolute program first; the config's Cmd becomes empty
	Env        []string // the image ENV to set, PATH filtered for the runtime user
	WorkingDir string
	Before     string   // the start command as the upstream wrote it
	After      string   // the exec form, shell-quoted for reading
	Steps      []string // how it got from Before to After
}

// UnresolvedError means the program or script a start command names cannot
// be found or run inside the image.
type UnresolvedError struct {
	Command string
	Reason  string
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("start command %q cannot be resolved inside the image: %s", e.Command, e.Reason)
}

// Option configures Resolve.
type Option func(*options) error

type options struct {
	runtimeUser string
	runtimeEnv  map[string]bool
	profileFS   fs.FS
}

// WithProfileFS names the filesystem the upstream's login shell ran in:
// its passwd gives the upstream user's HOME, and its profile files
// (/etc/profile, /etc/profile.d, the home's) give the environment. Pass the
// upstream image when fsys is the result's stack, which no longer has the
// upstream base that holds most of them (a Nixpacks image's Nix hook lives
// in /etc/profile.d of the base). The program itself is still found, and
// checked for the runtime user, in fsys. Default: fsys.
func WithProfileFS(fsys fs.FS) Option {
	return func(o *options) error {
		o.profileFS = fsys
		return nil
	}
}

// WithRuntimeUser names the user the hardened image runs as ("uid:gid" or a
// name from the image's /etc/passwd); PATH directories and the program must
// be reachable by it. Default "65532:65532", drydock's default policy user.
func WithRuntimeUser(u string) Option {
	return func(o *options) error {
		if u == "" {
			return fmt.Errorf("runtime user is empty; give uid:gid")
		}
		o.runtimeUser = u
		return nil
	}
}

// WithRuntimeEnv names variables whose value is given when the container
// starts (the policy's env allow list): a start command that expands one
// needs a shell, because exec form is fixed at harden time. Default none.
func WithRuntimeEnv(names ...string) Option {
	return func(o *options) error {
		for _, n := range names {
			o.runtimeEnv[n] = true
		}
		return nil
	}
}

// maxDepth bounds scripts that call scripts (npm run a → npm run b → ...).
const maxDepth = 8

// Resolve computes the exec-form start of the image whose merged filesystem
// is fsys. fsys should implement fs.ReadLinkFS so symlinks can be followed.
func Resolve(fsys fs.FS, cfg ImageConfig, opts ...Option) (*Result, error) {
	o := &options{runtimeUser: "65532:65532", runtimeEnv: map[string]bool{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.profileFS == nil {
		o.profileFS = fsys
	}
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	up, home, err := lookupUser(o.profileFS, cfg.User)
	if err != nil {
		return nil, fmt.Errorf("reading the image's user: %w", err)
	}
	rt, _, err := lookupUser(fsys, o.runtimeUser)
	if err != nil {
		return nil, fmt.Errorf("reading the runtime user: %w", err)
	}
	env := newEnviron(cfg.Env)
	if h, ok := env.get("HOME"); ok {
		home = h
	} else if home == "" {
		home = "/"
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	r := &resolver{fsys: fsys, profileFS: o.profileFS, up: up, rt: rt, home: home, runtime: o.runtimeEnv, env: env, cwd: cwd}
	before := quoteArgs(argv)
	if len(argv) == 0 {
		return nil, &UnresolvedError{Command: before, Reason: "the image has no entrypoint and no cmd"}
	}
	out, err := r.command(argv, 0)
	if err != nil {
		return nil, err
	}
	r.filterPath()
	return &Result{Entrypoint: out, Env: r.env.list(), WorkingDir: r.cwd, Before: before, After: quoteArgs(out), Steps: r.steps}, nil
}

// quoteArgs writes argv so that a reader (or sh) sees the same words.
func quoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(c rune) bool { return !isPlain(c) }) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func isPlain(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@%+,", c)
}
