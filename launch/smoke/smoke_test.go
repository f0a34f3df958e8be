package smoke_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/stretchr/testify/require"
)

// fakeStarter starts processes instead of containers, picking what to run
// from the image name:
// "good" is the fixture MCP server, "nogit" the same server with no git on
// its PATH (its git_version tool fails, as in an image without git), "dead" fails to start the way a missing
// interpreter does, "noisy" never answers and writes stderr until its stdin
// closes, "hangs" answers initialize and then nothing, writing stderr.
// It lets Compare's logic run without a daemon; the real-engine path
// (launch.StartSandboxed) is covered by TestCompareEngine, build's node test
// and cmd/drydock's harden --smoke test.
func fakeStarter(t *testing.T) smoke.Option {
	t.Helper()
	server, err := fixtures.ServerBinary(context.Background())
	require.NoError(t, err)
	script := fmt.Sprintf(`#!/bin/sh
last=$1
case "$last" in
good) exec %[1]q ;;
nogit) PATH=/nonexistent exec %[1]q ;;
dead) echo "exec /usr/local/bin/start.sh: no such file or directory" >&2; exit 127 ;;
hangs) read -r _; echo '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"hangs","version":"1"}}}'
  (while :; do echo "stuck after initialize" >&2; sleep 0.01; done) & cat >/dev/null; kill $!; exit 1 ;;
noisy) (while :; do echo "noise on stderr" >&2; sleep 0.01; done) & cat >/dev/null; kill $!; exit 1 ;;
esac
echo "unknown image $last" >&2
exit 125
`, server)
	p := filepath.Join(t.TempDir(), "server")
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	return smoke.WithStarter(func(_ context.Context, image string, _ policies.ContainerSpec, args []string, stderr io.Writer) (*smoke.Process, error) {
		cmd := exec.Command(p, append([]string{image}, args...)...)
		cmd.Stderr = stderr
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		stop := func() {
			// Closing stdin ends every fake; kill only one that ignores it.
			_ = in.Close()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		return &smoke.Process{Stdin: in, Stdout: out, Stop: stop}, nil
	})
}

func TestCompare(t *testing.T) {
	start := fakeStarter(t)
	tests := []struct {
		name               string
		upstream, hardened string
		timeout            time.Duration
		mismatch           bool   // error wraps ErrMismatch and a result is returned
		wantErr            string // "" means success
	}{
		{name: "same server", upstream: "good", hardened: "good"},
		{name: "hardened does not start", upstream: "good", hardened: "dead", mismatch: true,
			wantErr: "no such file or directory"},
		{name: "hardened never answers", upstream: "good", hardened: "noisy", timeout: 2 * time.Second, mismatch: true,
			wantErr: "noise on stderr"},
		{name: "hardened hangs after initialize", upstream: "good", hardened: "hangs", timeout: 2 * time.Second, mismatch: true,
			wantErr: "stuck after initialize"},
		{name: "upstream does not start", upstream: "dead", hardened: "good", wantErr: "listing upstream dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []smoke.Option{start}
			if tt.timeout > 0 {
				opts = append(opts, smoke.WithTimeout(tt.timeout))
			}
			res, err := smoke.Compare(context.Background(), tt.upstream, tt.hardened, opts...)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.True(t, res.Match)
				require.Empty(t, res.Differences)
				require.Equal(t, res.Upstream, res.Hardened)
				require.Len(t, res.Upstream.Tools, 4, "echo, probe, exit, git_version: %v", res.Upstream.Tools)
				require.Equal(t, "drydock-fixture 1.0.0", res.Upstream.Server)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, tt.mismatch, res != nil, "a result comes back exactly when there is something to compare")
			if tt.mismatch {
				require.ErrorIs(t, err, smoke.ErrMismatch)
				require.False(t, res.Match)
				require.NotNil(t, res.Upstream)
				require.Len(t, res.Differences, 1)
				require.True(t, strings.HasPrefix(res.Differences[0], "hardened image did not answer"), res.Differences[0])
			} else {
				require.NotErrorIs(t, err, smoke.ErrMismatch)
			}
		})
	}
}

// TestCompareConcurrent runs comparisons side by side (mirror does), which
// under -race also covers the stderr capture the copying goroutine writes.
func TestCompareConcurrent(t *testing.T) {
	start := fakeStarter(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = smoke.Compare(context.Background(), "good", []string{"noisy", "hangs"}[i%2], start, smoke.WithTimeout(time.Second))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, smoke.ErrMismatch)
	}
}

func TestCompareCalls(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on this machine's PATH; the fixture's git_version tool needs it")
	}
	start := fakeStarter(t)
	gitCall := smoke.Call{Tool: "git_version"}
	long := strings.Repeat("x", 500)
	tests := []struct {
		name               string
		upstream, hardened string
		calls              []smoke.Call
		mismatch           bool
		wantErr            string
		wantUp, wantHard   bool   // the calls' OK on each side
		wantText           string // prefix of the upstream's text
	}{
		{name: "tool works on both", upstream: "good", hardened: "good", calls: []smoke.Call{gitCall},
			wantUp: true, wantHard: true, wantText: "git version "},
		{name: "tool stops working", upstream: "good", hardened: "nogit", calls: []smoke.Call{gitCall}, mismatch: true,
			wantErr: "tool git_version: works on the upstream", wantUp: true, wantText: "git version "},
		{name: "tool fails upstream too", upstream: "nogit", hardened: "nogit", calls: []smoke.Call{gitCall},
			wantText: "git --version: "},
		{name: "arguments reach the tool", upstream: "good", hardened: "good",
			calls: []smoke.Call{{Tool: "echo", Arguments: map[string]any{"text": "hi there"}}}, wantUp: true, wantHard: true, wantText: "hi there"},
		{name: "unknown tool", upstream: "good", hardened: "good", calls: []smoke.Call{{Tool: "nope"}},
			wantErr: `the upstream lists no tool "nope" (it has echo, exit, git_version, probe)`},
		{name: "no tool named", upstream: "good", hardened: "good", calls: []smoke.Call{{}}, wantErr: "call 1 names no tool"},
		{name: "long result truncated", upstream: "good", hardened: "good",
			calls: []smoke.Call{{Tool: "echo", Arguments: map[string]any{"text": long}}}, wantUp: true, wantHard: true, wantText: long[:200] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := smoke.Compare(context.Background(), tt.upstream, tt.hardened, start, smoke.WithCalls(tt.calls...))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.mismatch, errors.Is(err, smoke.ErrMismatch), "ErrMismatch: %v", err)
			if tt.wantErr != "" && !tt.mismatch {
				require.Nil(t, res, "nothing to compare")
				return
			}
			require.Equal(t, !tt.mismatch, res.Match)
			require.Len(t, res.Calls, 1)
			c := res.Calls[0]
			require.Equal(t, tt.calls[0].Tool, c.Tool)
			require.Equal(t, tt.wantUp, c.Upstream.OK, "upstream %q", c.Upstream.Text)
			require.NotNil(t, c.Hardened)
			require.Equal(t, tt.wantHard, c.Hardened.OK, "hardened %q", c.Hardened.Text)
			require.True(t, strings.HasPrefix(c.Upstream.Text, tt.wantText), "upstream text %q, want prefix %q", c.Upstream.Text, tt.wantText)
			if tt.mismatch {
				require.Len(t, res.Differences, 1)
				require.Contains(t, res.Differences[0], "fails on the hardened image (\"git --version: ")
			}
		})
	}
}
