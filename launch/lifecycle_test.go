package launch

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/policies"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

func TestLifecycle(t *testing.T) {
	w := setup(t)
	ref := w.image(t, "lifecycle", policies.Default())
	pinned := digestOf(t, ref)

	tests := []struct {
		name     string
		end      func(t *testing.T, s *session)
		wantCode int
	}{
		{"client closes stdin", func(t *testing.T, s *session) { require.NoError(t, s.stdin.Close()) }, 0},
		// The CLI cancels the context on SIGINT/SIGTERM; the server gets SIGTERM.
		{"context cancelled (SIGINT/SIGTERM)", func(t *testing.T, s *session) { s.cancel() }, 143},
		{"server exits by itself", func(t *testing.T, s *session) {
			_, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "exit", Arguments: map[string]any{"code": 7}})
			require.NoError(t, err)
		}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := w.start(t, ref)
			require.Len(t, w.containers(t, pinned), 1)
			tt.end(t, s)
			r := s.wait(t)
			require.NoError(t, r.err)
			require.Equal(t, tt.wantCode, r.code)
			w.waitGone(t, pinned)
		})
	}
}

func TestConcurrentRunsDoNotCollide(t *testing.T) {
	w := setup(t)
	ref := w.image(t, "concurrent", policies.Default())
	pinned := digestOf(t, ref)
	const n = 3
	sessions := make([]*session, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sessions[i] = w.start(t, ref)
		}()
	}
	wg.Wait()
	ctrs := w.containers(t, pinned)
	require.Len(t, ctrs, n, "one container per run")
	names := map[string]bool{}
	for _, c := range ctrs {
		names[c.Names[0]] = true
	}
	require.Len(t, names, n, "distinct container names")
	for i, s := range sessions {
		want := fmt.Sprintf("run %d", i)
		require.Equal(t, want, echoText(t, s, want), "each client talks to its own server")
	}
	for _, s := range sessions {
		require.NoError(t, s.stdin.Close())
		require.NoError(t, s.wait(t).err)
	}
	w.waitGone(t, pinned)
}
