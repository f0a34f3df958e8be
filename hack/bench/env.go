package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/testdata/fixtures"
)

// env is what the figures share: built binaries, fixtures in the registry,
// a key pair and one hardened, signed image.
type env struct {
	cfg      config
	log      io.Writer
	dir      string
	root     string
	drydock  string
	mcpcall  string
	fx       *fixtures.Set
	prefix   string
	key, pub string
	hardened string // repo@sha256:... signed by drydock
	envv     []string
}

func prepare(ctx context.Context, cfg config, log io.Writer) (*env, error) {
	root, err := fixtures.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drydock-bench")
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: log, dir: dir, root: root,
		prefix: fmt.Sprintf("bench-%d", time.Now().UnixNano()),
		envv:   append(os.Environ(), "COSIGN_PASSWORD=bench"),
	}
	e.drydock = filepath.Join(dir, "drydock")
	e.mcpcall = filepath.Join(dir, "mcpcall")
	for bin, pkg := range map[string]string{e.drydock: "./cmd/drydock", e.mcpcall: "./hack/mcpcall"} {
		if _, err := e.cmd(ctx, "env", "CGO_ENABLED=0", "go", "build", "-trimpath", "-o", bin, pkg); err != nil {
			return nil, err
		}
	}
	e.fx, err = fixtures.Build(ctx, cfg.registry, e.prefix)
	if err != nil {
		return nil, fmt.Errorf("building fixtures: %w", err)
	}
	if _, err := e.cmd(ctx, e.drydock, "keygen", "--out-dir", dir); err != nil {
		return nil, err
	}
	e.key, e.pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	out, err := e.cmd(ctx, e.drydock, "harden", e.fx.UpstreamTag, "--to", e.repo("hardened/echo")+":1",
		"--base", e.fx.HardenedBase, "--key", e.key, "--progress", "quiet")
	if err != nil {
		return nil, err
	}
	e.hardened = lastLine(out)
	return e, nil
}

func (e *env) close() { os.RemoveAll(e.dir) }

func (e *env) repo(name string) string { return e.cfg.registry + "/" + e.prefix + "/" + name }

// cmd runs a command to completion and returns its stdout.
func (e *env) cmd(ctx context.Context, name string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir, c.Env = e.root, e.envv
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.String(), nil
}

// timedEnv is timed with extra environment variables.
func (e *env) timedEnv(ctx context.Context, extra []string, name string, args ...string) (time.Duration, error) {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir, c.Env = e.root, append(append([]string(nil), e.envv...), extra...)
	var errb bytes.Buffer
	c.Stderr = &errb
	start := time.Now()
	if err := c.Run(); err != nil {
		return 0, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return time.Since(start), nil
}

// timed runs a command and returns its wall time.
func (e *env) timed(ctx context.Context, name string, args ...string) (time.Duration, error) {
	start := time.Now()
	_, err := e.cmd(ctx, name, args...)
	return time.Since(start), err
}

func (e *env) machine() string {
	host, _ := os.Hostname()
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores (%s), %s/%s, %s, %s", host, runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH,
		runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}

// dockerRunLine is the last "docker run" line of policy explain's output
// (comment lines about attestations may follow it).
func dockerRunLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "docker run ") {
			return lines[i]
		}
	}
	return lastLine(s)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
