// Package testenv finds the real components integration and end-to-end
// tests need (registry, dockerd, buildkitd). When one is missing a test
// fails under CI=true and skips elsewhere, saying how to start it.
package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
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
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable under CI=true: %v; .ci/run must %s", what, err, howTo)
	}
	t.Skipf("%s is not reachable (%v); %s", what, err, howTo)
}
