package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// buildServer compiles this package the way the fixture images do (static).
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mcp-server")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, err, "go build: %s", out)
	return bin
}

func connect(t *testing.T, ctx context.Context, bin string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "drydock-test", Version: "0"}, nil)
	cmd := exec.Command(bin)
	cmd.Stderr = os.Stderr
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "Connect()")
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callProbe(t *testing.T, ctx context.Context, cs *mcp.ClientSession, addr string) ProbeResult {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "probe", Arguments: ProbeArgs{Connect: addr}})
	require.NoError(t, err, "CallTool(probe)")
	require.False(t, res.IsError, "probe returned a tool error: %v", res.Content)
	var fromText, fromStructured ProbeResult
	require.Len(t, res.Content, 1)
	text, ok := res.Content[0].(*mcp.TextContent)
	require.True(t, ok, "probe content is %T, want *mcp.TextContent", res.Content[0])
	require.NoError(t, json.Unmarshal([]byte(text.Text), &fromText))
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &fromStructured))
	require.Equal(t, fromStructured, fromText, "text and structured probe reports differ")
	return fromStructured
}

func TestServerOverStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := connect(t, ctx, buildServer(t))

	init := cs.InitializeResult()
	require.Equal(t, "drydock-fixture", init.ServerInfo.Name)
	require.Equal(t, "1.0.0", init.ServerInfo.Version)

	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err, "ListTools()")
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	for _, want := range []string{"echo", "probe", "exit"} {
		if !slices.Contains(names, want) {
			t.Fatalf("tools/list = %v, want it to contain %q", names, want)
		}
	}

	t.Run("echo", func(t *testing.T) {
		for _, text := range []string{"hello", "", "  spaces and\nnewlines \"quoted\" ünïcode  "} {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
			require.NoError(t, err, "CallTool(echo)")
			require.Len(t, res.Content, 1)
			got := res.Content[0].(*mcp.TextContent).Text
			if got != text {
				t.Fatalf("echo(%q) = %q, want %q", text, got, text)
			}
			require.Equal(t, map[string]any{"text": text}, res.StructuredContent)
		}
	})

	t.Run("probe", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go acceptAll(ln)

		closed, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closedAddr := closed.Addr().String()
		closed.Close()

		tests := []struct {
			name, addr string
			wantOK     bool
		}{
			{"open port", ln.Addr().String(), true},
			{"closed port", closedAddr, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := callProbe(t, ctx, cs, tt.addr)
				require.NotNil(t, got.Connect, "probe(%s).connect", tt.addr)
				if got.Connect.OK != tt.wantOK {
					t.Fatalf("probe(%s).connect.ok = %v (error %q), want %v", tt.addr, got.Connect.OK, got.Connect.Error, tt.wantOK)
				}
				if !tt.wantOK && got.Connect.Error == "" {
					t.Fatalf("probe(%s).connect.error = %q, want a dial error", tt.addr, got.Connect.Error)
				}
				if !got.TmpWritable {
					t.Fatalf("probe().tmpWritable = false (%s), want true", got.TmpWriteError)
				}
				require.Equal(t, os.Getuid(), got.UID)
				require.Len(t, got.CapEff, 16, "capEff %q", got.CapEff)
			})
		}
	})

	t.Run("probe without connect", func(t *testing.T) {
		got := callProbe(t, ctx, cs, "")
		if got.Connect != nil {
			t.Fatalf("probe().connect = %+v, want omitted", got.Connect)
		}
	})
}

func TestExitCodePropagates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := buildServer(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "drydock-test", Version: "0"}, nil)
	cmd := exec.Command(bin)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "Connect()")

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "exit", Arguments: ExitArgs{Code: 7}})
	require.NoError(t, err, "CallTool(exit)")
	require.False(t, res.IsError)
	// The server hangs up on its own; the transport reaps it and reports the
	// exit status from Wait or, if Wait saw only the hang-up, from Close.
	waitErr := cs.Wait()
	closeErr := cs.Close()
	t.Logf("Wait() = %v, Close() = %v", waitErr, closeErr)
	var exitErr *exec.ExitError
	if !errors.As(waitErr, &exitErr) && !errors.As(closeErr, &exitErr) {
		t.Fatalf("Wait() = %v, Close() = %v, want an *exec.ExitError", waitErr, closeErr)
	}
	if got := exitErr.ExitCode(); got != 7 {
		t.Fatalf("exit code = %d, want 7", got)
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// TestGitVersion: the tool works when git is on PATH and is a tool error
// (isError, not a protocol error) when it is not.
func TestGitVersion(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on this machine's PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := buildServer(t)
	tests := []struct {
		name, path string
		wantErr    bool
		wantText   string
	}{
		{name: "git on PATH", path: os.Getenv("PATH"), wantText: "git version "},
		{name: "no git", path: t.TempDir(), wantErr: true, wantText: "git --version: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := mcp.NewClient(&mcp.Implementation{Name: "drydock-test", Version: "0"}, nil)
			cmd := exec.Command(bin)
			cmd.Env = []string{"PATH=" + tt.path}
			cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
			require.NoError(t, err, "Connect()")
			defer cs.Close()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "git_version", Arguments: map[string]any{}})
			require.NoError(t, err, "CallTool(git_version)")
			require.Equal(t, tt.wantErr, res.IsError, "isError; content %v", res.Content)
			require.Len(t, res.Content, 1)
			text, ok := res.Content[0].(*mcp.TextContent)
			require.True(t, ok, "content is %T", res.Content[0])
			require.Contains(t, text.Text, tt.wantText)
		})
	}
}
