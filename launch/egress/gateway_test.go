package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		line string
		want header
		ok   bool
	}{
		{"DRYDOCK-EGRESS/1 proxy", header{kind: KindProxy}, true},
		{"DRYDOCK-EGRESS/1 tls", header{kind: KindTLS}, true},
		{"DRYDOCK-EGRESS/1 http", header{kind: KindHTTP}, true},
		{"DRYDOCK-EGRESS/1 tcp 3", header{kind: KindTCP, index: 3}, true},
		{"DRYDOCK-EGRESS/1 tcp", header{}, false},
		{"DRYDOCK-EGRESS/1 tcp -1", header{}, false},
		{"DRYDOCK-EGRESS/1 tcp 03", header{}, false},
		{"DRYDOCK-EGRESS/1 tls 1", header{}, false},
		{"DRYDOCK-EGRESS/2 proxy", header{}, false},
		{"CONNECT example.com:443 HTTP/1.1", header{}, false},
	}
	for _, tt := range tests {
		got, err := parseHeader(tt.line)
		if !tt.ok {
			require.ErrorIs(t, err, errHeader, tt.line)
			continue
		}
		require.NoError(t, err, tt.line)
		require.Equal(t, tt.want, got, tt.line)
		require.Equal(t, tt.line+"\n", got.String())
	}
	_, err := readHeader(bufio.NewReader(strings.NewReader(strings.Repeat("A", 200) + "\n")))
	require.ErrorIs(t, err, errHeader, "an overlong line is not read to its end")
}

func TestRelayListeners(t *testing.T) {
	ls, err := RelayListeners([]string{"db.internal:5432", "cache.internal:443", "db2.internal:5432"})
	require.NoError(t, err)
	var got []string
	for _, l := range ls {
		got = append(got, l.Addr+" "+l.Kind())
	}
	require.Equal(t, []string{
		"127.0.0.1:3128 proxy",
		"127.0.0.1:80 http", "127.0.0.1:443 tls",
		"127.1.0.1:5432 tcp 0", "127.1.0.1:80 http", "127.1.0.1:443 tls",
		// The entry on 443 has its address's port 443 to itself.
		"127.1.0.2:443 tcp 1", "127.1.0.2:80 http",
		"127.1.0.3:5432 tcp 2", "127.1.0.3:80 http", "127.1.0.3:443 tls",
	}, got)
	require.Equal(t, "127.1.1.1", TCPAddr(250).String())
}

func query(t *testing.T, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	require.NoError(t, b.StartQuestions())
	require.NoError(t, b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}))
	m, err := b.Finish()
	require.NoError(t, err)
	return m
}

func TestDNSAnswers(t *testing.T) {
	names := NewNames([]string{"api.github.com:443", "*.githubusercontent.com:443", "10.0.0.1:443"}, []string{"db.internal:5432", "10.9.9.9:6379", "API.github.com:5432"}, false)
	tests := []struct {
		name  string
		typ   dnsmessage.Type
		rcode dnsmessage.RCode
		addrs []string
	}{
		{"cache.internal.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil},
		{"db.internal.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.1.0.1"}},
		{"raw.githubusercontent.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.0.0.1"}},
		{"githubusercontent.com.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil},
		// Both an HTTP(S) host and a tcp:// entry: the entry's address, which
		// also relays 80 and 443.
		{"api.github.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.1.0.3"}},
		{"api.github.com.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, nil},
		{"api.github.com.evil.example.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil},
	}
	var logs syncBuffer
	lg := log.New(&logs, "drydock egress-proxy: ", 0)
	for _, tt := range tests {
		t.Run(tt.name+tt.typ.String(), func(t *testing.T) {
			resp, ok := answer(query(t, tt.name, tt.typ), names, lg)
			require.True(t, ok)
			var p dnsmessage.Parser
			h, err := p.Start(resp)
			require.NoError(t, err)
			require.Equal(t, uint16(7), h.ID)
			require.True(t, h.Response)
			require.Equal(t, tt.rcode, h.RCode)
			require.NoError(t, p.SkipAllQuestions())
			var got []string
			for {
				a, err := p.AnswerHeader()
				if err != nil {
					break
				}
				r, err := p.AResource()
				require.NoError(t, err, a)
				got = append(got, netip.AddrFrom4(r.A).String())
			}
			require.Equal(t, tt.addrs, got)
		})
	}
	require.Equal(t, "drydock egress-proxy: denied dns cache.internal [-]: not in this server's network allowlist\n"+
		"drydock egress-proxy: denied dns githubusercontent.com [-]: not in this server's network allowlist\n"+
		"drydock egress-proxy: denied dns api.github.com.evil.example [-]: not in this server's network allowlist\n", logs.String())
	pub := NewNames(nil, []string{"db.internal:5432"}, true)
	a, ok := pub.Lookup("anything.example.org")
	require.True(t, ok)
	require.Equal(t, "127.0.0.1", a.String())
	a, _ = pub.Lookup("db.internal")
	require.Equal(t, "127.1.0.1", a.String())
	_, ok = answer([]byte("not dns"), names, lg)
	require.False(t, ok, "garbage is dropped")
}

// gatewayChain starts a gateway behind a relay on ephemeral loopback
// ports: it returns the relay's address of each listener kind.
func gatewayChain(t *testing.T, allow []string, opts ...Option) (map[string]string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sock := filepath.Join(t.TempDir(), "gw.sock")
	logs := &syncBuffer{}
	p, err := New(allow, append([]Option{WithLog(logs)}, opts...)...)
	require.NoError(t, err)
	ln, err := listen("unix:" + sock)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.ServeRelayed(ctx, ln) }()
	addrs := map[string]string{}
	hdrs := map[string]header{KindProxy: {kind: KindProxy}, KindTLS: {kind: KindTLS}, KindHTTP: {kind: KindHTTP}, "tcp 0": {kind: KindTCP}, "tcp 1": {kind: KindTCP, index: 1}, "tcp 7": {kind: KindTCP, index: 7}}
	lg := log.New(logs, "drydock egress-proxy: ", 0)
	for k, h := range hdrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs[k] = l.Addr().String()
		go func() { _ = serveListener(ctx, l, sock, h, lg) }()
	}
	addrs["socket"] = sock
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return addrs, logs
}

// portMap dials the test's listeners where the gateway would dial port 80,
// 443 or an entry's port of a (fake) address.
func portMap(m map[string]string) Option {
	return withDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := m[addr]
		if !ok {
			return nil, fmt.Errorf("test: nothing listens for %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	})
}

func fixedLookup(m map[string][]string) Option {
	return withLookup(func(_ context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range m[host] {
			out = append(out, netip.MustParseAddr(a))
		}
		if out == nil {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return out, nil
	})
}

func TestGatewayTransparent(t *testing.T) {
	web := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "tls hello, host %s", r.Host) }))
	defer web.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "plain hello, host %s", r.Host) }))
	defer plain.Close()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	addr := func(u string) string { return u[strings.Index(u, "//")+2:] }
	// httptest's certificate is for example.com: the allowed TLS name.
	addrs, logs := gatewayChain(t, []string{"example.com:443", "plain.test:80"},
		WithTCP([]string{"db.test:5432", "db2.test:6379"}),
		fixedLookup(map[string][]string{"example.com": {"192.0.2.1"}, "plain.test": {"192.0.2.2"}, "db.test": {"192.0.2.3"}, "db2.test": {"10.1.2.3"}}),
		WithTestPublic([]string{"192.0.2.0/24"}),
		portMap(map[string]string{"192.0.2.1:443": addr(web.URL), "192.0.2.2:80": addr(plain.URL), "192.0.2.3:5432": echo.Addr().String()}))

	pool := x509.NewCertPool()
	pool.AddCert(web.Certificate())
	tlsGet := func(sni string) (string, error) {
		c, err := net.DialTimeout("tcp", addrs[KindTLS], 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: sni, RootCAs: pool, InsecureSkipVerify: sni == ""})
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			return "", err
		}
		if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	t.Run("TLS to an allowed SNI reaches it, end to end", func(t *testing.T) {
		body, err := tlsGet("example.com")
		require.NoError(t, err)
		require.Equal(t, "tls hello, host example.com", body)
	})
	t.Run("TLS to another SNI is refused", func(t *testing.T) {
		_, err := tlsGet("evil.example")
		require.Error(t, err)
	})
	t.Run("TLS without SNI is refused", func(t *testing.T) {
		_, err := tlsGet("")
		require.Error(t, err)
	})

	httpDo := func(raw string) []*http.Response {
		c, err := net.DialTimeout("tcp", addrs[KindHTTP], 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(c, raw)
		require.NoError(t, err)
		br := bufio.NewReader(c)
		var out []*http.Response
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return out
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(strings.NewReader(string(b)))
			out = append(out, resp)
		}
	}
	body := func(r *http.Response) string { b, _ := io.ReadAll(r.Body); return string(b) }
	t.Run("HTTP to an allowed Host reaches it", func(t *testing.T) {
		rs := httpDo("GET /x?token=SECRET HTTP/1.1\r\nHost: plain.test\r\nConnection: close\r\n\r\n")
		require.Len(t, rs, 1)
		require.Equal(t, 200, rs[0].StatusCode)
		require.Equal(t, "plain hello, host plain.test", body(rs[0]))
	})
	t.Run("HTTP: a second request on the connection to another Host is checked and refused", func(t *testing.T) {
		rs := httpDo("GET / HTTP/1.1\r\nHost: plain.test\r\n\r\nGET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n")
		require.Len(t, rs, 2)
		require.Equal(t, 200, rs[0].StatusCode)
		require.Equal(t, 403, rs[1].StatusCode)
	})
	t.Run("HTTP with a Host naming another port is refused", func(t *testing.T) {
		rs := httpDo("GET / HTTP/1.1\r\nHost: plain.test:8080\r\nConnection: close\r\n\r\n")
		require.Len(t, rs, 1)
		require.Equal(t, 403, rs[0].StatusCode)
	})

	tcpEcho := func(kind string) (string, error) {
		c, err := net.DialTimeout("tcp", addrs[kind], 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return "", err
		}
		return bufio.NewReader(c).ReadString('\n')
	}
	t.Run("TCP entry 0 is forwarded at L4", func(t *testing.T) {
		got, err := tcpEcho("tcp 0")
		require.NoError(t, err)
		require.Equal(t, "ping\n", got)
	})
	t.Run("TCP entry at a private address the floor does not list is refused", func(t *testing.T) {
		_, err := tcpEcho("tcp 1")
		require.Error(t, err)
	})
	t.Run("no such TCP entry", func(t *testing.T) {
		_, err := tcpEcho("tcp 7")
		require.Error(t, err)
	})
	t.Run("a client of the socket that is not a relay is turned away", func(t *testing.T) {
		c, err := net.Dial("unix", addrs["socket"])
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 10))
		require.Zero(t, n)
		require.ErrorIs(t, err, io.EOF)
	})

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "closing a connection without a relay header") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := logs.String()
	for _, want := range []string{
		"drydock egress-proxy: denied tls evil.example:443 [-]: not in this server's network allowlist\n",
		"drydock egress-proxy: denied tls - [-]: no TLS ClientHello with a server name (SNI)\n",
		"drydock egress-proxy: denied http other.test:80 [-]: not in this server's network allowlist\n",
		"drydock egress-proxy: denied http plain.test:8080 [-]: the connection came to port 80 but the Host header names port 8080\n",
		"drydock egress-proxy: denied tcp db2.test:6379 [10.1.2.3]: private address, not listed in the floor's network.hosts\n",
		"drydock egress-proxy: denied tcp entry 7 [-]: no such tcp:// entry\n",
		"drydock egress-proxy: closing a connection without a relay header: not a drydock relay header\n",
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "SECRET")
}

// TestPublicMode: any host whose every address is public, never the
// special blocks, the denied ones (engine networks, the host) or a name
// resolving to them; the address checked is the one dialled.
func TestPublicMode(t *testing.T) {
	lookups := map[string]int{}
	var dialled []string
	p, err := New(nil, WithPublic(true), WithDenied([]string{"172.17.0.0/16", "198.51.100.7"}), WithTestPublic([]string{"192.0.2.0/24"}),
		WithAllowedAddresses([]string{"127.0.0.1:*"}),
		withLookup(func(_ context.Context, host string) ([]netip.Addr, error) {
			lookups[host]++
			m := map[string]string{"site.test": "192.0.2.10", "lo.test": "127.0.0.1", "ten.test": "10.1.2.3", "meta.test": "169.254.169.254",
				"gw.test": "172.17.0.1", "cgnat.test": "100.64.0.1", "mc.test": "224.0.0.1", "host.test": "198.51.100.7", "v6lo.test": "::1"}
			if host == "rebind.test" && lookups[host] > 1 {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			if host == "rebind.test" {
				return []netip.Addr{netip.MustParseAddr("192.0.2.20")}, nil
			}
			return []netip.Addr{netip.MustParseAddr(m[host])}, nil
		}),
		withDial(func(_ context.Context, _, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return nil, fmt.Errorf("test: not dialling %s", addr)
		}))
	require.NoError(t, err)
	tests := []struct{ dest, want string }{
		{"site.test:443", ""},
		{"lo.test:443", "lo.test:443 [127.0.0.1]: loopback address; network mode public reaches only public addresses"},
		{"127.0.0.1:80", "127.0.0.1:80 [127.0.0.1]: loopback address; network mode public reaches only public addresses"},
		{"ten.test:443", "ten.test:443 [10.1.2.3]: private address; network mode public reaches only public addresses"},
		{"10.0.0.1:443", "10.0.0.1:443 [10.0.0.1]: private address; network mode public reaches only public addresses"},
		{"meta.test:80", "meta.test:80 [169.254.169.254]: link-local address; network mode public reaches only public addresses"},
		{"169.254.169.254:80", "169.254.169.254:80 [169.254.169.254]: link-local address; network mode public reaches only public addresses"},
		{"gw.test:443", "gw.test:443 [172.17.0.1]: address of the container engine's networks or of this host (172.17.0.0/16)"},
		{"172.17.0.1:443", "172.17.0.1:443 [172.17.0.1]: address of the container engine's networks or of this host (172.17.0.0/16)"},
		{"host.test:443", "host.test:443 [198.51.100.7]: address of the container engine's networks or of this host (198.51.100.7/32)"},
		{"cgnat.test:443", "cgnat.test:443 [100.64.0.1]: shared (carrier-grade NAT) address; network mode public reaches only public addresses"},
		{"mc.test:443", "mc.test:443 [224.0.0.1]: multicast address; network mode public reaches only public addresses"},
		{"v6lo.test:443", "v6lo.test:443 [::1]: loopback address; network mode public reaches only public addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.dest, func(t *testing.T) {
			_, err := p.target(context.Background(), tt.dest)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
	// One lookup per request, and the dial goes to what was checked.
	addrs, err := p.target(context.Background(), "rebind.test:443")
	require.NoError(t, err)
	_, err = p.dialAddrs(context.Background(), addrs)
	require.Error(t, err)
	require.Equal(t, []string{"192.0.2.20:443"}, dialled)
	require.Equal(t, 1, lookups["rebind.test"])
}
