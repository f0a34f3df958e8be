package main

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// world is what every end-to-end test starts from: fixtures pushed to the
// real registry, a key pair, and one image hardened and signed by drydock.
type world struct {
	reg, prefix string
	fx          *fixtures.Set
	keyDir      string
	key, pub    string
	env         []string
	hardened    string // DST@sha256:...
	hardenedTag string
	docker      *client.Client
}

var (
	shared testenv.Shared[*world]
)

const testPassword = "e2e-password"

func setup(t *testing.T) *world {
	t.Helper()
	reg := testenv.Registry(t)
	docker := testenv.Docker(t)
	testenv.BuildKit(t)

	return shared.Get(t, func() (*world, error) { return newWorld(t, reg, docker) })
}

// newWorld pushes the fixtures, makes a key pair and hardens the echo
// server with it; t only runs the CLI (its failures come back as errors).
func newWorld(t *testing.T, reg string, docker *client.Client) (*world, error) {
	ctx := context.Background()
	w := &world{reg: reg, docker: docker, env: []string{"COSIGN_PASSWORD=" + testPassword}}
	// A fresh prefix per run: tags from earlier runs never leak in.
	w.prefix = fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	fx, err := fixtures.Build(ctx, reg, w.prefix)
	if err != nil {
		return nil, fmt.Errorf("building fixtures: %w", err)
	}
	w.fx = fx

	if w.keyDir, err = os.MkdirTemp("", "drydock-e2e"); err != nil {
		return nil, err
	}
	r := drydock(t, w.env, "keygen", "--out-dir", w.keyDir)
	w.key, w.pub = filepath.Join(w.keyDir, "cosign.key"), filepath.Join(w.keyDir, "cosign.pub")
	if r.code != 0 || r.lastLine() != w.pub {
		return nil, fmt.Errorf("keygen: exit %d, last line %q, want %s: %s", r.code, r.lastLine(), w.pub, r.stderr)
	}

	w.hardenedTag = w.repo("hardened/echo") + ":1"
	r = drydock(t, w.env, "harden", fx.UpstreamTag, "--to", w.hardenedTag, "--base", fx.HardenedBase,
		"--key", w.key, "--progress", "plain")
	w.hardened = r.lastLine()
	if r.code != 0 || !strings.HasPrefix(w.hardened, w.repo("hardened/echo")+"@sha256:") {
		return nil, fmt.Errorf("harden failed: exit %d, last line %q: %s", r.code, w.hardened, r.stderr)
	}
	return w, nil
}

// mkdirTemp outlives the test that created it: the world is shared.
func mkdirTemp(t *testing.T) string {
	dir, err := os.MkdirTemp("", "drydock-e2e")
	require.NoError(t, err)
	return dir
}

func (w *world) repo(n string) string { return w.reg + "/" + w.prefix + "/" + n }

// connect starts `drydock run` as an MCP client would and initializes.
func (w *world) connect(t *testing.T, ref, pub string) (*mcp.ClientSession, *strings.Builder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.Command(drydockBin, "run", ref, "--key", pub)
	var stderr strings.Builder
	cmd.Stderr = &syncWriter{w: &stderr}
	c := mcp.NewClient(&mcp.Implementation{Name: "drydock-e2e", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err, "MCP initialize through drydock run failed; stderr: %s", stderr.String())
	return s, &stderr
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

type probeReport struct {
	RootWritable bool `json:"rootWritable"`
	TmpWritable  bool `json:"tmpWritable"`
	Connect      *struct {
		Addr  string `json:"addr"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"connect"`
	UID        int    `json:"uid"`
	GID        int    `json:"gid"`
	CapEff     string `json:"capEff"`
	NoNewPrivs bool   `json:"noNewPrivs"`
}

func callText(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	require.NoError(t, err, "tools/call %s", tool)
	require.False(t, res.IsError, "tools/call %s returned an error result", tool)
	require.NotEmpty(t, res.Content)
	txt, ok := res.Content[0].(*mcp.TextContent)
	require.True(t, ok, "content is %T, want text", res.Content[0])
	return txt.Text
}

func TestEndToEnd(t *testing.T) {
	w := setup(t)
	ctx := context.Background()

	// A listener on this machine: reachable from the host, and the probe
	// must not reach it from inside the sandbox.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	s, stderr := w.connect(t, w.hardenedTag, w.pub)
	tools, err := s.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	require.Subset(t, names, []string{"echo", "probe"})

	require.Equal(t, "hello from inside", callText(t, s, "echo", map[string]any{"text": "hello from inside"}))

	var p probeReport
	require.NoError(t, json.Unmarshal([]byte(callText(t, s, "probe", map[string]any{"connect": ln.Addr().String()})), &p))
	require.False(t, p.RootWritable, "root filesystem must be read-only")
	require.True(t, p.TmpWritable, "/tmp must be a writable tmpfs")
	require.NotNil(t, p.Connect)
	require.False(t, p.Connect.OK, "outbound connection to %s must fail", ln.Addr())
	require.Equal(t, 65532, p.UID)
	require.Equal(t, 65532, p.GID)
	require.Equal(t, "0000000000000000", p.CapEff, "no effective capabilities")
	require.True(t, p.NoNewPrivs)

	// While it runs, the engine reports exactly the policy's settings.
	ctr := runningContainer(t, w.docker, w.hardened)
	info, err := w.docker.ContainerInspect(ctx, ctr)
	require.NoError(t, err)
	hc := info.HostConfig
	require.True(t, hc.ReadonlyRootfs)
	require.Equal(t, "none", string(hc.NetworkMode))
	require.Equal(t, []string{"ALL"}, []string(hc.CapDrop))
	require.Contains(t, hc.SecurityOpt, "no-new-privileges")
	require.EqualValues(t, 512<<20, hc.Memory)
	require.EqualValues(t, 1e9, hc.NanoCPUs)
	require.NotNil(t, hc.PidsLimit)
	require.EqualValues(t, 128, *hc.PidsLimit)
	require.Equal(t, "65532:65532", info.Config.User)
	require.Equal(t, "rw,noexec,nosuid,nodev,size=67108864", hc.Tmpfs["/tmp"])
	require.True(t, hc.AutoRemove)

	// The client hanging up ends the server and removes its container.
	require.NoError(t, s.Close())
	waitGone(t, w.docker, ctr)
	require.NotContains(t, stderr.String(), testPassword)
}

func runningContainer(t *testing.T, d *client.Client, digestRef string) string {
	t.Helper()
	list, err := d.ContainerList(context.Background(), container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", launch.LabelImage+"="+digestRef)),
	})
	require.NoError(t, err)
	require.Len(t, list, 1, "want exactly one running container for %s", digestRef)
	return list[0].ID
}

// waitGone polls the engine until the container no longer exists.
func waitGone(t *testing.T, d *client.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := d.ContainerInspect(context.Background(), id); client.IsErrNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("container %s still exists 30s after the server's end", id)
}

func TestHardenedImageConfig(t *testing.T) {
	w := setup(t)
	img, err := remote.Image(mustDigest(t, w.hardened))
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "65532:65532", cfg.Config.User)
	require.Equal(t, []string{"/usr/local/bin/mcp-server"}, cfg.Config.Entrypoint)
	p, err := policies.FromLabels(cfg.Config.Labels)
	require.NoError(t, err)
	require.Equal(t, policies.Default(), p)
	require.Equal(t, w.fx.Upstream, cfg.Config.Labels[policies.SourceLabelKey])
	m, err := img.Manifest()
	require.NoError(t, err)
	require.Equal(t, w.fx.HardenedBase, m.Annotations["org.opencontainers.image.base.name"])

	// No shell came along from the upstream base; the server did.
	files := listFiles(t, img)
	require.Contains(t, files, "usr/local/bin/mcp-server")
	require.NotContains(t, files, "bin/busybox")
	require.NotContains(t, files, "bin/sh")
	require.Contains(t, files, "etc/ssl/certs/ca-certificates.crt")
}

func mustTag(t *testing.T, ref string) name.Tag {
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	return tag
}

func mustDigest(t *testing.T, ref string) name.Digest {
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	return d
}

func listFiles(t *testing.T, img v1.Image) map[string]bool {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		files[strings.TrimPrefix(path.Clean("/"+h.Name), "/")] = true
	}
}

func TestExitCodeAndSignals(t *testing.T) {
	w := setup(t)
	t.Run("server exit code propagates", func(t *testing.T) {
		cmd, in, out := startRaw(t, w)
		rpc(t, in, out, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"exit","arguments":{"code":3}}}`)
		// stdin stays open: the server's own exit, not EOF, must end the run.
		err := cmd.Wait()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, 3, ee.ExitCode())
	})
	t.Run("SIGTERM stops and removes the container", func(t *testing.T) {
		cmd, _, _ := startRaw(t, w)
		ctr := runningContainer(t, w.docker, w.hardened)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		err := cmd.Wait()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		require.NotEqual(t, exitLaunchFailed, ee.ExitCode(), "the server's signal exit, not a launch failure")
		waitGone(t, w.docker, ctr)
	})
}

// startRaw launches `drydock run` and completes the MCP handshake by hand,
// so the test controls the process itself.
func startRaw(t *testing.T, w *world) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(drydockBin, "run", w.hardened, "--key", w.pub)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	out := bufio.NewReader(stdout)
	rpc(t, in, out, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	_, err = io.WriteString(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
	require.NoError(t, err)
	return cmd, in, out
}

func rpc(t *testing.T, in io.Writer, out *bufio.Reader, req string) map[string]any {
	t.Helper()
	_, err := io.WriteString(in, req+"\n")
	require.NoError(t, err)
	line, err := out.ReadString('\n')
	require.NoError(t, err, "reading the reply to %s", req)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m), line)
	require.Contains(t, m, "result", line)
	return m
}

// refusalCase is an image run must refuse, and the reason it must give.
type refusalCase struct {
	name    string
	ref     func(t *testing.T, w *world) string
	pub     func(w *world) string
	wantErr string
}

func TestRunRefuses(t *testing.T) {
	w := setup(t)
	ownKey := func(w *world) string { return w.pub }
	cases := []refusalCase{
		{name: "unsigned", pub: ownKey, wantErr: "no signature", ref: func(t *testing.T, w *world) string {
			r := drydock(t, w.env, "harden", w.fx.UpstreamTag, "--to", w.repo("unsigned")+":1", "--base", w.fx.HardenedBase, "--progress", "quiet")
			require.Equal(t, 0, r.code, r.stderr)
			_, err := crane.Digest(w.repo("unsigned") + ":1")
			require.Error(t, err, "an unsigned image must not be tagged")
			return r.lastLine()
		}},
		{name: "signed by another key", wantErr: "no signature was made by the given public key", ref: func(t *testing.T, w *world) string { return w.hardenedTag },
			pub: func(w *world) string {
				dir := mkdirTemp(t)
				r := drydock(t, w.env, "keygen", "--out-dir", dir)
				require.Equal(t, 0, r.code, r.stderr)
				return r.lastLine()
			}},
		{name: "tag re-pushed with an edited label", pub: ownKey, wantErr: "no signature", ref: func(t *testing.T, w *world) string {
			tag := w.repo("edited") + ":1"
			r := drydock(t, w.env, "harden", w.fx.UpstreamTag, "--to", tag, "--base", w.fx.HardenedBase, "--key", w.key, "--progress", "quiet")
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, 0, drydock(t, nil, "verify", tag, "--key", w.pub).code, "the genuine image verifies")
			p := policies.Default()
			p.Resources.Memory = "4Gi"
			return repushWithLabel(t, tag, p)
		}},
		{name: "signature copied from another repository", pub: ownKey, wantErr: "repository", ref: func(t *testing.T, w *world) string {
			d := mustDigest(t, w.hardened)
			dst := w.repo("copied")
			require.NoError(t, crane.Copy(w.hardened, dst+":1"))
			sigTag := strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig"
			require.NoError(t, crane.Copy(d.Context().Tag(sigTag).String(), dst+":"+sigTag))
			return dst + ":1"
		}},
		{name: "missing label", pub: ownKey, wantErr: "has no dev.drydock.policy label", ref: func(t *testing.T, w *world) string {
			dst := w.repo("nolabel") + ":1"
			require.NoError(t, crane.Copy(w.fx.Upstream, dst))
			r := drydock(t, w.env, "sign", dst, "--key", w.key)
			require.Equal(t, 0, r.code, r.stderr)
			return dst
		}},
		{name: "malformed label", pub: ownKey, wantErr: "dev.drydock.policy label", ref: func(t *testing.T, w *world) string {
			dst := w.repo("badlabel") + ":1"
			require.NoError(t, crane.Copy(w.hardened, dst))
			ref := repushWithRawLabel(t, dst, `{"apiVersion":"drydock.dev/v1","user":"0:0"`)
			r := drydock(t, w.env, "sign", ref, "--key", w.key)
			require.Equal(t, 0, r.code, r.stderr)
			return ref
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.ref(t, w)
			pub := tc.pub(w)
			pinned := ref
			if _, err := name.NewDigest(ref); err != nil {
				d, err := crane.Digest(ref)
				require.NoError(t, err)
				pinned = mustTag(t, ref).Context().Digest(d).String()
			}
			since := time.Now()
			r := drydock(t, nil, "run", ref, "--key", pub)
			require.Equal(t, exitLaunchFailed, r.code, "run must refuse; stderr: %s", r.stderr)
			require.Empty(t, r.stdout, "nothing may reach the MCP stream")
			require.Contains(t, r.stderr, tc.wantErr)
			require.Equal(t, 0, strings.Count(strings.TrimSpace(r.stderr), "\n"), "one clear sentence: %q", r.stderr)

			v := drydock(t, nil, "verify", ref, "--key", pub)
			require.Equal(t, exitRefused, v.code, "verify must refuse with exit 1; stderr: %s", v.stderr)

			requireNoContainer(t, w.docker, since, pinned)
		})
	}
}

// requireNoContainer checks the engine: no container of the pinned image
// (repo@digest) was started since the given time (its event log), and none
// is left. run may create and inspect the container while the signature
// is verified, but starts it only after, and removes it on refusal.
func requireNoContainer(t *testing.T, d *client.Client, since time.Time, pinned string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	left, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", launch.LabelImage+"="+pinned))})
	require.NoError(t, err)
	require.Empty(t, left, "a container of a refused image was left behind")
	msgs, errs := d.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Until:   strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		Filters: filters.NewArgs(filters.Arg("type", "container"), filters.Arg("event", "start")),
	})
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return
			}
			require.NotEqual(t, pinned, m.Actor.Attributes[launch.LabelImage], "a container was started for a refused image")
		case err := <-errs:
			if err == io.EOF || err == nil {
				return
			}
			require.NoError(t, err)
		}
	}
}

// repushWithLabel pushes the image at tag again with a different, valid
// policy label, as an attacker with registry write access could.
func repushWithLabel(t *testing.T, tag string, p *policies.Policy) string {
	t.Helper()
	label, err := p.Encode()
	require.NoError(t, err)
	return repushWithRawLabel(t, tag, label)
}

func repushWithRawLabel(t *testing.T, tag, label string) string {
	t.Helper()
	ref, err := name.ParseReference(tag)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.Labels[policies.LabelKey] = label
	edited, err := mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, edited))
	d, err := edited.Digest()
	require.NoError(t, err)
	return ref.Context().Digest(d.String()).String()
}
