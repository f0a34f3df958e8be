package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

var (
	staticOnce sync.Once
	staticBin  string
	staticErr  error
)

// staticDrydock builds cmd/drydock with CGO_ENABLED=0 once per test binary:
// the proxy image needs a static binary, and the test binary itself is not
// drydock.
func staticDrydock(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drydock-static")
		if err != nil {
			staticErr = err
			return
		}
		staticBin = filepath.Join(dir, "drydock")
		staticErr = goBuild(staticBin, "github.com/drydock-dev/drydock/cmd/drydock")
	})
	require.NoError(t, staticErr)
	return staticBin
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// listenerImage loads the test listener (testdata/listener) into the engine
// as an image on an empty base and returns its tag.
func listenerImage(t *testing.T, d Docker) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "listener")
	require.NoError(t, goBuild(bin, "./testdata/listener"))
	data, err := os.ReadFile(bin)
	require.NoError(t, err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "listener", Mode: 0o555, Size: int64(len(data)), ModTime: time.Unix(0, 0)}))
	_, err = tw.Write(data)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	img, err := mutate.AppendLayers(empty.Image, layer)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config = v1.Config{User: "65532:65532", Entrypoint: []string{"/listener"}}
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	tag := fmt.Sprintf("drydock-test-listener:%d", time.Now().UnixNano())
	ref, err := name.NewTag(tag)
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(ref, img, pw)) }()
	resp, err := d.ImageLoad(context.Background(), pr, client.ImageLoadWithQuiet(true))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NotContains(t, string(body), `"error"`)
	return tag
}

// testNetwork creates a user-defined bridge network (with the engine's DNS,
// so containers find each other by name) that is removed after the test.
func testNetwork(t *testing.T, d Docker, name string) {
	t.Helper()
	_, err := d.NetworkCreate(context.Background(), name, network.CreateOptions{Driver: "bridge", Labels: map[string]string{"dev.drydock.test": "1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.NetworkRemove(context.Background(), name) })
}

// listener starts a listener container called name on net and returns its
// IP address there.
func listener(t *testing.T, d Docker, image, net, name string) string {
	t.Helper()
	ctx := context.Background()
	c, err := d.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{name}, Labels: map[string]string{"dev.drydock.test": "1"}},
		&container.HostConfig{NetworkMode: container.NetworkMode(net), ReadonlyRootfs: true, CapDrop: []string{"ALL"},
			// The listener's user binds 80 and 443 of its own namespace.
			Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}}, nil, nil, name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) })
	require.NoError(t, d.ContainerStart(ctx, c.ID, container.StartOptions{}))
	info, err := d.ContainerInspect(ctx, c.ID)
	require.NoError(t, err)
	ip := info.NetworkSettings.Networks[net].IPAddress
	require.NotEmpty(t, ip)
	return ip
}

var updateExplain = flag.Bool("update-explain", false, "rewrite testdata/explain-allowlist.golden")

// probeCase is one call of the fixture's probe tool and what it must report.
type probeCase struct {
	name  string
	args  map[string]any
	check func(t *testing.T, got map[string]any)
}

func TestAllowlist(t *testing.T) {
	w := setup(t)
	testAllowlist(t, w, w.docker)
}

// TestAllowlistPodman is the same test through podman's compatible API.
func TestAllowlistPodman(t *testing.T) {
	w := setup(t)
	testAllowlist(t, w, podman(t))
}

func testAllowlist(t *testing.T, w *world, docker *client.Client) {
	bin := staticDrydock(t)
	ctx := context.Background()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	egressNet := "drydock-test-egress-" + id
	testNetwork(t, docker, egressNet)
	img := listenerImage(t, docker)
	allowed, other := "drydock-test-allowed-"+id, "drydock-test-other-"+id
	// unlisted is allowed by name too, but its (private) address is not in
	// the floor, so the proxy refuses it.
	unlisted := "drydock-test-unlisted-" + id
	allowedIP := listener(t, docker, img, egressNet, allowed)
	unlistedIP := listener(t, docker, img, egressNet, unlisted)
	listener(t, docker, img, egressNet, other)

	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{allowed + ":8080", unlisted + ":8080"}}
	ref := w.image(t, "allowlist", p)
	pinned := digestOf(t, ref)
	floor := policies.StrictFloor()
	floor.Network = policies.FloorNetwork{Modes: []string{policies.NetworkNone, policies.NetworkAllowlist}, Hosts: []string{allowed + ":8080", unlisted + ":8080", allowedIP + ":8080"}}

	start := time.Now()
	s := w.start(t, ref, WithFloor(floor), WithProxyBinary(bin), WithEgressNetwork(egressNet), WithDocker(docker))
	t.Logf("run → initialize with allowlist: %v (includes loading the proxy image if this binary's is not loaded yet)", time.Since(start))

	ctrs := containersOf(t, docker, pinned)
	require.Len(t, ctrs, 1)
	info, err := docker.ContainerInspect(ctx, ctrs[0].ID)
	require.NoError(t, err)
	server := strings.TrimPrefix(info.Name, "/")
	// On every engine the server shares the namespace of a relay that is
	// on no network: loopback only.
	require.Empty(t, nonNone(info.NetworkSettings.Networks), "the server is on no network")
	relayID, ok := strings.CutPrefix(string(info.HostConfig.NetworkMode), "container:")
	require.True(t, ok, "the server joins the relay's namespace: %s", info.HostConfig.NetworkMode)
	relay, err := docker.ContainerInspect(ctx, relayID)
	require.NoError(t, err)
	require.Equal(t, server+"-relay", strings.TrimPrefix(relay.Name, "/"))
	require.Equal(t, "none", string(relay.HostConfig.NetworkMode))
	require.Empty(t, nonNone(relay.NetworkSettings.Networks), "the relay is on no network")
	_, err = docker.NetworkInspect(ctx, server+"-internal", network.InspectOptions{})
	require.True(t, client.IsErrNotFound(err), "no internal network, whose gateway is the host: %v", err)

	tests := []probeCase{
		{"plain HTTP to the allowed listener", map[string]any{"httpGet": "http://" + allowed + ":8080/"}, func(t *testing.T, got map[string]any) {
			h := got["http"].(map[string]any)
			require.EqualValues(t, 200, h["status"], "%v", h)
			require.Equal(t, "hello from "+allowed, h["body"])
		}},
		{"plain HTTP to an allowed name at an address the floor does not list is refused", map[string]any{"httpGet": "http://" + unlisted + ":8080/"}, func(t *testing.T, got map[string]any) {
			h := got["http"].(map[string]any)
			require.EqualValues(t, 403, h["status"], "%v", h)
			require.Contains(t, h["body"], "drydock egress proxy")
		}},
		{"CONNECT to an allowed name at an address the floor does not list is refused", map[string]any{"httpGet": "https://" + unlisted + ":8080/"}, func(t *testing.T, got map[string]any) {
			require.Contains(t, got["http"].(map[string]any)["error"], "Forbidden")
		}},
		{"plain HTTP to another listener is refused by the proxy", map[string]any{"httpGet": "http://" + other + ":8080/x?token=SECRET"}, func(t *testing.T, got map[string]any) {
			h := got["http"].(map[string]any)
			require.EqualValues(t, 403, h["status"], "%v", h)
			require.Contains(t, h["body"], "drydock egress proxy")
		}},
		{"CONNECT to another listener is refused by the proxy", map[string]any{"httpGet": "https://" + other + ":8080/"}, func(t *testing.T, got map[string]any) {
			require.Contains(t, got["http"].(map[string]any)["error"], "Forbidden")
		}},
		{"CONNECT to the allowed listener is tunnelled", map[string]any{"httpGet": "https://" + allowed + ":8080/"}, func(t *testing.T, got map[string]any) {
			// The listener speaks plain HTTP: its answer came back through the tunnel.
			e := got["http"].(map[string]any)["error"].(string)
			require.NotContains(t, e, "Forbidden")
			require.Contains(t, e, "server gave HTTP response to HTTPS client")
		}},
		{"direct dial by name bypassing the proxy fails", map[string]any{"connect": allowed + ":8080"}, func(t *testing.T, got map[string]any) {
			require.Equal(t, false, got["connect"].(map[string]any)["ok"])
		}},
		{"direct dial by address bypassing the proxy fails", map[string]any{"connect": allowedIP + ":8080"}, func(t *testing.T, got map[string]any) {
			require.Equal(t, false, got["connect"].(map[string]any)["ok"], "the internal network has no route to the listener")
		}},
	}
	// Nothing on the machine itself is reachable: not a listener bound to
	// every address, not a DNS server there, not the host's resolver
	// through the engine's (CVE-2024-29018).
	host := startHostServices(t, id)
	for _, addr := range hostAddrs(t, serverGateways(t, docker, ctrs[0].ID)...) {
		tests = append(tests,
			probeCase{"no TCP to the host at " + addr, map[string]any{"connect": net.JoinHostPort(addr, host.tcpPort)}, func(t *testing.T, got map[string]any) {
				require.Equal(t, false, got["connect"].(map[string]any)["ok"], "%v", got["connect"])
			}},
			probeCase{"no DNS answer from the host at " + addr, map[string]any{"resolve": host.hostOnly, "dnsServer": net.JoinHostPort(addr, host.dnsPort)}, func(t *testing.T, got map[string]any) {
				r := got["resolve"].(map[string]any)
				require.Empty(t, r["addrs"], "%v", r)
				require.NotEmpty(t, r["error"])
			}},
		)
	}
	known := hostResolvable(t)
	tests = append(tests, probeCase{"no DNS answer for " + known + " through the container's resolver", map[string]any{"resolve": known}, func(t *testing.T, got map[string]any) {
		r := got["resolve"].(map[string]any)
		require.Empty(t, r["addrs"], "%v", r)
		require.NotEmpty(t, r["error"])
	}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, probe(t, s.ClientSession, tt.args))
		})
	}
	require.Zero(t, host.accepted.Load(), "TCP connections from the server reached the host")
	require.Zero(t, host.queried.Load(), "DNS queries from the server reached the host")

	// One line per refusal: kind, host:port, resolved address, why.
	require.Contains(t, s.stderr.String(), "denied GET "+other+":8080 [-]: not in this server's network allowlist\n")
	require.Contains(t, s.stderr.String(), "denied CONNECT "+other+":8080 [-]: not in this server's network allowlist\n")
	// The listener sits on an engine network: refused as such, before
	// its (private) address block is looked at.
	subnet, _ := networkGateway(t, docker, egressNet)
	require.Contains(t, s.stderr.String(), "denied GET "+unlisted+":8080 ["+unlistedIP+"]: address of the container engine's networks or of this host ("+subnet+")\n")
	require.Contains(t, s.stderr.String(), "denied CONNECT "+unlisted+":8080 ["+unlistedIP+"]: address of the container engine's networks or of this host ("+subnet+")\n")
	require.NotContains(t, s.stderr.String(), "SECRET", "the proxy log carries destinations, never queries")

	require.NoError(t, s.stdin.Close())
	r := s.wait(t)
	require.NoError(t, r.err)
	waitGoneOn(t, docker, pinned)
	egressLeft(t, docker, server)
}

// nonNone lists the networks other than dockerd's "none" (the one network
// dockerd reports for network mode none; podman reports nothing).
func nonNone[T any](nets map[string]T) []string {
	var out []string
	for n := range nets {
		if n != "none" {
			out = append(out, n)
		}
	}
	return out
}

// egressLeft fails if the proxy or relay container, the internal network
// or the socket volume of the run of server outlived it.
func egressLeft(t *testing.T, d *client.Client, server string) {
	t.Helper()
	ctx := context.Background()
	list, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelEgressFor+"="+server))})
	require.NoError(t, err)
	require.Empty(t, list, "the egress proxy and relay are removed with the server")
	_, err = d.NetworkInspect(ctx, server+"-internal", network.InspectOptions{})
	require.True(t, client.IsErrNotFound(err), "the internal network is removed with the server: %v", err)
	_, err = d.VolumeInspect(ctx, server+"-egress")
	require.True(t, client.IsErrNotFound(err), "the socket volume is removed with the server: %v", err)
}

func containersOf(t *testing.T, d *client.Client, digestRef string) []container.Summary {
	t.Helper()
	list, err := d.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+digestRef)),
	})
	require.NoError(t, err)
	return list
}

func waitGoneOn(t *testing.T, d *client.Client, digestRef string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(containersOf(t, d, digestRef)) > 0 {
		require.True(t, time.Now().Before(deadline), "containers of %s still exist 30s after the run ended", digestRef)
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFloorAddresses(t *testing.T) {
	f := policies.StrictFloor()
	f.Network.Hosts = []string{"api.github.com:443", "*.example.com:*", "172.18.0.5:8080", "127.0.0.1:*", "[fd00::1]:443"}
	require.Equal(t, []string{"172.18.0.5:8080", "127.0.0.1:*", "[fd00::1]:443"}, floorAddresses(f))
	require.Empty(t, floorAddresses(policies.StrictFloor()))
}

// TestExplainAllowlist pins what `policy explain` prints for allowlist mode
// against testdata/explain-allowlist.golden (rewrite with -update-explain):
// the relay layout that run starts, not the spec's placeholders.
func TestExplainAllowlist(t *testing.T) {
	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.github.com:443"}}
	spec, err := policies.Translate(p)
	require.NoError(t, err)
	dg, err := name.NewDigest("registry.internal/mcp/github@sha256:" + strings.Repeat("ab", 32))
	require.NoError(t, err)
	floor := policies.StrictFloor()
	floor.Network.Hosts = []string{"api.github.com:443", "10.1.2.3:8080"}
	got := strings.Join(explainAllowlist(&Verified{Digest: dg, Spec: spec}, floor, "drydock-egress-proxy:0123456789abcdef"), "\n") + "\n"
	golden := filepath.Join("testdata", "explain-allowlist.golden")
	if *updateExplain {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
	require.Nil(t, ExplainAllowlist(&Verified{Digest: dg, Spec: policies.ContainerSpec{NetworkMode: "none"}}, floor), "nothing to add for other modes")
}
