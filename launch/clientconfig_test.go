package launch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClientConfig(t *testing.T) {
	s := ServerCommand{
		Command: "/usr/local/bin/drydock",
		Image:   "registry.internal/mcp/github:1",
		Args:    []string{"--key", "/home/dev/.config/drydock/cosign.pub", "--env", "GITHUB_TOKEN"},
		Env:     []string{"GITHUB_TOKEN"},
	}
	for _, client := range Clients {
		t.Run(client, func(t *testing.T) {
			got, err := ClientConfig(client, s)
			require.NoError(t, err)
			path := filepath.Join("testdata", "mcp-config."+client+".json")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "golden file missing; run with UPDATE_GOLDEN=1")
			require.Equal(t, string(want), string(got))
		})
	}
	_, err := ClientConfig("emacs", s)
	require.ErrorContains(t, err, "use one of claude, cursor, vscode")
	_, err = ClientConfig("claude", ServerCommand{Image: "UPPER/case"})
	require.ErrorContains(t, err, "parsing image reference")
}
