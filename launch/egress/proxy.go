package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Port is where the proxy listens inside its container.
const Port = 3128

// ReadyLine starts the line the proxy writes to its log once it accepts
// connections; launch waits for it before starting the server.
const ReadyLine = "drydock egress-proxy: listening on "

// Option configures a Proxy.
type Option func(*options) error

type options struct {
	log         io.Writer
	dialTimeout time.Duration
	addresses   []string
	lookup      lookupFunc
	dial        dialFunc
	tcp         []string
	public      bool
	deny        []string
	testPublic  []string
	resolver    string
}

// lookupFunc resolves a host name to its addresses.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// WithAllowedAddresses lists the exact addresses, IP:PORT or IP:* for every
// port, the proxy may connect to although they are not globally reachable
// (the floor's IP entries in network.hosts). Default: none, so an allowed
// name that resolves to a loopback, link-local, private or other
// non-global address is refused.
func WithAllowedAddresses(list []string) Option {
	return func(o *options) error { o.addresses = list; return nil }
}

// WithTCP lists the host:port of the policy's tcp:// entries; the relay's
// TCP listener number i forwards to entry i at L4. Default: none.
func WithTCP(entries []string) Option {
	return func(o *options) error { o.tcp = entries; return nil }
}

// WithPublic lets HTTP(S) through to any host whose addresses are all
// globally reachable (network mode public); the allowlist may then be
// empty. The floor's exact addresses do not apply to it. Default: off.
func WithPublic(on bool) Option {
	return func(o *options) error { o.public = on; return nil }
}

// WithDenied lists address prefixes (CIDR) never connected to unless the
// floor lists the exact address: the container engine's networks and the
// host's own addresses, which may be global. Default: none.
func WithDenied(prefixes []string) Option {
	return func(o *options) error { o.deny = prefixes; return nil }
}

// WithTestPublic lists address prefixes (CIDR) to count as globally
// reachable: tests stand in for the internet with listeners on this
// machine. Never set outside tests. Default: none.
func WithTestPublic(prefixes []string) Option {
	return func(o *options) error { o.testPublic = prefixes; return nil }
}

// WithResolver sends the proxy's name lookups to the DNS server at
// host:port (a corporate resolver, or a test's) instead of the system's.
// Default: the system resolver.
func WithResolver(addr string) Option {
	return func(o *options) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("resolver %q: write host:port", addr)
		}
		o.resolver = addr
		return nil
	}
}

// dialFunc connects to a checked address.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// withDial replaces the dialer (tests: the destinations' ports are not
// 80 and 443 on this machine).
func withDial(f dialFunc) Option {
	return func(o *options) error { o.dial = f; return nil }
}

// withLookup replaces the system resolver (tests).
func withLookup(f lookupFunc) Option {
	return func(o *options) error { o.lookup = f; return nil }
}

// WithLog sets where denials and errors are written. Default: io.Discard
// (the library is silent; the egress-proxy command passes stderr).
func WithLog(w io.Writer) Option {
	return func(o *options) error { o.log = w; return nil }
}

// WithDialTimeout bounds connecting to an allowed destination. Default 10s.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return errors.New("the dial timeout must be positive")
		}
		o.dialTimeout = d
		return nil
	}
}

// Proxy is an http.Handler that forwards allowed traffic and refuses the rest.
type Proxy struct {
	allow     *Allowlist
	tcp       []string
	public    bool
	deny      []netip.Prefix
	testPub   []netip.Prefix
	addresses addressList
	lookup    lookupFunc
	log       *log.Logger
	dial      dialFunc
	forwarder *httputil.ReverseProxy
}

// New returns a proxy for the host:port entries in allow.
func New(allow []string, opts ...Option) (*Proxy, error) {
	o := &options{log: io.Discard, dialTimeout: 10 * time.Second, lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.resolver != "" {
		r := resolverAt(o.resolver, o.dialTimeout)
		o.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) { return r.LookupNetIP(ctx, "ip", host) }
	}
	a := &Allowlist{}
	var err error
	if len(allow) > 0 || (!o.public && len(o.tcp) == 0) {
		if a, err = ParseAllowlist(allow); err != nil {
			return nil, err
		}
	}
	for _, e := range o.tcp {
		if _, err := ParseAllowlist([]string{e}); err != nil || strings.HasPrefix(e, "*") {
			return nil, fmt.Errorf("tcp entry %q: write host:port", e)
		}
	}
	addrs, err := parseAddresses(o.addresses)
	if err != nil {
		return nil, err
	}
	deny, err := parsePrefixes(o.deny)
	if err != nil {
		return nil, err
	}
	testPub, err := parsePrefixes(o.testPublic)
	if err != nil {
		return nil, err
	}
	p := &Proxy{allow: a, tcp: o.tcp, public: o.public, deny: deny, testPub: testPub, addresses: addrs, lookup: o.lookup,
		log: log.New(o.log, "drydock egress-proxy: ", 0), dial: o.dial}
	if p.dial == nil {
		d := &net.Dialer{Timeout: o.dialTimeout}
		p.dial = d.DialContext
	}
	p.forwarder = &httputil.ReverseProxy{
		// The request is already absolute-form: forward it as it is. Rewrite
		// (not Director) drops hop-by-hop headers such as Proxy-Authorization
		// and adds no X-Forwarded-* headers that would leak the server's address.
		Rewrite: func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.In.Host },
		Transport: &http.Transport{
			Proxy: nil, // never chain to another proxy from the environment
			// The dial connects only to the addresses the handler checked for
			// this request (no second lookup), so no code path can reach a
			// destination the handler did not check. No connection is reused
			// for a later request, which has its own check.
			DialContext:           p.dialChecked,
			DisableKeepAlives:     true,
			ForceAttemptHTTP2:     false,
			ResponseHeaderTimeout: time.Minute,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.log.Printf("forwarding %s %s failed: %v", r.Method, hostport(r.URL.Host, "80"), redact(err))
			http.Error(w, "drydock egress proxy: the destination did not answer", http.StatusBadGateway)
		},
	}
	return p, nil
}

// refusal is why the proxy will not connect to dest: one log line.
type refusal struct {
	dest string // host:port as the client asked for it
	addr string // the resolved address refused, "-" if none was resolved
	why  string
}

func (r *refusal) Error() string { return fmt.Sprintf("%s [%s]: %s", r.dest, r.addr, r.why) }

// target checks dest (host:port) of an HTTP(S) request against the
// allowlist (any host in public mode), then resolves its host once and
// checks every address (see checkAddrs). A name outside the allowlist is
// never looked up, so the proxy carries no DNS query the allowlist does
// not allow.
func (p *Proxy) target(ctx context.Context, dest string) ([]netip.AddrPort, error) {
	if !p.public && !p.allow.Allows(dest) {
		return nil, &refusal{dest, "-", "not in this server's network allowlist"}
	}
	return p.checkAddrs(ctx, dest, !p.public)
}

// checkAddrs resolves dest's host once and returns the addresses to dial,
// a *refusal, or a lookup error. Every address must be usable: listed
// exactly in the floor (when floorOK: allowlist hosts and tcp:// entries,
// never public mode's any-host), else neither on the engine's networks or
// the host (WithDenied) nor non-global.
func (p *Proxy) checkAddrs(ctx context.Context, dest string, floorOK bool) ([]netip.AddrPort, error) {
	host, portStr, _ := net.SplitHostPort(dest)
	port, _ := strconv.ParseUint(portStr, 10, 16)
	ips, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if why := p.unusable(ap, floorOK); why != "" {
			return nil, &refusal{dest, ip.String(), why}
		}
		out = append(out, ap)
	}
	return out, nil
}

// unusable says why the proxy must not connect to ap, or "".
func (p *Proxy) unusable(ap netip.AddrPort, floorOK bool) string {
	if floorOK && p.addresses.lists(ap) {
		return ""
	}
	// Tests name their stand-ins for the internet exactly; they sit on an
	// engine network, whose other addresses stay denied.
	for _, t := range p.testPub {
		if t.Contains(ap.Addr()) {
			return ""
		}
	}
	for _, d := range p.deny {
		if d.Contains(ap.Addr()) {
			return "address of the container engine's networks or of this host (" + d.String() + ")"
		}
	}
	kind := nonGlobal(ap.Addr())
	switch {
	case kind == "":
		return ""
	case !floorOK:
		return kind + " address; network mode public reaches only public addresses"
	}
	return kind + " address, not listed in the floor's network.hosts"
}

func (p *Proxy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ips, err := p.lookup(ctx, host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", host, err)
	}
	return ips, nil
}

// dialAddrs connects to the first of addrs that answers.
func (p *Proxy) dialAddrs(ctx context.Context, addrs []netip.AddrPort) (net.Conn, error) {
	err := errors.New("no addresses")
	for _, a := range addrs {
		var c net.Conn
		if c, err = p.dial(ctx, "tcp", a.String()); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// checkedKey carries a plain HTTP request's checked target from the
// handler to the transport's dial.
type checkedKey struct{}

type checked struct {
	dest  string
	addrs []netip.AddrPort
}

func (p *Proxy) dialChecked(ctx context.Context, _, addr string) (net.Conn, error) {
	c, ok := ctx.Value(checkedKey{}).(checked)
	if !ok || !strings.EqualFold(c.dest, addr) {
		return nil, fmt.Errorf("%s was not checked by the proxy", addr)
	}
	return p.dialAddrs(ctx, c.addrs)
}

// ServeHTTP handles CONNECT host:port and absolute-form http:// requests.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host != "":
		dest := hostport(r.URL.Host, "80")
		addrs, err := p.target(r.Context(), dest)
		if err != nil {
			p.fail(w, r.Method, dest, err)
			return
		}
		p.forwarder.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), checkedKey{}, checked{dest, addrs})))
	default:
		// Origin-form requests, https:// without CONNECT, other schemes.
		p.fail(w, r.Method, "-", &refusal{"-", "-", "neither CONNECT nor an absolute-form http:// request"})
	}
}

// fail answers a refusal with 403 and anything else with 502, and logs one
// line: the kind of request, host:port, the resolved address and why.
// Never the path, query or headers, which may carry tokens.
func (p *Proxy) fail(w http.ResponseWriter, kind, dest string, err error) {
	var ref *refusal
	if errors.As(err, &ref) {
		p.log.Printf("denied %s %s", kind, ref)
		http.Error(w, "drydock egress proxy: destination not allowed for this server ("+ref.why+")", http.StatusForbidden)
		return
	}
	p.log.Printf("%s %s failed: %v", kind, dest, redact(err))
	http.Error(w, "drydock egress proxy: the destination did not answer", http.StatusBadGateway)
}

func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	dest := r.Host
	if _, port, err := net.SplitHostPort(dest); err != nil || port == "" {
		p.fail(w, r.Method, dest, &refusal{dest, "-", "CONNECT needs host:port"})
		return
	}
	addrs, err := p.target(r.Context(), dest)
	if err != nil {
		p.fail(w, r.Method, dest, err)
		return
	}
	up, err := p.dialAddrs(r.Context(), addrs)
	if err != nil {
		p.fail(w, r.Method, dest, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "drydock egress proxy: cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		up.Close()
		return
	}
	splice(conn, buf, up)
}

// splice copies both ways until both sides are done. Bytes the client sent
// right after its CONNECT may already sit in buf.
func splice(client net.Conn, buf io.Reader, up net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, buf)
		closeWrite(up)
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(client, up)
		closeWrite(client)
	}()
	wg.Wait()
	client.Close()
	up.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// hostport adds the default port when the authority has none.
func hostport(authority, defaultPort string) string {
	if _, _, err := net.SplitHostPort(authority); err == nil {
		return authority
	}
	return net.JoinHostPort(authority, defaultPort)
}

// redact keeps a network error's operation and address but not any URL it
// quotes (a URL may carry a token in its query).
func redact(err error) error {
	var ne *net.OpError
	if errors.As(err, &ne) {
		return ne
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de
	}
	return errors.New("request failed")
}

// Serve accepts proxy connections on ln until ctx is done, then shuts down.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          p.log,
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	defer close(done)
	// The logger's prefix plus this text is ReadyLine.
	p.log.Printf("listening on %s (allowing %s)", ln.Addr(), p.allow)
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe is the egress-proxy command: listen on addr (host:port, or
// unix:PATH) and serve the allowlist until ctx is done, logging to logw.
func ListenAndServe(ctx context.Context, addr string, allow []string, logw io.Writer, opts ...Option) error {
	p, err := New(allow, append([]Option{WithLog(logw)}, opts...)...)
	if err != nil {
		return err
	}
	ln, err := listen(addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return p.Serve(ctx, ln)
}
