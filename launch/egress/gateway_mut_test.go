package egress

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRelayRefusesMalformed: a TCP header naming the entry just past the
// last one, and a port-80 request without a Host (or a CONNECT, which
// belongs on the proxy listener) are refused with their own reason.
func TestRelayRefusesMalformed(t *testing.T) {
	var logs syncBuffer
	p, err := New([]string{"api.test:80"}, WithLog(&logs), WithTCP([]string{"db.test:5432"}))
	require.NoError(t, err)

	server, client := net.Pipe()
	p.forwardTCP(context.Background(), server, 1)
	_, err = client.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the connection is closed")

	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "http://api.test/", nil),
		httptest.NewRequest(http.MethodConnect, "http://api.test:80", nil),
	} {
		if r.Method == http.MethodGet {
			r.Host = ""
		}
		w := httptest.NewRecorder()
		p.transparentHTTP(w, r)
		require.Equal(t, http.StatusForbidden, w.Code, r.Method)
		require.Equal(t, "drydock egress proxy: destination not allowed for this server (no Host header)\n", w.Body.String(), r.Method)
	}
	require.Equal(t, "drydock egress-proxy: denied tcp entry 1 [-]: no such tcp:// entry\n"+
		"drydock egress-proxy: denied http - [-]: no Host header\n"+
		"drydock egress-proxy: denied http - [-]: no Host header\n", logs.String())
}
