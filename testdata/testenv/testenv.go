// Package testenv finds the real components integration and end-to-end
// tests need (registry, dockerd, buildkitd). When one is missing a test
// fails under CI=true and skips elsewhere, saying how to start it.
package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"
	bkclient "github.com/moby/buildkit/client"
)

// DefaultRegistry is where hack/dev-env starts the registry.
const DefaultRegistry = "127.0.0.1:5000"

const howTo = "start the environment with `hack/dev-env up` (or `make test`)"

// Registry returns the address of a reachable registry (DRYDOCK_TEST_REGISTRY
// or 127.0.0.1:5000).
func Registry(t testing.TB) string {
	t.Helper()
	reg := os.Getenv("DRYDOCK_TEST_REGISTRY")
	if reg == "" {
		reg = DefaultRegistry
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + reg + "/v2/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return reg
		}
		err = fmt.Errorf("GET /v2/ answered %s", resp.Status)
	}
	missing(t, "registry at "+reg, err)
	return ""
}

// Docker returns a client for a reachable Docker engine (DOCKER_HOST or the
// default socket).
func Docker(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err = c.Ping(ctx); err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
	}
	missing(t, "Docker engine", err)
	return nil
}

// BuildKit checks that a BuildKit daemon answers at BUILDKIT_HOST or the
// default socket and returns its address.
func BuildKit(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("BUILDKIT_HOST")
	if addr == "" {
		addr = "unix:///run/buildkit/buildkitd.sock"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := bkclient.New(ctx, addr)
	if err == nil {
		defer c.Close()
		if _, err = c.Info(ctx); err == nil {
			return addr
		}
	}
	missing(t, "buildkitd at "+addr, err)
	return ""
}

func missing(t testing.TB, what string, err error) {
	t.Helper()
	Unavailable(t, "%s is not reachable (%v); %s", what, err, howTo)
}

// InCI reports whether the tests run under CI: any CI value other than
// empty, "false" or "0" (CI services set "true", "1" or their own name).
// Under CI every component is expected, so nothing may be skipped.
func InCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "false", "0":
		return false
	}
	return true
}

// Unavailable is the one place that decides what a test does when
// something it needs is missing: under CI it fails, elsewhere it skips.
// The message says what is missing and how to provide it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("under CI=%s: %s", os.Getenv("CI"), msg)
	}
	t.Skipf("%s (under CI this fails instead)", msg)
}

// FreshBuildKit starts a private buildkitd with an empty cache for one test
// and returns its address. BuildKit v0.34 exports wrong layer stacks for
// Merge/Diff results when refs from an earlier build of the same content
// are in its cache (see build.ErrOutputRejected); tests that pin down what
// the BuildKit strategies produce therefore each get a daemon of their own.
// It uses the buildkitd that hack/dev-env built (on PATH) and needs root.
func FreshBuildKit(t testing.TB) string {
	t.Helper()
	BuildKit(t) // the shared one proves the environment is up
	addr, stop, err := StartBuildKit()
	if err != nil {
		Unavailable(t, "cannot start a private buildkitd (%v); %s", err, howTo)
	}
	t.Cleanup(stop)
	return addr
}

// StartBuildKit starts a buildkitd (native snapshotter) with an empty cache
// in a temporary directory and waits until it answers. stop kills it and
// removes its state. Benchmarks use it for cold-cache figures.
func StartBuildKit() (addr string, stop func(), err error) {
	bin, err := exec.LookPath("buildkitd")
	if err != nil {
		return "", nil, fmt.Errorf("no buildkitd on PATH (hack/dev-env up builds it): %w", err)
	}
	dir, err := os.MkdirTemp("", "bk") // short: unix socket paths are limited
	if err != nil {
		return "", nil, err
	}
	reg := os.Getenv("DRYDOCK_TEST_REGISTRY")
	if reg == "" {
		reg = DefaultRegistry
	}
	cfg := filepath.Join(dir, "buildkitd.toml")
	conf := ""
	for _, r := range []string{reg, "127.0.0.1:5000", "localhost:5000"} {
		if !strings.Contains(conf, `"`+r+`"`) {
			conf += fmt.Sprintf("[registry.%q]\n  http = true\n  insecure = true\n", r)
		}
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	addr = "unix://" + filepath.Join(dir, "bk.sock")
	logf, err := os.Create(filepath.Join(dir, "buildkitd.log"))
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	cmd := exec.Command(bin, "--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=native",
		"--addr", addr, "--root", filepath.Join(dir, "root"), "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := bkclient.New(ctx, addr)
		if err == nil {
			_, err = c.Info(ctx)
			c.Close()
		}
		cancel()
		if err == nil {
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			stop()
			return "", nil, fmt.Errorf("private buildkitd at %s did not answer within 30s: %w\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
