package build_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// TestInplaceRemoveTools pins the policy's removeTools field on inplace,
// the one strategy where it is off by default: with it, the node upstream
// keeps its filesystem but loses its shell, package managers and compiler —
// except node, the entrypoint's program, and the server still answers MCP;
// without it, they all stay.
func TestInplaceRemoveTools(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nx, err := fixtures.BuildNode(ctx, e.reg, e.prefix)
	require.NoError(t, err)
	tools := []string{"/bin/busybox", "/bin/sh", "/bin/bash", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/gcc", "/usr/bin/npm"}
	for _, remove := range []bool{false, true} {
		name := map[bool]string{false: "default", true: "remove-tools"}[remove]
		t.Run(name, func(t *testing.T) {
			p := policies.Default()
			p.RemoveTools = remove
			res, err := build.Harden(ctx, nx.UpstreamTag, e.dst("node-inplace-"+name),
				build.WithStrategy(build.StrategyInplace), build.WithPolicy(p), build.WithBuildKitAddr(testenv.FreshBuildKit(t)))
			require.NoError(t, err)
			require.Equal(t, build.StrategyInplace, res.Strategy)
			require.Equal(t, build.EngineBuildKit, res.Engine)
			files := paths(t, checkPushed(t, res.Ref))
			require.Contains(t, files, "usr/bin/node", "the entrypoint's program is never removed")
			require.Contains(t, files, fixtures.NodeServerMain[1:])
			for _, tool := range tools {
				if remove {
					require.Contains(t, res.Hardening.Removed, tool)
					require.NotContains(t, files, tool[1:], "removed from the pushed image")
				} else {
					require.Contains(t, files, tool[1:], "inplace keeps tools unless the policy says removeTools")
				}
			}
			require.NotContains(t, res.Hardening.Removed, "/usr/bin/node")
			require.Equal(t, remove, len(res.Hardening.Removed) > 0)
			require.Equal(t, len(res.Hardening.Removed), res.Hardening.Counts.Removed)
			require.True(t, slices.IsSorted(res.Hardening.Removed))
			if remove {
				// Without its shell and npm the server still starts and
				// lists the same tools.
				testenv.Docker(t)
				sr, err := smoke.Compare(ctx, nx.Upstream, res.Ref)
				require.NoError(t, err)
				require.True(t, sr.Match)
			}
		})
	}
}
