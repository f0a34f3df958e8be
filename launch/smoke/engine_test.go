package smoke_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// TestCompareEngine runs the start check on a real engine: both images go
// through launch.StartSandboxed (created from the policy's translation,
// inspected, then started), the upstream as its own user, the other as the
// policy's.
func TestCompareEngine(t *testing.T) {
	reg := testenv.Registry(t)
	docker := testenv.Docker(t)
	ctx := context.Background()
	set, err := fixtures.Build(ctx, reg, fmt.Sprintf("smoke-%d", time.Now().UnixNano()))
	require.NoError(t, err)
	res, err := smoke.Compare(ctx, set.Upstream, set.Upstream, smoke.WithEngine(docker),
		smoke.WithCalls(smoke.Call{Tool: "echo", Arguments: map[string]any{"text": "through the engine"}}))
	require.NoError(t, err)
	require.True(t, res.Match)
	require.Equal(t, "drydock-fixture 1.0.0", res.Upstream.Server)
	require.Equal(t, "through the engine", res.Calls[0].Hardened.Text)

	_, err = smoke.Compare(ctx, set.UpstreamTag, set.Upstream, smoke.WithEngine(docker))
	require.ErrorContains(t, err, "give the image by digest")
}
