package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// headerTimeout bounds reading a relay's header and a TLS ClientHello.
const headerTimeout = 10 * time.Second

// ServeRelayed is the gateway behind a relay (see Relay): every connection
// on ln starts with the relay's header saying which listener it came to.
// Proxy connections are served as by Serve; transparent TLS is forwarded
// to its SNI on port 443, transparent HTTP to its Host on port 80, each
// checked like a CONNECT or an absolute-form request; a TCP connection
// goes to exactly its tcp:// entry. Every refusal is one log line.
func (p *Proxy) ServeRelayed(ctx context.Context, ln net.Listener) error {
	proxyLn, httpLn := newChanListener(ln.Addr()), newChanListener(ln.Addr())
	servers := []*http.Server{
		{Handler: p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: p.log},
		{Handler: http.HandlerFunc(p.transparentHTTP), ReadHeaderTimeout: 30 * time.Second, ErrorLog: p.log},
	}
	var wg sync.WaitGroup
	for i, l := range []*chanListener{proxyLn, httpLn} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = servers[i].Serve(l) }()
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
		wg.Wait()
	}()
	// The logger's prefix plus this text is ReadyLine.
	p.log.Printf("listening on %s (%s)", ln.Addr(), p.describe())
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting on %s: %w", ln.Addr(), err)
		}
		go p.dispatch(ctx, c, proxyLn, httpLn)
	}
}

// describe is the start-up line's summary of what is allowed.
func (p *Proxy) describe() string {
	s := "allowing " + p.allow.String()
	if p.public {
		s = "allowing any public host"
	}
	for _, t := range p.tcp {
		s += " tcp://" + t
	}
	return s
}

func (p *Proxy) dispatch(ctx context.Context, c net.Conn, proxyLn, httpLn *chanListener) {
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	br := bufio.NewReader(c)
	h, err := readHeader(br)
	if err != nil {
		p.log.Printf("closing a connection without a relay header: %v", err)
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	bc := &bufConn{Conn: c, r: br}
	switch h.kind {
	case KindProxy:
		proxyLn.push(bc)
	case KindHTTP:
		httpLn.push(bc)
	case KindTLS:
		p.forwardTLS(ctx, bc)
	case KindTCP:
		p.forwardTCP(ctx, bc, h.index)
	}
}

// refuse logs a refusal of a transparent connection and closes it.
func (p *Proxy) refuse(c net.Conn, kind, dest string, err error) {
	var ref *refusal
	if errors.As(err, &ref) {
		p.log.Printf("denied %s %s", kind, ref)
	} else {
		p.log.Printf("%s %s failed: %v", kind, dest, redact(err))
	}
	c.Close()
}

// forwardTLS reads the ClientHello, checks SNI:443 like a CONNECT and
// replays the hello to the destination. The TLS session itself is between
// the server and the destination: the gateway never terminates it.
func (p *Proxy) forwardTLS(ctx context.Context, c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	sni, hello, err := readClientHello(c)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil || sni == "" {
		p.refuse(c, KindTLS, "-", &refusal{"-", "-", "no TLS ClientHello with a server name (SNI)"})
		return
	}
	dest := net.JoinHostPort(sni, "443")
	p.forward(ctx, c, KindTLS, dest, hello, func() ([]netip.AddrPort, error) { return p.target(ctx, dest) })
}

// forwardTCP connects c to tcp:// entry i.
func (p *Proxy) forwardTCP(ctx context.Context, c net.Conn, i int) {
	if i >= len(p.tcp) {
		p.refuse(c, KindTCP, "-", &refusal{fmt.Sprintf("entry %d", i), "-", "no such tcp:// entry"})
		return
	}
	dest := p.tcp[i]
	p.forward(ctx, c, KindTCP, dest, nil, func() ([]netip.AddrPort, error) { return p.checkAddrs(ctx, dest, true) })
}

// forward checks, dials, writes first and splices.
func (p *Proxy) forward(ctx context.Context, c net.Conn, kind, dest string, first []byte, check func() ([]netip.AddrPort, error)) {
	addrs, err := check()
	if err != nil {
		p.refuse(c, kind, dest, err)
		return
	}
	up, err := p.dialAddrs(ctx, addrs)
	if err != nil {
		p.refuse(c, kind, dest, err)
		return
	}
	if _, err := up.Write(first); err != nil {
		up.Close()
		c.Close()
		return
	}
	splice(c, c, up)
}

// transparentHTTP forwards an origin-form request that came to the relay's
// port 80 to its Host, checked per request like an absolute-form one (a
// later request on the same connection cannot switch hosts unchecked).
func (p *Proxy) transparentHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect || r.Host == "" {
		p.fail(w, KindHTTP, "-", &refusal{"-", "-", "no Host header"})
		return
	}
	dest := hostport(r.Host, "80")
	if _, port, _ := net.SplitHostPort(dest); port != "80" {
		p.fail(w, KindHTTP, dest, &refusal{dest, "-", "the connection came to port 80 but the Host header names port " + port})
		return
	}
	addrs, err := p.target(r.Context(), dest)
	if err != nil {
		p.fail(w, KindHTTP, dest, err)
		return
	}
	out := r.Clone(context.WithValue(r.Context(), checkedKey{}, checked{dest, addrs}))
	out.URL.Scheme, out.URL.Host = "http", dest
	p.forwarder.ServeHTTP(w, out)
}

// readClientHello reads one TLS ClientHello from c and returns its server
// name and the bytes read, to be replayed to the destination. crypto/tls
// parses the hello (no hand-written parser); the handshake is abandoned as
// soon as the hello is seen, and nothing is written back to c.
func readClientHello(c net.Conn) (string, []byte, error) {
	rec := &recordConn{r: io.LimitReader(c, 16<<10)}
	var sni string
	seen := errors.New("hello read")
	err := tls.Server(rec, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni = h.ServerName
		return nil, seen
	}}).Handshake()
	if !errors.Is(err, seen) {
		return "", nil, fmt.Errorf("reading the TLS ClientHello: %w", err)
	}
	return sni, rec.buf.Bytes(), nil
}

// recordConn is a net.Conn that records what is read and discards writes.
type recordConn struct {
	net.Conn
	r   io.Reader
	buf bytes.Buffer
}

func (c *recordConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.buf.Write(b[:n])
	return n, err
}
func (c *recordConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *recordConn) Close() error                     { return nil }
func (c *recordConn) SetDeadline(time.Time) error      { return nil }
func (c *recordConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }
func (c *recordConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *recordConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// chanListener hands connections the dispatcher accepted to an http.Server.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newChanListener(a net.Addr) *chanListener {
	return &chanListener{addr: a, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// ListenAndServeRelayed is the gateway command: listen on addr (unix:PATH)
// and serve relayed connections (see ServeRelayed) until ctx is done.
func ListenAndServeRelayed(ctx context.Context, addr string, allow []string, logw io.Writer, opts ...Option) error {
	p, err := New(allow, append([]Option{WithLog(logw)}, opts...)...)
	if err != nil {
		return err
	}
	ln, err := listen(addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return p.ServeRelayed(ctx, ln)
}
