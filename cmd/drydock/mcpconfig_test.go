package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMCPConfigCommandLine: the run flags mcp-config writes into the
// client's command line, every one of them carried over.
func TestMCPConfigCommandLine(t *testing.T) {
	key, err := filepath.Abs("cosign.pub")
	require.NoError(t, err)
	tests := []struct {
		name    string
		flags   runFlags
		want    []string
		wantErr string
	}{
		{"egress resolver", runFlags{trust: trustFlags{key: "cosign.pub"}, egressResolver: "10.0.0.53:53"},
			[]string{"--key", key, "--egress-resolver", "10.0.0.53:53"}, ""},
		{"env and resolver", runFlags{trust: trustFlags{key: "cosign.pub"}, env: []string{"GITHUB_TOKEN"}, egressResolver: "[fd00::53]:5353"},
			[]string{"--key", key, "--env", "GITHUB_TOKEN", "--egress-resolver", "[fd00::53]:5353"}, ""},
		{"no resolver", runFlags{trust: trustFlags{key: "cosign.pub"}}, []string{"--key", key}, ""},
		{"resolver without a port", runFlags{trust: trustFlags{key: "cosign.pub"}, egressResolver: "10.0.0.53"},
			nil, `--egress-resolver "10.0.0.53": write host:port, e.g. 10.0.0.53:53`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.commandLine()
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
