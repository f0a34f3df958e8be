package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// drydockBin is the binary built once for the end-to-end tests: they drive
// drydock the way a user, a CI job or an MCP client does.
var drydockBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drydock-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	drydockBin = filepath.Join(dir, "drydock")
	// Static, as `make build` makes it: the egress proxy image is the binary itself.
	build := exec.Command("go", "build", "-trimpath", "-o", drydockBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building drydock: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// lastLine is the contract for scripts: the last stdout line is the answer.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return lines[len(lines)-1]
}

// drydock runs the binary with extra environment variables.
func drydock(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(drydockBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running drydock %v: %v", args, err)
	}
	return r
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"harden needs --to", []string{"harden", "x"}, exitError, `"to" not set`},
		{"run needs --key or keyless flags", []string{"run", "x"}, exitLaunchFailed, "give --key cosign.pub, or --trusted-root"},
		{"verify bad key file", []string{"verify", "127.0.0.1:1/x:1", "--key", "/nonexistent/cosign.pub"}, exitError, "/nonexistent/cosign.pub"},
		{"policy lint unknown field", []string{"policy", "lint", "testdata/bad-policy.yaml"}, exitError, "resources.swap: unknown field"},
		{"run --namespace needs --kube", []string{"run", "x", "--key", "k.pub", "--namespace", "mcp"}, exitLaunchFailed, "--namespace selects a cluster for --kube: add --kube, or drop --namespace"},
		{"run --kube has no --mount yet", []string{"run", "x", "--key", "k.pub", "--kube", "--mount", "/a:/b"}, exitLaunchFailed, "--kube does not take --mount, --env, --egress-resolver or server arguments yet"},
		{"mcp-config --kube has no --env yet", []string{"mcp-config", "x", "--client", "claude", "--key", "k.pub", "--kube", "--env", "GITHUB_TOKEN"}, exitError, "--kube does not take --mount, --env, --egress-resolver or server arguments yet"},
		{"mcp-config --context needs --kube", []string{"mcp-config", "x", "--client", "claude", "--key", "k.pub", "--context", "prod"}, exitError, "--context selects a cluster for --kube: add --kube, or drop --context"},
		{"run --kube has no server args yet", []string{"run", "x", "--key", "k.pub", "--kube", "--", "-v"}, exitLaunchFailed, "--kube does not take --mount, --env, --egress-resolver or server arguments yet"},
		{"harden unknown strategy", []string{"harden", "a", "--to", "b", "--base", "c", "--strategy", "magic"}, exitError, `strategy "magic": use one of auto, rebuild, inplace, rebase`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := drydock(t, nil, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit code = %d, want %d; stderr: %s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr = %q, want it to contain %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Fatalf("stdout = %q, want nothing on error", r.stdout)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 {
				t.Fatalf("stderr has %d lines, want one clear sentence: %q", n+1, r.stderr)
			}
		})
	}
}
