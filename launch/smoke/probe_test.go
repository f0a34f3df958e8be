package smoke_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/stretchr/testify/require"
)

// TestAvailable: a docker CLI that reaches its engine counts, one that
// does not (or is missing) does not, and the reason is in the error.
func TestAvailable(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
		return p
	}
	tests := []struct {
		name, docker, wantErr string
	}{
		{"engine answers", script("up", "echo 20.10.24"), ""},
		{"engine down", script("down", "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1"), "Cannot connect to the Docker daemon"},
		{"no CLI", filepath.Join(dir, "missing"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := smoke.Available(context.Background(), smoke.WithDocker(tt.docker))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "no container engine answered")
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
