package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/drydock-dev/drydock/launch/egress"
)

// egressFigures are issue 14's closing figures: the start-up cost of an
// allowlist run (gateway, relay and volume before the server) and the
// latency the gateway adds to an allowed HTTPS request.
func egressFigures() []figure {
	return []figure{
		{id: "egress-start", name: "drydock run → initialize, network allowlist", unit: "s", maxRatio: 1.3, goal: "≤ 1.3×",
			baseline: "drydock run of the same server, network none", measure: measureEgressStart},
		{id: "egress-proxy-latency", name: "allowed HTTPS request (new TLS connection) via relay + gateway, proxy mode (CONNECT)", unit: "s",
			baseline: "direct connection to the destination", measure: func(ctx context.Context, e *env) (result, error) { return measureEgressLatency(ctx, e, false) }},
		{id: "egress-transparent-latency", name: "same, transparent mode (relay's DNS answer, SNI forwarding)", unit: "s",
			baseline: "direct connection to the destination", measure: func(ctx context.Context, e *env) (result, error) { return measureEgressLatency(ctx, e, true) }},
	}
}

// measureEgressStart hardens the fixture once more with an allowlist
// policy (an address nothing listens on: start-up only) and alternates its
// run with the network none run of the same server.
func measureEgressStart(ctx context.Context, e *env) (result, error) {
	pol := filepath.Join(e.dir, "allowlist.yaml")
	floor := filepath.Join(e.dir, "floor.yaml")
	if err := os.WriteFile(pol, []byte("network: {mode: allowlist, allow: [\"api.example.test:443\"]}\n"), 0o644); err != nil {
		return result{}, err
	}
	if err := os.WriteFile(floor, []byte("apiVersion: drydock.dev/v1\nkind: Floor\nnetwork: {modes: [none, allowlist], hosts: [\"api.example.test:443\"]}\n"), 0o644); err != nil {
		return result{}, err
	}
	out, err := e.cmd(ctx, e.drydock, "harden", e.fx.UpstreamTag, "--to", e.repo("hardened/echo-allowlist")+":1",
		"--base", e.fx.HardenedBase, "--key", e.key, "--policy", pol, "--progress", "quiet")
	if err != nil {
		return result{}, err
	}
	allowlisted := lastLine(out)
	var r result
	for i := 0; i < e.cfg.reps+1; i++ {
		d, err := e.initTime(ctx, e.drydock, "run", allowlisted, "--key", e.pub, "--floor", floor)
		if err != nil {
			return r, err
		}
		b, err := e.initTime(ctx, e.drydock, "run", e.hardened, "--key", e.pub, "--floor", floor)
		if err != nil {
			return r, err
		}
		if i == 0 {
			continue // warm-up: the gateway image is loaded once per binary
		}
		r.drydock, r.base = append(r.drydock, d), append(r.base, b)
	}
	return r, nil
}

// measureEgressLatency times allowed HTTPS GETs, each on a new connection,
// through the relay and gateway in this process (the same code as in the
// containers; the containers' own namespaces add no hop: the relay's
// socket is a Unix socket on a volume) against the same GETs made
// directly. The destination is bench.test, which the relay's DNS answers
// with 127.1.0.1, where the destination listens on 443.
func measureEgressLatency(ctx context.Context, e *env, transparent bool) (result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const name, dest = "bench.test", "127.1.0.1:443"
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	ln, err := net.Listen("tcp", dest)
	if err != nil {
		return result{}, fmt.Errorf("listening on %s (needs root for port 443): %w", dest, err)
	}
	srv.Listener = ln
	srv.StartTLS()
	defer srv.Close()
	// The SNI must name bench.test (the allowed host); httptest's
	// certificate names example.com, so it is checked by hand against
	// that name: the handshake costs the same on every path.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tlsCfg := &tls.Config{ServerName: name, InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: "example.com"})
		return err
	}}

	sock := filepath.Join(e.dir, "gw.sock")
	os.Remove(sock)
	const dnsAddr, proxyAddr, tlsAddr = "127.0.0.1:39053", "127.0.0.1:39128", "127.0.0.1:39443"
	gwErr := make(chan error, 1)
	go func() {
		gwErr <- egress.ListenAndServeRelayed(ctx, "unix:"+sock, []string{name + ":443"}, io.Discard,
			egress.WithResolver(dnsAddr), egress.WithAllowedAddresses([]string{dest}))
	}()
	relayErr := make(chan error, 1)
	go func() {
		relayErr <- egress.Relay(ctx, egress.RelayConfig{To: sock, DNS: dnsAddr,
			Listeners: []egress.RelayListener{egress.NewRelayListener(proxyAddr, egress.KindProxy, 0), egress.NewRelayListener(tlsAddr, egress.KindTLS, 0)},
			// bench.test as a tcp:// entry's name gets 127.1.0.1 from the relay's DNS.
			Names: egress.NewNames([]string{name + ":443"}, []string{name + ":443"}, false)}, io.Discard)
	}()
	if err := waitDial(ctx, proxyAddr, sock); err != nil {
		return result{}, err
	}
	direct := func(addr string) func() error {
		return func() error { return httpsGet(ctx, addr, tlsCfg) }
	}
	viaProxy := func() error {
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}), TLSClientConfig: tlsCfg, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + name + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	// Transparent: the client asks the relay's DNS, then connects to the
	// relay's TLS listener (443 of the answer, here another port).
	viaRelay := func() error {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, dnsAddr)
		}}
		if _, err := r.LookupNetIP(ctx, "ip4", name); err != nil {
			return err
		}
		return httpsGet(ctx, tlsAddr, tlsCfg)
	}
	through := viaProxy
	if transparent {
		through = viaRelay
	}
	var res result
	for i := 0; i < 10*e.cfg.reps+1; i++ {
		d, err := timeIt(through)
		if err != nil {
			return res, err
		}
		b, err := timeIt(direct(dest))
		if err != nil {
			return res, err
		}
		if i == 0 {
			continue
		}
		res.drydock, res.base = append(res.drydock, d), append(res.base, b)
	}
	a, b := append([]float64(nil), res.drydock...), append([]float64(nil), res.base...)
	sort.Float64s(a)
	sort.Float64s(b)
	res.note = fmt.Sprintf("added latency (median): %.2f ms", (a[len(a)/2]-b[len(b)/2])*1000)
	cancel()
	<-gwErr
	<-relayErr
	return res, nil
}

func timeIt(f func() error) (float64, error) {
	start := time.Now()
	err := f()
	return time.Since(start).Seconds(), err
}

// httpsGet makes one GET on a new TLS connection to addr.
func httpsGet(ctx context.Context, addr string, cfg *tls.Config) error {
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// waitDial waits until the relay's proxy listener and the gateway's socket accept.
func waitDial(ctx context.Context, tcpAddr, sock string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c1, err1 := net.Dial("tcp", tcpAddr)
		c2, err2 := net.Dial("unix", sock)
		for _, c := range []net.Conn{c1, c2} {
			if c != nil {
				c.Close()
			}
		}
		if err1 == nil && err2 == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the in-process relay and gateway did not listen: %v, %v", err1, err2)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
