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
	log       *log.Logger
	dialer    net.Dialer
	forwarder *httputil.ReverseProxy
}

// New returns a proxy for the host:port entries in allow.
func New(allow []string, opts ...Option) (*Proxy, error) {
	o := &options{log: io.Discard, dialTimeout: 10 * time.Second}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	a, err := ParseAllowlist(allow)
	if err != nil {
		return nil, err
	}
	p := &Proxy{allow: a, log: log.New(o.log, "drydock egress-proxy: ", 0), dialer: net.Dialer{Timeout: o.dialTimeout}}
	p.forwarder = &httputil.ReverseProxy{
		// The request is already absolute-form: forward it as it is. Rewrite
		// (not Director) drops hop-by-hop headers such as Proxy-Authorization
		// and adds no X-Forwarded-* headers that would leak the server's address.
		Rewrite: func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.In.Host },
		Transport: &http.Transport{
			Proxy: nil, // never chain to another proxy from the environment
			// The dial checks the allowlist again, so no code path (a redirect,
			// a reused request) can reach a destination the handler did not check.
			DialContext:           p.dial,
			ForceAttemptHTTP2:     false,
			ResponseHeaderTimeout: time.Minute,
			MaxIdleConnsPerHost:   4,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.log.Printf("forwarding %s %s failed: %v", r.Method, hostport(r.URL.Host, "80"), redact(err))
			http.Error(w, "drydock egress proxy: the destination did not answer", http.StatusBadGateway)
		},
	}
	return p, nil
}

func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if !p.allow.Allows(addr) {
		return nil, fmt.Errorf("%s is not in the network allowlist", addr)
	}
	return p.dialer.DialContext(ctx, network, addr)
}

// ServeHTTP handles CONNECT host:port and absolute-form http:// requests.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host != "":
		dest := hostport(r.URL.Host, "80")
		if !p.allow.Allows(dest) {
			p.deny(w, r, dest)
			return
		}
		p.forwarder.ServeHTTP(w, r)
	default:
		// Origin-form requests, https:// without CONNECT, other schemes.
		p.deny(w, r, "")
	}
}

// deny answers 403 and logs the method, destination and client: never the
// path, query or headers, which may carry tokens.
func (p *Proxy) deny(w http.ResponseWriter, r *http.Request, dest string) {
	if dest == "" {
		p.log.Printf("denied %s request that is neither CONNECT nor absolute-form http:// (from %s)", r.Method, r.RemoteAddr)
	} else {
		p.log.Printf("denied %s %s (not in the network allowlist; from %s)", r.Method, dest, r.RemoteAddr)
	}
	http.Error(w, "drydock egress proxy: destination not in this server's network allowlist", http.StatusForbidden)
}

func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	dest := r.Host
	if _, port, err := net.SplitHostPort(dest); err != nil || port == "" {
		p.deny(w, r, "")
		return
	}
	if !p.allow.Allows(dest) {
		p.deny(w, r, dest)
		return
	}
	up, err := p.dial(r.Context(), "tcp", dest)
	if err != nil {
		p.log.Printf("CONNECT %s failed: %v", dest, redact(err))
		http.Error(w, "drydock egress proxy: the destination did not answer", http.StatusBadGateway)
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
func ListenAndServe(ctx context.Context, addr string, allow []string, logw io.Writer) error {
	p, err := New(allow, WithLog(logw))
	if err != nil {
		return err
	}
	ln, err := listen(addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return p.Serve(ctx, ln)
}
