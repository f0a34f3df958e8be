package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// noBuildKit is an address nothing listens on: the rebase strategy must not
// need a daemon, and passing it proves that.
const noBuildKit = "unix:///nonexistent/drydock-e2e/buildkitd.sock"

var nodeShared testenv.Shared[*fixtures.NodeSet]

// nodeFixture pushes the node fixture (Nixpacks-shaped upstream with the npm
// server-filesystem) under the shared world's prefix, once per test binary.
func nodeFixture(t *testing.T, w *world) *fixtures.NodeSet {
	t.Helper()
	return nodeShared.Get(t, func() (*fixtures.NodeSet, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		nx, err := fixtures.BuildNode(ctx, w.reg, w.prefix)
		if err != nil {
			return nil, fmt.Errorf("building the node fixture: %w", err)
		}
		return nx, nil
	})
}

// nodeBasesFile maps the node runtime to the hardened node base and names
// the node fixture's upstream base, so rebuild and rebase find the split by
// layer prefix (the upstream has no base annotations, as Nixpacks images).
func nodeBasesFile(t *testing.T, w *world, nx *fixtures.NodeSet) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bases.yaml")
	require.NoError(t, os.WriteFile(f, fmt.Appendf(nil, `apiVersion: drydock.dev/v1
kind: Bases
runtimes:
  - name: node
    base: %s
    commands: [node]
    upstreamBases: [%s]
  - name: static
    base: %s
    default: true
`, nx.HardenedBase, nx.UpstreamBase, w.fx.HardenedBase), 0o600))
	return f
}

// hardenJSON runs `drydock harden ... --output json` and decodes the result.
func hardenJSON(t *testing.T, w *world, args ...string) (*build.Result, result) {
	t.Helper()
	r := drydock(t, w.env, append([]string{"harden"}, append(args, "--output", "json", "--progress", "quiet")...)...)
	var res build.Result
	if strings.TrimSpace(r.stdout) != "" {
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), "harden --output json printed: %s", r.stdout)
	}
	return &res, r
}

// TestHardenDoneMeans is issue 3's "Done means" through the CLI: for the Go
// and the node fixture under each strategy that applies (rebuild and inplace
// on a private BuildKit daemon, rebase with no daemon at all), drydock
// harden --key signs and tags an image that drydock run starts and that
// answers a real tool call as 65532, and whose pushed layers, read back from
// the registry and flattened, hold no setuid/setgid file and no
// world-writable directory.
func TestHardenDoneMeans(t *testing.T) {
	w := setup(t)
	nx := nodeFixture(t, w)
	bases := nodeBasesFile(t, w, nx)
	subjects := []struct {
		name string
		src  string
		args []string // how harden finds the bases
		call func(t *testing.T, s *mcp.ClientSession)
		// runArgs go after `--` to the server.
		runArgs []string
	}{
		{name: "go", src: w.fx.UpstreamTag, args: []string{"--base", w.fx.HardenedBase}, call: callGo},
		// server-filesystem serves the directories it is given; /proc/self
		// lets a real tool read the server's own identity.
		{name: "node", src: nx.UpstreamTag, args: []string{"--bases", bases}, call: callNode,
			runArgs: []string{fixtures.NodeAllowedDir, "/proc/self"}},
	}
	t.Run("the audit sees what the node upstream plants", func(t *testing.T) {
		ggcr, own := violations(t, nx.Upstream)
		for _, found := range [][]string{ggcr, own} {
			require.True(t, containsPrefix(found, fixtures.NodePlantedSetuid+":"), "setuid %s not found in %v", fixtures.NodePlantedSetuid, found)
			require.True(t, containsPrefix(found, fixtures.NodePlantedWorld+":"), "world-writable %s not found in %v", fixtures.NodePlantedWorld, found)
		}
	})
	for _, fx := range subjects {
		for _, strategy := range []build.Strategy{build.StrategyRebuild, build.StrategyInplace, build.StrategyRebase} {
			t.Run(fx.name+"/"+string(strategy), func(t *testing.T) {
				start := time.Now()
				addr := noBuildKit
				if strategy != build.StrategyRebase {
					addr = testenv.FreshBuildKit(t)
				}
				tag := w.repo("done/"+fx.name+"-"+string(strategy)) + ":1"
				args := append([]string{fx.src, "--to", tag, "--strategy", string(strategy), "--buildkit-addr", addr, "--key", w.key}, fx.args...)
				res, r := hardenJSON(t, w, args...)
				require.Equal(t, exitOK, r.code, "harden failed: %s", r.stderr)
				require.Equal(t, strategy, res.Strategy, res.StrategyReason)
				require.Equal(t, map[bool]string{true: build.EngineRegistry, false: build.EngineBuildKit}[strategy == build.StrategyRebase], res.Engine)
				require.True(t, res.Signed)
				require.Equal(t, tag, res.Tag)
				d, err := crane.Digest(tag)
				require.NoError(t, err)
				require.Equal(t, res.Digest, d, "the tag names the hardened, signed digest")
				hardenTime := time.Since(start)

				raw, err := crane.Config(res.Ref)
				require.NoError(t, err)
				cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
				require.NoError(t, err)
				require.Equal(t, "65532:65532", cf.Config.User)
				ggcr, own := violations(t, res.Ref)
				require.Empty(t, ggcr, "pushed image %s, flattened by go-containerregistry", res.Ref)
				require.Empty(t, own, "pushed image %s, audited by drydock", res.Ref)

				s := connectArgs(t, tag, w.pub, fx.runArgs...)
				fx.call(t, s)
				requireProcessesRunAs(t, w, res.Ref, "65532")
				ctr := runningContainer(t, w.docker, res.Ref)
				require.NoError(t, s.Close())
				waitGone(t, w.docker, ctr)
				t.Logf("%s %s: harden %.1fs, total %.1fs; %s", fx.name, strategy, hardenTime.Seconds(), time.Since(start).Seconds(), res.Hardening.Summary())
			})
		}
	}
}

// connectArgs starts `drydock run IMAGE --key PUB -- ARGS` as an MCP client
// would and initializes; the session is closed at the end of the test.
func connectArgs(t *testing.T, ref, pub string, args ...string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	argv := []string{"run", ref, "--key", pub}
	if len(args) > 0 {
		argv = append(append(argv, "--"), args...)
	}
	cmd := exec.Command(drydockBin, argv...)
	var stderr strings.Builder
	cmd.Stderr = &syncWriter{w: &stderr}
	c := mcp.NewClient(&mcp.Implementation{Name: "drydock-e2e", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "MCP initialize through drydock run %s failed; stderr: %s", ref, stderrOf(cmd, &stderr))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// stderrOf reads the captured stderr under the writer's lock.
func stderrOf(cmd *exec.Cmd, b *strings.Builder) string {
	sw := cmd.Stderr.(*syncWriter)
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return b.String()
}

func callGo(t *testing.T, s *mcp.ClientSession) {
	require.Equal(t, "hardened hello", callText(t, s, "echo", map[string]any{"text": "hardened hello"}))
	var p probeReport
	require.NoError(t, json.Unmarshal([]byte(callText(t, s, "probe", nil)), &p))
	require.Equal(t, 65532, p.UID)
	require.Equal(t, 65532, p.GID)
	require.False(t, p.RootWritable)
}

func callNode(t *testing.T, s *mcp.ClientSession) {
	dirs := callText(t, s, "list_allowed_directories", map[string]any{})
	require.Contains(t, dirs, fixtures.NodeAllowedDir)
	listing := callText(t, s, "list_directory", map[string]any{"path": fixtures.NodeAllowedDir})
	require.Contains(t, listing, "README")
	require.Equal(t, "drydock node fixture\n", callText(t, s, "read_text_file", map[string]any{"path": fixtures.NodeAllowedDir + "/README"}))
	status := callText(t, s, "read_text_file", map[string]any{"path": "/proc/self/status"})
	require.Contains(t, status, "\nUid:\t65532\t65532\t65532\t65532\n", "node must run as 65532: %s", status)
	require.Contains(t, status, "\nGid:\t65532\t65532\t65532\t65532\n")
}

// requireProcessesRunAs asks the engine which uid every process of the
// running container has, as the host sees it.
func requireProcessesRunAs(t *testing.T, w *world, digestRef, uid string) {
	t.Helper()
	ctr := runningContainer(t, w.docker, digestRef)
	top, err := w.docker.ContainerTop(context.Background(), ctr, []string{"-eo", "pid,uid,gid,comm"})
	require.NoError(t, err)
	require.NotEmpty(t, top.Processes)
	iu, ig := -1, -1
	for i, title := range top.Titles {
		switch title {
		case "UID":
			iu = i
		case "GID":
			ig = i
		}
	}
	require.True(t, iu >= 0 && ig >= 0, "ps titles %v", top.Titles)
	for _, p := range top.Processes {
		require.Equal(t, uid, p[iu], "process %v", p)
		require.Equal(t, uid, p[ig], "process %v", p)
	}
}

// violations reads the pushed image back from the registry and checks its
// merged filesystem with two flatteners: go-containerregistry's
// mutate.Extract (whiteouts applied) and drydock's hardening.Audit, which is
// independent of the report harden printed. It returns "PATH: what" lines.
func violations(t *testing.T, ref string) (ggcr, own []string) {
	t.Helper()
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	img, err := remote.Image(d)
	require.NoError(t, err)
	for _, h := range flattened(t, img) {
		p := path.Clean("/" + h.Name)
		if h.Typeflag == tar.TypeSymlink {
			continue
		}
		if h.Mode&(0o4000|0o2000) != 0 {
			ggcr = append(ggcr, fmt.Sprintf("%s: setuid/setgid (%#o)", p, h.Mode))
		}
		if h.Typeflag == tar.TypeDir && h.Mode&0o002 != 0 && p != "/tmp" {
			ggcr = append(ggcr, fmt.Sprintf("%s: world-writable directory (%#o)", p, h.Mode))
		}
	}
	ls, err := img.Layers()
	require.NoError(t, err)
	own, err = hardening.Audit(ls, []string{"/tmp"})
	require.NoError(t, err)
	return ggcr, own
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// flattened lists the headers of img's merged filesystem.
func flattened(t *testing.T, img v1.Image) []*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, h)
	}
}

// TestHardenSmoke drives the start check through the CLI. It runs by
// default (a good image passes and is signed and tagged); an image that
// builds but cannot start as the policy's user (node preloads a module
// under /root, which only the upstream's root can read) is refused with the
// difference on stderr and in the JSON, exit non-zero, nothing tagged.
// --smoke=false and a missing engine are said plainly; an explicit --smoke
// without an engine is an error.
func TestHardenSmoke(t *testing.T) {
	w := setup(t)
	testenv.Docker(t)
	nx := nodeFixture(t, w)
	broken := rootPreloadUpstream(t, w, nx)
	nodeBases := nodeBasesFile(t, w, nx)
	const noEngine = "DOCKER_HOST=unix:///nonexistent/drydock-e2e/docker.sock"
	tests := []struct {
		name, src, output string
		args, env         []string
		ok                bool
		tools             int
		skipped           string // the start check did not run; why
	}{
		{name: "go passes by default", src: w.fx.UpstreamTag, output: "text", args: []string{"--base", w.fx.HardenedBase}, ok: true, tools: 4},
		{name: "node passes", src: nx.UpstreamTag, output: "json", args: []string{"--bases", nodeBases, "--smoke"}, ok: true, tools: 14},
		{name: "broken refused (text)", src: broken, output: "text", args: []string{"--bases", nodeBases}},
		{name: "broken refused (json)", src: broken, output: "json", args: []string{"--bases", nodeBases}},
		{name: "--smoke=false (text)", src: w.fx.UpstreamTag, output: "text", args: []string{"--base", w.fx.HardenedBase, "--smoke=false"}, ok: true, skipped: "skipped: --smoke=false"},
		{name: "no engine (json)", src: w.fx.UpstreamTag, output: "json", args: []string{"--base", w.fx.HardenedBase}, env: []string{noEngine}, ok: true, skipped: "not run: no container engine answered"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := w.repo(fmt.Sprintf("smoke/%d", i)) + ":1"
			r := drydock(t, append(append([]string{}, w.env...), tt.env...), append([]string{"harden", tt.src, "--to", tag, "--strategy", string(build.StrategyRebase),
				"--buildkit-addr", noBuildKit, "--key", w.key, "--output", tt.output}, tt.args...)...)
			var res build.Result
			if tt.output == "json" {
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			}
			_, tagErr := crane.Digest(tag)
			if tt.ok {
				require.Equal(t, exitOK, r.code, r.stderr)
				require.NoError(t, tagErr, "a passing image is tagged")
				switch {
				case tt.skipped != "" && tt.output == "json":
					require.Nil(t, res.Smoke)
					require.Contains(t, res.SmokeSkipped, tt.skipped)
				case tt.skipped != "":
					require.Contains(t, r.stderr, "smoke: no start check ran ("+tt.skipped)
				case tt.output == "json":
					require.NotNil(t, res.Smoke, "the JSON carries the smoke result")
					require.Empty(t, res.SmokeSkipped)
					require.True(t, res.Smoke.Match)
					require.Len(t, res.Smoke.Upstream.Tools, tt.tools, "%v", res.Smoke.Upstream.Tools)
					require.Equal(t, res.Smoke.Upstream, res.Smoke.Hardened)
				default:
					require.Contains(t, r.stderr, fmt.Sprintf("smoke: upstream and hardened list the same %d tools", tt.tools))
				}
				return
			}
			require.NotEqual(t, exitOK, r.code, "harden must fail; stdout: %s", r.stdout)
			require.Error(t, tagErr, "a refused image must not be tagged")
			// The difference, readable: the hardened image did not start,
			// and the server's own stderr says why.
			for _, want := range []string{"not signing or tagging", "hardened", "did not answer", rootPreload} {
				require.Contains(t, r.stderr, want)
			}
			if tt.output == "json" {
				require.NotNil(t, res.Smoke, "the JSON carries the smoke result")
				require.False(t, res.Smoke.Match)
				require.False(t, res.Signed)
				require.Empty(t, res.Tag)
				require.Len(t, res.Smoke.Differences, 1)
				require.Contains(t, res.Smoke.Differences[0], "hardened image did not answer")
				require.Contains(t, res.Smoke.Differences[0], rootPreload)
				require.NotContains(t, res.Smoke.Differences[0], "Pulling", "docker's pull progress is not part of the difference")
			}
			t.Logf("refusal on stderr: %s", strings.TrimSpace(r.stderr))
		})
	}
	t.Run("explicit --smoke without an engine is an error", func(t *testing.T) {
		tag := w.repo("smoke/explicit") + ":1"
		r := drydock(t, append(append([]string{}, w.env...), noEngine), "harden", w.fx.UpstreamTag, "--to", tag, "--base", w.fx.HardenedBase,
			"--strategy", string(build.StrategyRebase), "--buildkit-addr", noBuildKit, "--key", w.key, "--smoke")
		require.Equal(t, exitError, r.code, r.stderr)
		require.Contains(t, r.stderr, "--smoke: no container engine answered")
		require.Contains(t, r.stderr, "--smoke=false")
		_, err := crane.Digest(tag)
		require.Error(t, err, "nothing is tagged")
	})
}

// TestHardenRefusesShellScript: an upstream whose entrypoint is a /bin/sh
// script (see fixtures.ShellEntrypoint) cannot start on the shell-less
// hardened base; harden refuses it before building, naming the script and
// the reason, and tags nothing (the start check used to be what caught it,
// after the push).
func TestHardenRefusesShellScript(t *testing.T) {
	w := setup(t)
	src := shellEntrypointUpstream(t, w)
	tag := w.repo("shell-script") + ":1"
	r := drydock(t, w.env, "harden", src, "--to", tag, "--base", w.fx.HardenedBase,
		"--strategy", string(build.StrategyRebase), "--buildkit-addr", noBuildKit, "--key", w.key, "--smoke=false")
	require.NotEqual(t, exitOK, r.code, "harden must fail; stdout: %s", r.stdout)
	for _, want := range []string{"needs a shell", fixtures.ShellEntrypointPath, "is a shell script (#!/bin/sh)"} {
		require.Contains(t, r.stderr, want)
	}
	require.Empty(t, r.stdout)
	_, err := crane.Digest(tag)
	require.Error(t, err, "nothing is tagged")
}

// shellEntrypointUpstream pushes the Go upstream with a /bin/sh wrapper as
// its entrypoint (see fixtures.ShellEntrypoint) and returns its digest ref.
func shellEntrypointUpstream(t *testing.T, w *world) string {
	t.Helper()
	up, err := remote.Image(mustDigest(t, w.fx.Upstream))
	require.NoError(t, err)
	img, err := fixtures.ShellEntrypoint(up)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref := mustTag(t, w.repo("upstream-shell-entry")+":1").Context().Digest(d.String())
	require.NoError(t, remote.Write(ref, img))
	return ref.String()
}

// rootPreload is a module node preloads from /root (0700): root, as the
// upstream runs, reads it; the policy's user cannot.
const rootPreload = "/root/preload.js"

// rootPreloadUpstream pushes the node upstream with NODE_OPTIONS requiring
// rootPreload: it starts as root, and the hardened image, whose start
// command resolves fine, dies at start as 65532.
func rootPreloadUpstream(t *testing.T, w *world, nx *fixtures.NodeSet) string {
	t.Helper()
	up, err := remote.Image(mustDigest(t, nx.Upstream))
	require.NoError(t, err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "root/", Mode: 0o700}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rootPreload[1:], Mode: 0o644}))
	require.NoError(t, tw.Close())
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	require.NoError(t, err)
	img, err := mutate.AppendLayers(up, layer)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cfg := cf.Config
	cfg.Env = append(append([]string{}, cfg.Env...), "NODE_OPTIONS=--require "+rootPreload)
	img, err = mutate.Config(img, cfg)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref := mustTag(t, w.repo("upstream-root-preload")+":1").Context().Digest(d.String())
	require.NoError(t, remote.Write(ref, img))
	return ref.String()
}
