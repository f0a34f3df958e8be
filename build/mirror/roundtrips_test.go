package mirror_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/mirror/mirrortest"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
)

// countingProxy sits on loopback in front of the registry and counts the
// requests that reach it by kind ("GET /v2/", "GET manifest", ...).
type countingProxy struct {
	rp *httputil.ReverseProxy
	mu sync.Mutex
	n  map[string]int
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := r.Method + " other"
	switch {
	case r.URL.Path == "/v2/":
		kind = r.Method + " /v2/"
	case strings.Contains(r.URL.Path, "/manifests/"):
		kind = r.Method + " manifest"
	case strings.Contains(r.URL.Path, "/blobs/uploads/"):
		kind = r.Method + " upload"
	case strings.Contains(r.URL.Path, "/blobs/"):
		kind = r.Method + " blob"
	}
	p.mu.Lock()
	p.n[kind]++
	p.mu.Unlock()
	p.rp.ServeHTTP(w, r)
}

func (p *countingProxy) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.n {
		out[k] = v
	}
	return out
}

func startCountingProxy(t *testing.T, reg string) (*countingProxy, string) {
	t.Helper()
	p := &countingProxy{rp: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg}), n: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p, ln.Addr().String()
}

// TestMirrorRoundTrips pins the registry requests a fan-out costs: they,
// not CPU, are what --jobs waits on. Every worker shares one set of
// registry transports, so the registry is pinged about once per repository
// a run touches, not once per remote call (15 pings an entry before), and
// content-addressed reads are answered from the run's read cache.
func TestMirrorRoundTrips(t *testing.T) {
	reg := testenv.Registry(t)
	w := mirrortest.New(t, reg)
	p, host := startCountingProxy(t, reg)
	const n = 6
	w.PushUpstreams(t, 0, n, "rt")
	w.WriteCatalog(t, host, n, build.StrategyRebase, nil)
	c, err := mirror.Load(w.Catalog)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := mirror.Run(ctx, c, w.MirrorPrefix(host), mirror.WithSigner(w.Signer), mirror.WithJobs(3),
		mirror.WithoutSmoke("round-trip test"))
	require.NoError(t, err, "entries: %+v", rep)
	got, _ := statuses(rep)
	require.Equal(t, map[string]int{mirror.StatusHardened: n}, got)
	counts := p.counts()
	t.Logf("requests for %d entries: %v", n, counts)
	// The run's read cache keeps the registry's ping answer: only the
	// first pings, which the 3 workers make at once, reach it (ggcr pings
	// again for every repository and scope: 4 an entry before).
	require.LessOrEqual(t, counts["GET /v2/"], 6, "pings: %v", counts)
	// Manifests named by digest are read once per repository and run (the
	// read cache); what is left per entry is resolving its tag (planning
	// and hardening each do), reading the result back, and signing (13 an
	// entry before).
	require.LessOrEqual(t, counts["GET manifest"], 7*n+6, "manifest reads: %v", counts)
}
