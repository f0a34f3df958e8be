package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAllowlist(t *testing.T) {
	a, err := ParseAllowlist([]string{"api.github.com:443", "*.githubusercontent.com:443", "Example.ORG.:80", "10.0.0.1:8080"})
	require.NoError(t, err)
	for hp, want := range map[string]bool{
		"api.github.com:443":                  true,
		"API.GitHub.com.:443":                 true,
		"api.github.com:80":                   false,
		"github.com:443":                      false,
		"raw.githubusercontent.com:443":       true,
		"a.b.githubusercontent.com:443":       true,
		"githubusercontent.com:443":           false,
		"evilgithubusercontent.com:443":       false,
		"example.org:80":                      true,
		"10.0.0.1:8080":                       true,
		"10.0.0.1:80":                         false,
		"api.github.com":                      false,
		"api.github.com.evil.example.com:443": false,
	} {
		require.Equal(t, want, a.Allows(hp), hp)
	}
	for _, bad := range [][]string{nil, {"host"}, {"host:0"}, {"host:x"}, {"a.*.com:443"}, {":443"}} {
		_, err := ParseAllowlist(bad)
		require.Error(t, err, "%q", bad)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// target is a loopback HTTP(S) server that says who it is and whether a
// proxy header reached it.
func target(t *testing.T, name string, tlsOn bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s proxy-authorization=%q", name, r.Header.Get("Proxy-Authorization"))
	})
	var s *httptest.Server
	if tlsOn {
		s = httptest.NewTLSServer(h)
	} else {
		s = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func TestProxy(t *testing.T) {
	allowed, other := target(t, "allowed", false), target(t, "other", false)
	allowedTLS, otherTLS := target(t, "allowed-tls", true), target(t, "other-tls", true)
	host := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	}

	logs := &syncBuffer{}
	// The targets are loopback listeners: the exact addresses are listed.
	p, err := New([]string{host(allowed), host(allowedTLS)}, WithLog(logs), WithAllowedAddresses([]string{host(allowed), host(allowedTLS)}))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	proxyURL := &url.URL{Scheme: "http", User: url.UserPassword("user", "PROXYSECRET"), Host: ln.Addr().String()}

	client := func(srv *httptest.Server) *http.Client {
		tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
		if srv.TLS != nil {
			tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		}
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}

	tests := []struct {
		name       string
		srv        *httptest.Server
		path       string
		wantStatus int
		wantBody   string
		wantErr    string
		wantLog    string
	}{
		{name: "plain HTTP to an allowed host:port", srv: allowed, path: "/x?token=SECRET", wantStatus: 200, wantBody: `allowed proxy-authorization=""`},
		{name: "plain HTTP to another port is refused", srv: other, path: "/x?token=SECRET", wantStatus: 403, wantLog: "denied GET " + host(other)},
		{name: "CONNECT to an allowed host:port", srv: allowedTLS, path: "/", wantStatus: 200, wantBody: `allowed-tls proxy-authorization=""`},
		// Go's transport reports a refused CONNECT as an error carrying the status text.
		{name: "CONNECT to another port is refused", srv: otherTLS, path: "/", wantErr: "Forbidden", wantLog: "denied CONNECT " + host(otherTLS)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client(tt.srv).Get(tt.srv.URL + tt.path)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, tt.wantStatus, resp.StatusCode, "body: %s", body)
				if tt.wantBody != "" {
					require.Equal(t, tt.wantBody, string(body), "proxy credentials must not reach the destination")
				}
			}
			if tt.wantLog != "" {
				require.Contains(t, logs.String(), tt.wantLog)
			}
		})
	}

	raw := []struct {
		name, request string
	}{
		{"origin-form request (not a proxy request)", "GET / HTTP/1.1\r\nHost: " + host(allowed) + "\r\n\r\n"},
		{"https:// without CONNECT", "GET https://" + host(allowedTLS) + "/ HTTP/1.1\r\nHost: " + host(allowedTLS) + "\r\n\r\n"},
		{"CONNECT without a port", "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, tt.request)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
		})
	}

	log := logs.String()
	require.Contains(t, log, ReadyLine+ln.Addr().String())
	for _, secret := range []string{"SECRET", "token=", "PROXYSECRET", "/x"} {
		require.NotContains(t, log, secret, "the log names destinations only, never paths, queries or credentials")
	}
}

func TestServeTLSUnaffected(t *testing.T) {
	// A CONNECT tunnel is opaque: the proxy must pass bytes through without
	// touching TLS, so a handshake against a plain listener fails at the client.
	plain := target(t, "plain", false)
	hp := strings.TrimPrefix(plain.URL, "http://")
	p, err := New([]string{hp}, WithAllowedAddresses([]string{hp}))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Serve(ctx, ln) }()
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()}), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	_, err = (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + hp + "/")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "Forbidden", "the tunnel was allowed; only the TLS handshake fails")
}

// TestProxyRefusesUnlistedLoopback: an allowlist entry alone does not open
// an address on the proxy's own machine; only listing the exact address
// does (TestProxyAddresses).
func TestProxyRefusesUnlistedLoopback(t *testing.T) {
	dest := target(t, "loopback", false)
	hp := strings.TrimPrefix(dest.URL, "http://")
	logs := &syncBuffer{}
	p, err := New([]string{hp}, WithLog(logs))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Serve(ctx, ln) }()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()})}}
	resp, err := c.Get(dest.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, err = c.Get("https://" + hp + "/")
	require.ErrorContains(t, err, "Forbidden")
	require.Contains(t, logs.String(), "denied GET "+hp+" [127.0.0.1]: loopback address")
	require.Contains(t, logs.String(), "denied CONNECT "+hp+" [127.0.0.1]: loopback address")
}
