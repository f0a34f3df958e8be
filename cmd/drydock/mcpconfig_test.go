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

// TestMCPConfigKube: --kube and its cluster flags reach the client's
// command line, the kubeconfig made absolute; without --kube none is added.
func TestMCPConfigKube(t *testing.T) {
	kc, err := filepath.Abs("kube/config")
	require.NoError(t, err)
	for _, tt := range []struct {
		name  string
		flags kubeRunFlags
		want  []string
	}{
		{"off", kubeRunFlags{context: "prod"}, nil},
		{"on", kubeRunFlags{on: true}, []string{"--kube"}},
		{"every flag", kubeRunFlags{on: true, kubeconfig: "kube/config", context: "prod", namespace: "mcp"},
			[]string{"--kube", "--kubeconfig", kc, "--context", "prod", "--namespace", "mcp"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.flags.commandLine())
		})
	}
}
