package mirror_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/mirror/mirrortest"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// faultProxy sits on loopback in front of the registry and, while on,
// answers every 20th request with a 503 and resets the connection of every
// 29th (a fixed share of about 8%, so runs are comparable).
type faultProxy struct {
	on              atomic.Bool
	n, fail5xx, rst atomic.Int64
	rp              *httputil.ReverseProxy
}

func (f *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.n.Add(1)
	if f.on.Load() {
		switch {
		case n%20 == 3:
			f.fail5xx.Add(1)
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}`, http.StatusServiceUnavailable)
			return
		case n%29 == 5:
			f.rst.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0) // close sends RST, not FIN
				}
				conn.Close()
			}
			return
		}
	}
	f.rp.ServeHTTP(w, r)
}

func startFaultProxy(t *testing.T, reg string) (*faultProxy, string) {
	t.Helper()
	f := &faultProxy{rp: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f, ln.Addr().String()
}

// TestMirrorFaultyRegistry mirrors through a registry that fails a fixed
// share of requests: every entry must end hardened, and verify.
func TestMirrorFaultyRegistry(t *testing.T) {
	reg := testenv.Registry(t)
	w := mirrortest.New(t, reg)
	f, host := startFaultProxy(t, reg)
	const n = 8
	w.PushUpstreams(t, 0, n, "faults")
	w.WriteCatalog(t, host, n, build.StrategyRebase, nil)
	f.on.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := mirror.Load(w.Catalog)
	require.NoError(t, err)
	opts := []mirror.Option{mirror.WithSigner(w.Signer), mirror.WithJobs(4), mirror.WithRetry(8, 20*time.Millisecond),
		// ggcr's own per-request retries, made quick for the test.
		mirror.WithRemoteOptions(remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 3}))}
	rep, err := mirror.Run(ctx, c, w.MirrorPrefix(host), opts...)
	require.NoError(t, err, "entries: %+v", rep)
	f.on.Store(false)
	got, _ := statuses(rep)
	require.Equal(t, map[string]int{mirror.StatusHardened: n}, got)
	require.Positive(t, f.fail5xx.Load(), "faults were injected")
	require.Positive(t, f.rst.Load(), "resets were injected")
	t.Logf("%d requests, %d answered 503, %d reset", f.n.Load(), f.fail5xx.Load(), f.rst.Load())
	requireVerified(t, w, rep)

	// A second pass through the faults still verifies before skipping.
	f.on.Store(true)
	rep, err = mirror.Run(ctx, c, w.MirrorPrefix(host), opts...)
	require.NoError(t, err)
	got, _ = statuses(rep)
	require.Equal(t, map[string]int{mirror.StatusSkipped: n}, got)
}
