package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"strings"
	"time"
)

// SocketDir is where the proxy's Unix socket sits in both containers of the
// relayed setup (a per-run volume mounted read-write in the proxy and
// read-only in the relay).
const SocketDir = "/run/drydock-egress"

// SocketPath is the proxy's Unix socket in the relayed setup.
const SocketPath = SocketDir + "/proxy.sock"

// RelayListen is where the relay accepts the server's proxy connections: the
// loopback of the network namespace the server shares with it.
var RelayListen = fmt.Sprintf("127.0.0.1:%d", Port)

// RelayAddr is the loopback address the relay's DNS gives allowed HTTP(S)
// names (and every name in public mode); its ports 80 and 443 are the
// transparent listeners, 3128 the proxy.
var RelayAddr = netip.MustParseAddr("127.0.0.1")

// DNSListen is the relay's DNS responder: the nameserver of the server's
// resolv.conf.
const DNSListen = "127.0.0.1:53"

// maxTCP bounds the tcp:// entries one relay serves (one loopback address each).
const maxTCP = 250

// TCPAddr is the loopback address of tcp:// entry i: its own address, so
// two entries on one port stay apart and a name that is both an HTTP(S)
// host and a TCP service reaches the right listener.
func TCPAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 1, byte(i / maxTCP), byte(i%maxTCP + 1)})
}

// Plan is what one run's gateway and relay serve.
type Plan struct {
	Allow     []string // HTTP(S) host:port entries
	TCP       []string // host:port of tcp:// entries
	Public    bool     // network mode public
	Addresses []string // the floor's exact non-global addresses (IP:PORT, IP:*)
	Deny      []string // prefixes never reached: the engine's networks, the host
	Resolver  string   // DNS server host:port for the gateway's lookups, "" for the system's
	// TestPublic are prefixes the gateway counts as public (tests only).
	TestPublic []string
}

// GatewayCommand is the gateway container's argument list: it serves the
// relay through SocketPath.
func GatewayCommand(pl Plan) []string {
	c := []string{"egress-proxy", "--listen", "unix:" + SocketPath, "--relayed"}
	c = appendFlags(c, "--allow", pl.Allow)
	c = appendFlags(c, "--tcp", pl.TCP)
	if pl.Public {
		c = append(c, "--public")
	}
	c = appendFlags(c, "--allow-address", pl.Addresses)
	c = appendFlags(c, "--deny", pl.Deny)
	if pl.Resolver != "" {
		c = append(c, "--resolver", pl.Resolver)
	}
	return appendFlags(c, "--test-public", pl.TestPublic)
}

// RelayCommand is the relay container's argument list: the names its DNS
// answers (HTTP(S) hosts, tcp:// entries, public mode) and the socket.
func RelayCommand(pl Plan) []string {
	c := []string{"egress-proxy", "--listen", RelayListen, "--relay-to", SocketPath}
	c = appendFlags(c, "--allow", pl.Allow)
	c = appendFlags(c, "--tcp", pl.TCP)
	if pl.Public {
		c = append(c, "--public")
	}
	return c
}

func appendFlags(c []string, flag string, vals []string) []string {
	for _, v := range vals {
		c = append(c, flag, v)
	}
	return c
}

// RelayListener is one listener of the relay and what it tells the gateway.
type RelayListener struct {
	Addr string
	hdr  header
}

// NewRelayListener is a listener on addr of kind (KindProxy, KindTLS,
// KindHTTP, or KindTCP for tcp:// entry index), for callers that choose
// their own addresses (benchmarks).
func NewRelayListener(addr, kind string, index int) RelayListener {
	return RelayListener{Addr: addr, hdr: header{kind: kind, index: index}}
}

// Kind is the listener's kind and, for a tcp:// entry, its number.
func (l RelayListener) Kind() string {
	return strings.TrimSuffix(strings.TrimPrefix(l.hdr.String(), headerMagic+" "), "\n")
}

// RelayListeners are the relay's TCP listeners for the tcp:// entries tcp:
// the proxy on RelayListen, transparent HTTP and TLS on ports 80 and 443 of
// RelayAddr and of every entry's address (unless the entry itself uses
// that port there), and entry i on its port at TCPAddr(i).
func RelayListeners(tcp []string) ([]RelayListener, error) {
	if len(tcp) > maxTCP*200 {
		return nil, fmt.Errorf("%d tcp:// entries are more than one relay serves", len(tcp))
	}
	out := []RelayListener{{RelayListen, header{kind: KindProxy}}}
	web := func(a netip.Addr, skip string) {
		for _, w := range []struct{ port, kind string }{{"80", KindHTTP}, {"443", KindTLS}} {
			if w.port != skip {
				out = append(out, RelayListener{net.JoinHostPort(a.String(), w.port), header{kind: w.kind}})
			}
		}
	}
	web(RelayAddr, "")
	for i, hp := range tcp {
		_, port, err := net.SplitHostPort(hp)
		if err != nil {
			return nil, fmt.Errorf("tcp entry %q: write host:port", hp)
		}
		out = append(out, RelayListener{net.JoinHostPort(TCPAddr(i).String(), port), header{kind: KindTCP, index: i}})
		web(TCPAddr(i), port)
	}
	return out, nil
}

// listen opens a TCP address, or a Unix socket for "unix:PATH".
func listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

// RelayConfig is what one relay serves.
type RelayConfig struct {
	To        string          // the gateway's Unix socket
	Listeners []RelayListener // see RelayListeners
	DNS       string          // UDP address of the DNS responder, "" for none
	Names     *Names          // the DNS responder's answers
}

// Relay accepts TCP connections on its listeners and copies each to a new
// connection to the gateway's Unix socket, after a header naming the
// listener (see KindProxy). It knows nothing about HTTP: the gateway
// decides what is allowed. It runs with no network, and the server shares
// its namespace: the server then has no route anywhere (not even to the
// host, which an internal bridge's gateway is), and a Unix socket on a
// shared volume needs no bridge or firewall rule to reach the gateway. Its
// DNS responder gives allowed names loopback addresses, so clients that
// ignore the proxy variables still reach their hosts through it.
func Relay(ctx context.Context, cfg RelayConfig, logw io.Writer) error {
	lg := log.New(logw, "drydock egress-proxy: ", 0)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(cfg.Listeners)+1)
	var addrs []string
	for _, l := range cfg.Listeners {
		ln, err := listen(l.Addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", l.Addr, err)
		}
		addrs = append(addrs, l.Addr)
		go func() { errc <- serveListener(ctx, ln, cfg.To, l.hdr, lg) }()
	}
	if cfg.DNS != "" {
		pc, err := net.ListenPacket("udp", cfg.DNS)
		if err != nil {
			return fmt.Errorf("listening for DNS on %s: %w", cfg.DNS, err)
		}
		addrs = append(addrs, "dns "+cfg.DNS)
		go func() { errc <- serveDNS(ctx, pc, cfg.Names, lg) }()
	}
	// The logger's prefix plus this text is ReadyLine.
	lg.Printf("listening on %s (relaying to %s)", strings.Join(addrs, " "), cfg.To)
	n := len(addrs)
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// serveListener relays the connections of ln, each after header h, until
// ctx is done.
func serveListener(ctx context.Context, ln net.Listener, to string, h header, lg *log.Logger) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting on %s: %w", ln.Addr(), err)
		}
		go func() {
			up, err := d.DialContext(ctx, "unix", to)
			if err != nil {
				lg.Printf("relay: connecting to the proxy: %v", err)
				c.Close()
				return
			}
			if _, err := io.WriteString(up, h.String()); err != nil {
				lg.Printf("relay: writing to the proxy: %v", err)
				c.Close()
				up.Close()
				return
			}
			splice(c, c, up)
		}()
	}
}
