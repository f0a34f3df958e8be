package build_test

import (
	"context"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/stretchr/testify/require"
)

// TestHardenRefusesProgramUnderRoot: a start program under /root (0700)
// cannot be started by the policy's user; harden refuses it, naming
// /root, for every strategy (inplace keeps the filesystem, so /root stays
// unreadable there too) — it used to sign an image that fails at start.
func TestHardenRefusesProgramUnderRoot(t *testing.T) {
	e := setup(t)
	src := withStart(t, e, "underroot", []string{"/root/bin/mcp-server"}, nil, rootLayer(t))
	for _, strategy := range []build.Strategy{build.StrategyRebase, build.StrategyInplace} {
		t.Run(string(strategy), func(t *testing.T) {
			res, err := build.Harden(context.Background(), src, e.dst("underroot-"+string(strategy)),
				build.WithBase(e.fx.HardenedBase), build.WithStrategy(strategy), build.WithBuildKitAddr(daemonFor(t, e, strategy)))
			require.Error(t, err, "Harden() = %+v, want a refusal", res)
			require.ErrorContains(t, err, "/root/bin/mcp-server")
			require.ErrorContains(t, err, "cannot search /root")
		})
	}
}
