package smoke_test

import (
	"context"
	"errors"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/stretchr/testify/require"
)

// versionOnly answers ServerVersion; any other call panics (the embedded
// interface is nil), so Available is shown to touch nothing else.
type versionOnly struct {
	launch.Docker
	err error
}

func (v versionOnly) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Version: "20.10.24"}, v.err
}

// TestAvailable: an engine that answers counts, one that does not does
// not, and the reason is in the error.
func TestAvailable(t *testing.T) {
	down := errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
	tests := []struct {
		name    string
		engine  versionOnly
		wantErr string
	}{
		{"engine answers", versionOnly{}, ""},
		{"engine down", versionOnly{err: down}, "no container engine answered: Cannot connect to the Docker daemon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := smoke.Available(context.Background(), smoke.WithEngine(tt.engine))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
