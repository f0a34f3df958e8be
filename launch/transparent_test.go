package launch

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// testDNS is the tests' own DNS server on this machine: it answers the
// names it is given (A records) and NXDOMAIN otherwise. The gateway is
// pointed at it with WithEgressResolver, so no name depends on the
// engine's DNS (which podman's CNI backend does not have) or the
// internet.
type testDNS struct {
	mu    sync.Mutex
	names map[string]string
	port  string
}

func startTestDNS(t *testing.T) *testDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "0.0.0.0:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	d := &testDNS{names: map[string]string{}, port: port}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := d.answer(buf[:n]); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return d
}

func (d *testDNS) set(name, ip string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.names[name] = ip
}

func (d *testDNS) answer(msg []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	d.mu.Lock()
	ip, ok := d.names[strings.TrimSuffix(q.Name.String(), ".")]
	d.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	if a, err := netip.ParseAddr(ip); ok && err == nil && q.Type == dnsmessage.TypeA {
		_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: a.As4()})
	}
	out, _ := b.Finish()
	return out
}

// networkGateway is the subnet and gateway address of a test network: the
// host as the network's containers see it.
func networkGateway(t *testing.T, d Docker, name string) (subnet, gateway string) {
	t.Helper()
	n, err := d.NetworkInspect(context.Background(), name, network.InspectOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, n.IPAM.Config, "network %s has no IPAM config", name)
	for _, c := range n.IPAM.Config {
		if a, err := netip.ParseAddr(c.Gateway); err == nil && a.Is4() {
			return c.Subnet, c.Gateway
		}
	}
	t.Fatalf("network %s has no IPv4 gateway: %+v", name, n.IPAM.Config)
	return "", ""
}

func TestEgressTransparent(t *testing.T) {
	w := setup(t)
	testEgressTransparent(t, w, w.docker)
}

func TestEgressTransparentPodman(t *testing.T) {
	w := setup(t)
	testEgressTransparent(t, w, podman(t))
}

// TestEgressTransparentPodmanCNI: on podman's CNI backend, which has no
// DNS for container names, the relay layout needs none: the gateway
// resolves through the given resolver and reaches the relay over the
// socket volume.
func TestEgressTransparentPodmanCNI(t *testing.T) {
	w := setup(t)
	cni := cniPodman(t)
	require.Equal(t, "cni", podmanNetworkBackend(context.Background(), cni))
	testEgressTransparent(t, w, cni)
}

// testEgressTransparent runs a server in allowlist mode (HTTP(S) hosts and
// tcp:// entries) and one in public mode, and reaches listeners through the
// proxy and, ignoring the proxy variables, through the relay's DNS and the
// transparent gateway.
func testEgressTransparent(t *testing.T, w *world, docker *client.Client) {
	bin := staticDrydock(t)
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	egressNet := "drydock-test-egress-" + id
	testNetwork(t, docker, egressNet)
	subnet, gw := networkGateway(t, docker, egressNet)
	img := listenerImage(t, docker)
	dns := startTestDNS(t)
	resolver := net.JoinHostPort(gw, dns.port)
	allowed, other, pub := "allowed-"+id+".test", "other-"+id+".test", "pub-"+id+".test"
	allowedIP := listener(t, docker, img, egressNet, "drydock-test-allowed-"+id)
	otherIP := listener(t, docker, img, egressNet, "drydock-test-other-"+id)
	pubIP := listener(t, docker, img, egressNet, "drydock-test-pub-"+id)
	for n, ip := range map[string]string{allowed: allowedIP, other: otherIP, pub: pubIP,
		"lo-" + id + ".test": "127.0.0.1", "ten-" + id + ".test": "10.1.2.3", "meta-" + id + ".test": "169.254.169.254", "gw-" + id + ".test": gw} {
		dns.set(n, ip)
	}

	t.Run("allowlist", func(t *testing.T) {
		p := policies.Default()
		p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{allowed + ":80", allowed + ":443", allowed + ":8080", "tcp://" + allowed + ":5432", "tcp://" + other + ":5432"}}
		ref := w.image(t, "transparent", p)
		floor := policies.StrictFloor()
		floor.Network = policies.FloorNetwork{Modes: []string{policies.NetworkAllowlist}, Hosts: append(slices.Clone(p.Network.Allow), allowedIP+":*")}
		start := time.Now()
		s := w.start(t, ref, WithFloor(floor), WithProxyBinary(bin), WithEgressNetwork(egressNet), WithDocker(docker), WithEgressResolver(resolver))
		t.Logf("run → initialize with allowlist: %v", time.Since(start))
		tests := []probeCase{
			{"proxy-aware GET through the proxy", map[string]any{"httpGet": "http://" + allowed + ":8080/"}, httpBody(200, "hello from drydock-test-allowed-"+id)},
			{"proxy-unaware GET on port 80, by DNS and Host", map[string]any{"httpGet": "http://" + allowed + "/", "noProxy": true}, httpBody(200, "hello from drydock-test-allowed-"+id)},
			{"proxy-unaware GET on port 443, by DNS and SNI", map[string]any{"httpGet": "https://" + allowed + "/", "noProxy": true}, httpBody(200, "hello from drydock-test-allowed-"+id)},
			{"proxy-unaware HTTPS to a tcp-only host is refused by SNI", map[string]any{"httpGet": "https://" + other + "/", "noProxy": true}, httpError("")},
			{"proxy-unaware GET to an unlisted name gets no address", map[string]any{"httpGet": "http://nothere-" + id + ".test/", "noProxy": true}, httpError("no such host")},
			{"TCP client to the allowed entry", map[string]any{"connect": allowed + ":5432", "readLine": true}, func(t *testing.T, got map[string]any) {
				c := got["connect"].(map[string]any)
				require.Equal(t, true, c["ok"], "%v", c)
				require.Equal(t, "tcp hello from drydock-test-allowed-"+id+"\n", c["line"])
			}},
			{"TCP client to an entry at an address the floor does not list is refused", map[string]any{"connect": other + ":5432", "readLine": true}, connectFails},
			{"TCP client to a port no entry names is refused", map[string]any{"connect": allowed + ":5433", "readLine": true}, connectFails},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.check(t, probe(t, s.ClientSession, tt.args)) })
		}
		require.NoError(t, s.stdin.Close())
		require.NoError(t, s.wait(t).err)
		log := s.stderr.String()
		for _, want := range []string{
			"drydock egress-proxy: denied tls " + other + ":443 [-]: not in this server's network allowlist\n",
			"drydock egress-proxy: denied dns nothere-" + id + ".test [-]: not in this server's network allowlist\n",
			// The engine's networks are refused before the non-global blocks.
			"drydock egress-proxy: denied tcp " + other + ":5432 [" + otherIP + "]: address of the container engine's networks or of this host (" + subnet + ")\n",
		} {
			require.Contains(t, log, want)
		}
	})

	t.Run("public", func(t *testing.T) {
		p := policies.Default()
		p.Network = policies.Network{Mode: policies.NetworkPublic}
		ref := w.image(t, "public", p)
		floor := policies.StrictFloor()
		floor.Network = policies.FloorNetwork{Modes: []string{policies.NetworkPublic}, Hosts: []string{}}
		// pub's listener stands in for the internet: only its address counts as public.
		s := w.start(t, ref, WithFloor(floor), WithProxyBinary(bin), WithEgressNetwork(egressNet), WithDocker(docker),
			WithEgressResolver(resolver), withTestPublic(pubIP))
		lo, ten, meta, gwName := "lo-"+id+".test", "ten-"+id+".test", "meta-"+id+".test", "gw-"+id+".test"
		tests := []probeCase{
			{"a public host through the proxy", map[string]any{"httpGet": "http://" + pub + ":8080/"}, httpBody(200, "hello from drydock-test-pub-"+id)},
			{"a public host over transparent TLS", map[string]any{"httpGet": "https://" + pub + "/", "noProxy": true}, httpBody(200, "hello from drydock-test-pub-"+id)},
			{"loopback by name", map[string]any{"httpGet": "http://" + lo + ":8080/"}, httpStatus(403)},
			{"10/8 by address", map[string]any{"httpGet": "http://10.1.2.3:8080/"}, httpStatus(403)},
			{"the metadata address", map[string]any{"httpGet": "http://169.254.169.254/"}, httpStatus(403)},
			{"the metadata address by name, transparently", map[string]any{"httpGet": "http://" + meta + "/", "noProxy": true}, httpStatus(403)},
			{"the bridge gateway", map[string]any{"httpGet": "http://" + gw + ":8080/"}, httpStatus(403)},
			{"a name resolving to the bridge gateway, transparent TLS", map[string]any{"httpGet": "https://" + gwName + "/", "noProxy": true}, httpError("")},
			{"10/8 by name over CONNECT", map[string]any{"httpGet": "https://" + ten + "/"}, httpError("Forbidden")},
			{"another listener on the engine's network", map[string]any{"httpGet": "http://" + allowed + ":8080/"}, httpStatus(403)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.check(t, probe(t, s.ClientSession, tt.args)) })
		}
		require.NoError(t, s.stdin.Close())
		require.NoError(t, s.wait(t).err)
		log := s.stderr.String()
		const why = "; network mode public reaches only public addresses\n"
		for _, want := range []string{
			"drydock egress-proxy: denied GET " + lo + ":8080 [127.0.0.1]: loopback address" + why,
			"drydock egress-proxy: denied GET 10.1.2.3:8080 [10.1.2.3]: private address" + why,
			"drydock egress-proxy: denied GET 169.254.169.254:80 [169.254.169.254]: link-local address" + why,
			"drydock egress-proxy: denied http " + meta + ":80 [169.254.169.254]: link-local address" + why,
			"drydock egress-proxy: denied GET " + gw + ":8080 [" + gw + "]: address of the container engine's networks or of this host (" + subnet + ")\n",
			"drydock egress-proxy: denied tls " + gwName + ":443 [" + gw + "]: address of the container engine's networks or of this host (" + subnet + ")\n",
			"drydock egress-proxy: denied CONNECT " + ten + ":443 [10.1.2.3]: private address" + why,
			"drydock egress-proxy: denied GET " + allowed + ":8080 [" + allowedIP + "]: address of the container engine's networks or of this host (" + subnet + ")\n",
		} {
			require.Contains(t, log, want)
		}
	})
}

func httpBody(status int, body string) func(t *testing.T, got map[string]any) {
	return func(t *testing.T, got map[string]any) {
		h := got["http"].(map[string]any)
		require.EqualValues(t, status, h["status"], "%v", h)
		require.Equal(t, body, h["body"])
	}
}

func httpStatus(status int) func(t *testing.T, got map[string]any) {
	return func(t *testing.T, got map[string]any) {
		h := got["http"].(map[string]any)
		require.EqualValues(t, status, h["status"], "%v", h)
		require.Contains(t, h["body"], "drydock egress proxy")
	}
}

func httpError(contains string) func(t *testing.T, got map[string]any) {
	return func(t *testing.T, got map[string]any) {
		h := got["http"].(map[string]any)
		require.NotEmpty(t, h["error"], "%v", h)
		require.Contains(t, h["error"], contains)
	}
}

func connectFails(t *testing.T, got map[string]any) {
	c := got["connect"].(map[string]any)
	require.Equal(t, false, c["ok"], "%v", c)
}
