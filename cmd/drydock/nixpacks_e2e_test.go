package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

var nixpacksShared testenv.Shared[*fixtures.NixpacksSet]

// nixpacksFixture pushes the Nixpacks-shaped node, Python and Go images
// under the shared world's prefix, once per test binary (the debootstrap
// and Nix store trees are cached per machine; see the fixtures package).
func nixpacksFixture(t *testing.T, w *world) *fixtures.NixpacksSet {
	t.Helper()
	return nixpacksShared.Get(t, func() (*fixtures.NixpacksSet, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		set, err := fixtures.BuildNixpacks(ctx, w.reg, w.prefix)
		if err != nil {
			return nil, fmt.Errorf("building the Nixpacks fixtures: %w", err)
		}
		return set, nil
	})
}

// Names no hardened image may hold anywhere (matched on the basename of
// every non-directory entry, /nix/store included), written out here rather
// than taken from drydock's own tool list. Shells: none at all. Package
// managers: none either, because every start command resolves to a program
// that needs none of them — `npm run start` becomes node plus the server
// script (npm only read package.json to find the script), the Python
// console script runs on the venv's python, and the Go server is static.
var (
	shellNames   = regexp.MustCompile(`^(sh|bash|dash)$`)
	managerNames = regexp.MustCompile(`^(apt|apt-get|apt-cache|apt-key|apt-mark|dpkg|dpkg-deb|dpkg-query|npm|npx|npm-cli\.js|npx-cli\.js|corepack|yarn|pnpm|pip|pip3|pip3\.\d+)$`)
)

// TestNixpacksEndToEnd is issue 12's end-to-end requirement: each
// Nixpacks-shaped fixture (node `npm run start`, a Python console script in
// /opt/venv, Go `./out stdio`), under auto and inplace, with no base
// configured: harden --key runs its start check (which must pass), signs
// and tags; drydock run, as an MCP client's command, answers a real
// tools/call as 65532 with a read-only root; the pushed images hold no
// setuid/setgid file, and the rebuilt (auto) ones no shell and no package
// manager. It logs the hardened size against the upstream's.
func TestNixpacksEndToEnd(t *testing.T) {
	w := setup(t)
	nx := nixpacksFixture(t, w)
	apps := []struct {
		name, src string
		up        string // the upstream's digest ref, for its size
		tools     int    // the upstream's tools/list length, which the start check compares
		// before and after are the upstream's start command and the exec
		// form it must end in (the store path's hash varies).
		before, after string
		runArgs       []string
		call          func(t *testing.T, s *mcp.ClientSession)
	}{
		{name: "node", src: nx.NodeTag, up: nx.Node, tools: 14, before: "/bin/bash -l -c 'npm run start'",
			after: "/app/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js /app/data",
			// /proc/self lets a real tool read the server's own identity.
			runArgs: []string{"/proc/self"}, call: callNixpacksNode},
		{name: "python", src: nx.PythonTag, up: nx.Python, tools: 2, before: "/bin/bash -l -c mcp-server-stdlib",
			after: "/opt/venv/bin/mcp-server-stdlib", call: callNixpacksPython},
		{name: "go", src: nx.GoTag, up: nx.Go, tools: 4, before: "/bin/bash -l -c './out stdio'",
			after: "/app/out stdio", call: callGo},
	}
	for _, app := range apps {
		for _, strategy := range []build.Strategy{build.StrategyAuto, build.StrategyInplace} {
			t.Run(app.name+"/"+string(strategy), func(t *testing.T) {
				start := time.Now()
				tag := w.repo("nixpacks/"+app.name+"-"+string(strategy)) + ":1"
				args := []string{app.src, "--to", tag, "--key", w.key}
				if strategy == build.StrategyInplace {
					// A daemon of its own: BuildKit v0.34 mixes up layers of
					// the same content pulled under another name.
					args = append(args, "--strategy", string(strategy), "--buildkit-addr", testenv.FreshBuildKit(t))
				}
				res, r := hardenJSON(t, w, args...)
				require.Equal(t, exitOK, r.code, "harden failed: %s", r.stderr)
				hardenTime := time.Since(start)

				// Auto finds the Nixpacks base in the history, which only
				// the registry level can use; inplace keeps the upstream.
				wantStrategy := map[build.Strategy]build.Strategy{build.StrategyAuto: build.StrategyRebase, build.StrategyInplace: build.StrategyInplace}[strategy]
				require.Equal(t, wantStrategy, res.Strategy, res.StrategyReason)
				if strategy == build.StrategyAuto {
					require.Contains(t, res.StrategyReason, "read from the image history")
					require.Contains(t, res.StrategyReason, "drydock generated its own minimal static base")
				}
				require.NotNil(t, res.Start)
				require.Equal(t, app.before, res.Start.Before)
				require.True(t, strings.HasSuffix(res.Start.After, app.after), "start %q, want it to end in %q", res.Start.After, app.after)
				require.True(t, path.IsAbs(res.Start.Entrypoint[0]), "exec form: %q", res.Start.Entrypoint)
				require.False(t, shellNames.MatchString(path.Base(res.Start.Entrypoint[0])), "no shell starts it: %q", res.Start.Entrypoint)
				require.Empty(t, res.Start.Kept)

				// The start check ran and passed.
				require.Empty(t, res.SmokeSkipped, "the start check must run")
				require.NotNil(t, res.Smoke, "the JSON carries the start check")
				require.True(t, res.Smoke.Match, "differences: %v", res.Smoke.Differences)
				require.Len(t, res.Smoke.Upstream.Tools, app.tools, "%v", res.Smoke.Upstream.Tools)
				require.Equal(t, res.Smoke.Upstream, res.Smoke.Hardened)
				require.True(t, res.Signed)
				require.Equal(t, tag, res.Tag)
				d, err := crane.Digest(tag)
				require.NoError(t, err)
				require.Equal(t, res.Digest, d, "the tag names the hardened, signed digest")

				hardened := pulled(t, res.Ref)
				cf, err := hardened.ConfigFile()
				require.NoError(t, err)
				require.Equal(t, "65532:65532", cf.Config.User)
				require.Empty(t, cf.Config.Cmd)
				ggcr, own := violations(t, res.Ref)
				require.Empty(t, ggcr, "pushed image %s, flattened by go-containerregistry", res.Ref)
				require.Empty(t, own, "pushed image %s, audited by drydock", res.Ref)
				if strategy == build.StrategyAuto {
					// inplace promises no tool removal without the policy's
					// removeTools: the upstream's shell and apt stay there.
					shells, managers := tools(t, hardened)
					require.Empty(t, shells, "shells left in %s", res.Ref)
					require.Empty(t, managers, "package managers left in %s", res.Ref)
				}

				s := connectArgs(t, tag, w.pub, app.runArgs...)
				app.call(t, s)
				requireProcessesRunAs(t, w, res.Ref, "65532")
				ctr := runningContainer(t, w.docker, res.Ref)
				info, err := w.docker.ContainerInspect(context.Background(), ctr)
				require.NoError(t, err)
				require.True(t, info.HostConfig.ReadonlyRootfs, "the root filesystem is read-only")
				require.Equal(t, "65532:65532", info.Config.User)
				require.NoError(t, s.Close())
				waitGone(t, w.docker, ctr)

				up, down := compressedSize(t, pulled(t, app.up)), compressedSize(t, hardened)
				t.Logf("%s %s: upstream %.1f MB, hardened %.1f MB (%.0f%%); harden %.1fs, total %.1fs; start %s; %s",
					app.name, strategy, mb(up), mb(down), 100*float64(down)/float64(up), hardenTime.Seconds(), time.Since(start).Seconds(),
					res.Start.After, res.Hardening.Summary())
			})
		}
	}
}

// callNixpacksNode calls the filesystem server: its allowed directory, a
// listing, and its own /proc/self/status, which shows the uid it runs as.
func callNixpacksNode(t *testing.T, s *mcp.ClientSession) {
	dirs := callText(t, s, "list_allowed_directories", map[string]any{})
	require.Contains(t, dirs, fixtures.NixpacksNodeData)
	status := callText(t, s, "read_text_file", map[string]any{"path": "/proc/self/status"})
	require.Contains(t, status, "\nUid:\t65532\t65532\t65532\t65532\n", "node must run as 65532: %s", status)
	require.Contains(t, status, "\nGid:\t65532\t65532\t65532\t65532\n")
}

// callNixpacksPython calls whoami: uid and gid 65532, started in /app by
// the venv's python (the console script's #! line, no shell).
func callNixpacksPython(t *testing.T, s *mcp.ClientSession) {
	require.Equal(t, "through the venv", callText(t, s, "echo", map[string]any{"text": "through the venv"}))
	var who struct {
		UID        int    `json:"uid"`
		GID        int    `json:"gid"`
		Cwd        string `json:"cwd"`
		Executable string `json:"executable"`
	}
	require.NoError(t, json.Unmarshal([]byte(callText(t, s, "whoami", nil)), &who))
	require.Equal(t, 65532, who.UID)
	require.Equal(t, 65532, who.GID)
	require.Equal(t, "/app", who.Cwd)
	require.Equal(t, "/opt/venv/bin/python", who.Executable)
}

// tools lists the shells and package managers in img's merged filesystem,
// flattened by go-containerregistry.
func tools(t *testing.T, img v1.Image) (shells, managers []string) {
	t.Helper()
	for _, h := range flattened(t, img) {
		if h.Typeflag == tar.TypeDir {
			continue
		}
		p := path.Clean("/" + h.Name)
		switch base := path.Base(p); {
		case shellNames.MatchString(base):
			shells = append(shells, p)
		case managerNames.MatchString(base):
			managers = append(managers, p)
		}
	}
	return shells, managers
}

func pulled(t *testing.T, ref string) v1.Image {
	t.Helper()
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	img, err := remote.Image(d)
	require.NoError(t, err)
	return img
}

// compressedSize is what a pull transfers: the manifest's layer sizes.
func compressedSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func mb(n int64) float64 { return float64(n) / 1e6 }
