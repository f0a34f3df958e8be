package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/stretchr/testify/require"
)

// TestHardenCarry is issue 12's carry through the CLI, on real dockerd,
// buildkitd and registry: the fixture server's git_version tool shells out
// to git, which sits on its fat upstream base (host git with ldd's closure,
// setuid). rebuild and rebase drop that base, so without --carry the tool
// fails on the hardened image while it works upstream, and --smoke-call
// makes harden refuse to sign or tag; with --carry /usr/bin/git the image
// is signed and tagged, drydock run starts it as 65532, and the tool works.
func TestHardenCarry(t *testing.T) {
	w := setup(t)
	testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gx, err := fixtures.BuildGit(ctx, w.reg, w.prefix)
	require.NoError(t, err, "building the git fixture")
	for _, strategy := range []build.Strategy{build.StrategyRebuild, build.StrategyRebase} {
		for _, carry := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/carry=%v", strategy, carry), func(t *testing.T) {
				addr := noBuildKit
				if strategy == build.StrategyRebuild {
					addr = testenv.FreshBuildKit(t)
				}
				tag := w.repo(fmt.Sprintf("carry/%s-%v", strategy, carry)) + ":1"
				args := []string{gx.Upstream, "--to", tag, "--strategy", string(strategy), "--buildkit-addr", addr, "--key", w.key,
					"--smoke-call", "git_version"}
				if carry {
					args = append(args, "--carry", fixtures.GitPath)
				}
				res, r := hardenJSON(t, w, args...)
				_, tagErr := crane.Digest(tag)
				require.NotNil(t, res.Smoke, "the start check ran; stderr: %s", r.stderr)
				require.Len(t, res.Smoke.Calls, 1)
				call := res.Smoke.Calls[0]
				require.Equal(t, "git_version", call.Tool)
				require.True(t, call.Upstream.OK, "git works upstream: %q", call.Upstream.Text)
				require.True(t, strings.HasPrefix(call.Upstream.Text, "git version "), call.Upstream.Text)
				require.NotNil(t, call.Hardened)
				if !carry {
					require.NotEqual(t, exitOK, r.code, "harden must refuse; stdout: %s", r.stdout)
					require.Error(t, tagErr, "a refused image must not be tagged")
					require.False(t, res.Signed)
					require.False(t, call.Hardened.OK, "git is gone from the hardened image: %q", call.Hardened.Text)
					for _, want := range []string{"not signing or tagging", "tool git_version: works on the upstream (\"git version ", "but fails on the hardened image (\"git --version: "} {
						require.Contains(t, r.stderr, want)
					}
					t.Logf("refusal: %s", strings.TrimSpace(r.stderr))
					return
				}
				require.Equal(t, exitOK, r.code, "harden failed: %s", r.stderr)
				require.NoError(t, tagErr, "a passing image is tagged")
				require.True(t, res.Signed)
				require.Equal(t, strategy, res.Strategy, res.StrategyReason)
				require.True(t, call.Hardened.OK, "git works hardened: %q", call.Hardened.Text)
				require.Equal(t, call.Upstream.Text, call.Hardened.Text, "the same git answers")
				require.Equal(t, []string{fixtures.GitPath}, res.Carry)
				require.ElementsMatch(t, append([]string{fixtures.GitPath}, gx.Libraries...), res.Carried)
				require.Contains(t, res.Hardening.SetuidCleared, fixtures.GitPath)
				ggcr, own := violations(t, res.Ref)
				require.Empty(t, ggcr, "pushed image %s, flattened by go-containerregistry", res.Ref)
				require.Empty(t, own, "pushed image %s, audited by drydock", res.Ref)

				s := connectArgs(t, tag, w.pub)
				require.True(t, strings.HasPrefix(callText(t, s, "git_version", map[string]any{}), "git version "))
				requireProcessesRunAs(t, w, res.Ref, "65532")
				ctr := runningContainer(t, w.docker, res.Ref)
				require.NoError(t, s.Close())
				waitGone(t, w.docker, ctr)
			})
		}
	}
}
