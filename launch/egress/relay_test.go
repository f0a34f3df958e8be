package egress

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRelay chains what podman's allowlist mode runs: a client's proxy
// connection to the relay's TCP port, copied to the proxy on a Unix socket,
// which applies the allowlist.
func TestRelay(t *testing.T) {
	hello := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello from "+name) }))
		t.Cleanup(s.Close)
		return s
	}
	allowed, other := hello("allowed"), hello("other")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sock := filepath.Join(t.TempDir(), "proxy.sock")
	var proxyLog syncBuffer
	proxyDone := make(chan error, 1)
	go func() {
		hp := strings.TrimPrefix(allowed.URL, "http://")
		proxyDone <- ListenAndServeRelayed(ctx, "unix:"+sock, []string{hp}, &proxyLog, WithAllowedAddresses([]string{hp}))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(proxyLog.String(), ReadyLine) {
		require.True(t, time.Now().Before(deadline), "the proxy did not listen on %s: %s", sock, proxyLog.String())
		time.Sleep(10 * time.Millisecond)
	}

	relay := func(t *testing.T, to string) (string, *syncBuffer, chan error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var lg syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- serveListener(ctx, ln, to, header{kind: KindProxy}, log.New(&lg, "drydock egress-proxy: ", 0))
		}()
		return ln.Addr().String(), &lg, done
	}
	addr, _, relayDone := relay(t, sock)
	missingAddr, missingLog, _ := relay(t, filepath.Join(t.TempDir(), "none.sock"))

	get := func(proxyAddr, target string) (int, string, error) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr})}}
		resp, err := c.Get(target)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	tests := []struct {
		name       string
		proxy, url string
		status     int
		body       string
	}{
		{"allowed destination through relay and proxy", addr, allowed.URL, 200, "hello from allowed"},
		{"other destination refused by the proxy behind the relay", addr, other.URL, 403, "drydock egress proxy"},
		{"no proxy behind the relay: the connection is closed", missingAddr, allowed.URL, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := get(tt.proxy, tt.url)
			if tt.status == 0 {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.status, status)
			require.Contains(t, body, tt.body)
		})
	}
	require.Contains(t, missingLog.String(), "relay: connecting to the proxy")
	require.Contains(t, proxyLog.String(), "denied GET "+strings.TrimPrefix(other.URL, "http://"))

	cancel()
	for what, done := range map[string]chan error{"relay": relayDone, "proxy": proxyDone} {
		select {
		case err := <-done:
			require.NoError(t, err, what)
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s did not stop when its context ended", what)
		}
	}
}
