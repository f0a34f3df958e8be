package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNonGlobal(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1", "loopback"},
		{"127.9.9.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"10.1.2.3", "private"},
		{"172.17.0.1", "private"},
		{"192.168.1.1", "private"},
		{"fd00::1", "unique-local"},
		{"100.64.0.1", "shared (carrier-grade NAT)"},
		{"0.0.0.0", "this-network"},
		{"::", "unspecified or IPv4-compatible"},
		{"224.0.0.1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"64:ff9b::a9fe:a9fe", "NAT64"},
		{"2002:a9fe:a9fe::1", "6to4"},
		{"192.0.2.1", "documentation"},
		{"2001:db8::1", "documentation"},
		{"140.82.112.5", ""},
		{"8.8.8.8", ""},
		{"2606:4700::1111", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, nonGlobal(netip.MustParseAddr(tt.addr)), tt.addr)
	}
}

func TestParseAddresses(t *testing.T) {
	l, err := parseAddresses([]string{"127.0.0.1:8080", "[::1]:*", "::ffff:10.0.0.1:443"})
	require.Error(t, err, "an IPv6 address needs brackets")
	l, err = parseAddresses([]string{"127.0.0.1:8080", "[::1]:*", "[::ffff:10.0.0.1]:443"})
	require.NoError(t, err)
	for ap, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1:8081": false, "127.0.0.2:8080": false,
		"[::1]:1": true, "10.0.0.1:443": true, "10.0.0.1:80": false,
	} {
		require.Equal(t, want, l.lists(netip.MustParseAddrPort(ap)), ap)
	}
	for _, bad := range []string{"127.0.0.1", "host:80", "127.0.0.1:0", "127.0.0.1:x", "[fe80::1%eth0]:80"} {
		_, err := parseAddresses([]string{bad})
		require.Error(t, err, bad)
	}
}

// TestProxyAddresses: an allowed name is resolved once, every address is
// checked, and the checked address is the one dialled. The destinations are
// loopback listeners; names resolve through a fake resolver.
func TestProxyAddresses(t *testing.T) {
	hello := func(name string) (*httptest.Server, string) {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello from "+name) }))
		t.Cleanup(s.Close)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
		return s, port
	}
	_, port := hello("listed")
	// A second listener on the same port of another loopback address: where
	// a second lookup would lead.
	evil, err := net.Listen("tcp", "127.0.0.2:"+port)
	require.NoError(t, err)
	evilSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello from evil") }), ReadHeaderTimeout: time.Second}
	go func() { _ = evilSrv.Serve(evil) }()
	t.Cleanup(func() { evilSrv.Close() })

	var lookups atomic.Int32
	zones := map[string][]string{
		"listed.test":   {"127.0.0.1"},
		"unlisted.test": {"127.0.0.3"},
		"metadata.test": {"169.254.169.254"},
		"private.test":  {"10.255.0.9"},
		"mixed.test":    {"140.82.112.5", "127.0.0.3"},
		"mapped.test":   {"::ffff:127.0.0.3"},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		n := lookups.Add(1)
		if host == "rebind.test" {
			// The first answer is the listed address; any later one is not.
			if n == 1 {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.2")}, nil
		}
		var out []netip.Addr
		for _, a := range zones[host] {
			out = append(out, netip.MustParseAddr(a))
		}
		if out == nil {
			return nil, errors.New("no such host")
		}
		return out, nil
	}
	var allow []string
	for _, h := range []string{"listed.test", "unlisted.test", "metadata.test", "private.test", "mixed.test", "mapped.test", "rebind.test", "127.0.0.1", "127.0.0.3"} {
		allow = append(allow, net.JoinHostPort(h, port))
	}
	logs := &syncBuffer{}
	p, err := New(allow, WithLog(logs), withLookup(lookup), WithAllowedAddresses([]string{"127.0.0.1:" + port}))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = p.Serve(ctx, ln) }()
	proxyURL := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}

	tests := []struct {
		name, host string
		status     int    // 0: a CONNECT refusal (https://)
		body       string // the answer, or the refusal log line
	}{
		{"a name resolving to the listed address", "listed.test", 200, "hello from listed"},
		{"the listed address itself", "127.0.0.1", 200, "hello from listed"},
		{"a name resolving to an unlisted loopback address", "unlisted.test", 403, "denied GET unlisted.test:" + port + " [127.0.0.3]: loopback address, not listed in the floor's network.hosts"},
		{"an unlisted loopback address itself", "127.0.0.3", 403, "denied GET 127.0.0.3:" + port + " [127.0.0.3]: loopback address, not listed"},
		{"a name resolving to the metadata service", "metadata.test", 403, "denied GET metadata.test:" + port + " [169.254.169.254]: link-local address, not listed"},
		{"a name resolving to a private address", "private.test", 403, "denied GET private.test:" + port + " [10.255.0.9]: private address, not listed"},
		{"one unlisted address among global ones refuses the name", "mixed.test", 403, "denied GET mixed.test:" + port + " [127.0.0.3]: loopback address"},
		{"an IPv4-mapped loopback address", "mapped.test", 403, "denied GET mapped.test:" + port + " [::ffff:127.0.0.3]: loopback address"},
		{"CONNECT to the metadata service", "metadata.test", 0, "denied CONNECT metadata.test:" + port + " [169.254.169.254]: link-local address"},
		{"not in the allowlist: refused without a lookup", "other.test", 403, "denied GET other.test:" + port + " [-]: not in this server's network allowlist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lookups.Load()
			scheme := "http://"
			if tt.status == 0 {
				scheme = "https://"
			}
			resp, err := client.Get(scheme + net.JoinHostPort(tt.host, port) + "/")
			if tt.status == 0 {
				require.ErrorContains(t, err, "Forbidden")
			} else {
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, tt.status, resp.StatusCode, "%s", b)
				if tt.status == 200 {
					require.Equal(t, tt.body, string(b))
				}
			}
			if tt.status != 200 {
				require.Contains(t, logs.String(), tt.body)
			}
			if tt.host == "other.test" {
				require.Equal(t, before, lookups.Load(), "a name outside the allowlist is never looked up")
			}
		})
	}

	t.Run("the checked address is dialled, with no second lookup", func(t *testing.T) {
		for _, scheme := range []string{"http://", "https://"} {
			lookups.Store(0)
			resp, err := client.Get(scheme + net.JoinHostPort("rebind.test", port) + "/")
			if scheme == "https://" {
				// The listener speaks plain HTTP: the tunnel reached one.
				require.ErrorContains(t, err, "server gave HTTP response to HTTPS client")
			} else {
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, "hello from listed", string(b), "a second lookup would have led to 127.0.0.2")
			}
			require.EqualValues(t, 1, lookups.Load(), "%s: one lookup per request", scheme)
		}
	})

	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, "denied") {
			require.Regexp(t, `^drydock egress-proxy: denied (GET|CONNECT) \S+:\d+ \[\S+\]: .+$`, line, "one line: kind, host:port, address, why")
		}
	}
}
