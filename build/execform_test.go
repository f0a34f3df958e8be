package build

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExecForm(t *testing.T) {
	tests := []struct {
		name            string
		entrypoint, cmd []string
		wantEP, wantCmd []string
		rewritten       bool
		wantErr         bool
	}{
		{name: "exec form untouched", entrypoint: []string{"node", "dist/index.js"}, cmd: []string{"--stdio"},
			wantEP: []string{"node", "dist/index.js"}, wantCmd: []string{"--stdio"}},
		{name: "nixpacks bash -l -c", cmd: []string{"/bin/bash", "-l", "-c", "node dist/index.js"},
			wantEP: []string{"node", "dist/index.js"}, rewritten: true},
		{name: "sh -c with exec", entrypoint: []string{"/bin/sh", "-c"}, cmd: []string{"exec python -m server"},
			wantEP: []string{"python", "-m", "server"}, rewritten: true},
		{name: "bash -lc", entrypoint: []string{"bash", "-lc", "npx -y @scope/server"},
			wantEP: []string{"npx", "-y", "@scope/server"}, rewritten: true},
		{name: "variables need a shell", cmd: []string{"sh", "-c", "node index.js --port $PORT"}, wantErr: true},
		{name: "pipelines need a shell", cmd: []string{"sh", "-c", "cd app && node index.js"}, wantErr: true},
		{name: "assignments need a shell", cmd: []string{"sh", "-c", "FOO=1 node index.js"}, wantErr: true},
		{name: "interactive shell", cmd: []string{"/bin/sh"}, wantErr: true},
		{name: "script positional args", cmd: []string{"sh", "-c", "node \"$0\"", "x.js"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, cmd, rewritten, err := ExecForm(tt.entrypoint, tt.cmd)
			if tt.wantErr {
				require.True(t, errors.Is(err, ErrNeedsShell), "ExecForm() = %v, want ErrNeedsShell", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantEP, ep)
			require.Equal(t, tt.wantCmd, cmd)
			require.Equal(t, tt.rewritten, rewritten)
		})
	}
}
