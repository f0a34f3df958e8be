package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

func TestRunFloorAndPolicyShow(t *testing.T) {
	w := setup(t)
	floor := filepath.Join(t.TempDir(), "floor.yaml")
	require.NoError(t, os.WriteFile(floor, []byte("apiVersion: drydock.dev/v1\nkind: Floor\nresources: {maxMemory: 256Mi, maxPids: 64}\n"), 0o644))
	// No floor file in the (empty) config dir: the built-in strict floor applies and the default policy fits.
	env := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		oneLine  bool
		noStdout bool
	}{
		{name: "run refuses with every violation", args: []string{"run", w.hardened, "--key", w.pub, "--floor", floor},
			code: exitLaunchFailed, stderr: []string{"resources.memory 512Mi exceeds the floor's maxMemory 256Mi", "resources.pids 128 exceeds the floor's maxPids 64"}, oneLine: true, noStdout: true},
		{name: "verify refuses the same way", args: []string{"verify", w.hardened, "--key", w.pub, "--floor", floor},
			code: exitRefused, stderr: []string{"maxMemory 256Mi", "maxPids 64"}, oneLine: true, noStdout: true},
		{name: "missing explicit floor file", args: []string{"verify", w.hardened, "--key", w.pub, "--floor", floor + ".missing"},
			code: exitError, stderr: []string{"reading floor file"}, oneLine: true},
		{name: "verify under the built-in strict floor", args: []string{"verify", w.hardened, "--key", w.pub}, code: exitOK, stdout: []string{w.hardened}},
		{name: "policy show", args: []string{"policy", "show", w.hardenedTag, "--key", w.pub}, code: exitOK,
			stdout: []string{"# " + w.hardened, "memory: 512Mi", "user: 65532:65532", "mode: none"}},
		{name: "policy show refuses like run", args: []string{"policy", "show", w.hardenedTag, "--key", w.pub, "--floor", floor},
			code: exitRefused, stderr: []string{"maxMemory 256Mi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := drydock(t, env, tt.args...)
			require.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			for _, s := range tt.stdout {
				require.Contains(t, r.stdout, s)
			}
			for _, s := range tt.stderr {
				require.Contains(t, r.stderr, s)
			}
			if tt.oneLine {
				require.Equal(t, 0, strings.Count(strings.TrimSpace(r.stderr), "\n"), "one sentence: %q", r.stderr)
			}
			if tt.noStdout {
				require.Empty(t, r.stdout)
			}
		})
	}
}

func TestRunSIGINT(t *testing.T) {
	w := setup(t)
	cmd, _, _ := startRaw(t, w)
	ctr := runningContainer(t, w.docker, w.hardened)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.NotEqual(t, exitLaunchFailed, ee.ExitCode(), "the server's signal exit, not a launch failure")
	waitGone(t, w.docker, ctr)
}

// inspectorVersion is the MCP Inspector release whose --cli mode is known to
// work with any stdio command (0.17.x; 2.x moved the CLI).
const inspectorVersion = "0.17.5"

// inspector installs the MCP Inspector with npm into the user's cache
// directory once and returns its CLI entry point.
func inspector(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		testenv.Unavailable(t, "npm is not installed: apt-get install -y npm (hack/dev-env up installs it)")
	}
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	dir := filepath.Join(cache, "drydock-test", "inspector-"+inspectorVersion)
	bin := filepath.Join(dir, "node_modules", ".bin", "mcp-inspector")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir,
		"@modelcontextprotocol/inspector@"+inspectorVersion).CombinedOutput()
	require.NoError(t, err, "npm install of the MCP Inspector: %s", out)
	return bin
}

// TestMCPInspectorCLI drives drydock run with a client no one here wrote.
func TestMCPInspectorCLI(t *testing.T) {
	w := setup(t)
	bin := inspector(t)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out map[string]any)
	}{
		{"tools/list", []string{"--method", "tools/list"}, func(t *testing.T, out map[string]any) {
			var names []string
			for _, tl := range out["tools"].([]any) {
				names = append(names, tl.(map[string]any)["name"].(string))
			}
			require.Subset(t, names, []string{"echo", "probe", "exit"})
		}},
		{"tools/call echo", []string{"--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=hello inspector"}, func(t *testing.T, out map[string]any) {
			content := out["content"].([]any)
			require.Equal(t, "hello inspector", content[0].(map[string]any)["text"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := append([]string{"--cli", drydockBin, "run", w.hardened, "--key", w.pub}, tt.args...)
			cmd := exec.CommandContext(ctx, bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "inspector: %s\n%s", stdout.String(), stderr.String())
			var out map[string]any
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
			tt.check(t, out)
		})
	}
	// Every container the inspector's runs started is gone.
	waitNone(t, w)
}

// waitNone polls until no container of the shared hardened image exists.
func waitNone(t *testing.T, w *world) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if countContainers(t, w) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("containers of %s remain", w.hardened)
}

func countContainers(t *testing.T, w *world) int {
	t.Helper()
	list, err := w.docker.ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", launch.LabelImage+"="+w.hardened)),
	})
	require.NoError(t, err)
	return len(list)
}
