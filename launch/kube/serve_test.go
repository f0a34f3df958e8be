package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// TestWebhookServe: Serve answers https POST-only at /validate with the
// given certificate, nothing else, and returns nil once ctx ends; a
// certificate it cannot load is an error at once.
func TestWebhookServe(t *testing.T) {
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certPEM, keyPEM, err := ca.Issue("127.0.0.1")
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, keyPEM, 0o600))

	t.Run("bad certificate", func(t *testing.T) {
		err := (&Webhook{}).Serve(context.Background(), "127.0.0.1:0", keyFile, keyFile)
		require.Error(t, err)
	})

	// A free port: Serve listens by address, as the CLI's --addr gives it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Webhook{}).Serve(ctx, addr, certFile, keyFile) }()

	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(ca.CertPEM))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	get := func(path string) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get("https://" + addr + path)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			var op *net.OpError
			// Until the server listens, dialing is refused; anything
			// else (a TLS error) is a failure.
			require.True(t, errors.As(err, &op) && op.Op == "dial" && time.Now().Before(deadline), "GET %s: %v", path, err)
			select {
			case err := <-done:
				t.Fatalf("Serve returned before ctx ended: %v", err)
			default:
			}
		}
	}
	require.Equal(t, http.StatusMethodNotAllowed, get("/validate"))
	require.Equal(t, http.StatusNotFound, get("/other"))
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
}
