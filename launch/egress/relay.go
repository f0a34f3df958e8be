package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
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

// UnixCommand is the proxy container's argument list when it serves the
// relay through SocketPath instead of a TCP port: the allowlist, and the
// exact non-global addresses it may reach (see WithAllowedAddresses).
func UnixCommand(allow, addresses []string) []string {
	c := []string{"egress-proxy", "--listen", "unix:" + SocketPath}
	for _, a := range allow {
		c = append(c, "--allow", a)
	}
	for _, a := range addresses {
		c = append(c, "--allow-address", a)
	}
	return c
}

// RelayCommand is the relay container's argument list.
func RelayCommand() []string {
	return []string{"egress-proxy", "--listen", RelayListen, "--relay-to", SocketPath}
}

// listen opens a TCP address, or a Unix socket for "unix:PATH".
func listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

// Relay accepts TCP connections on addr and copies each, byte for byte, to
// a new connection to the Unix socket at to. It knows nothing about HTTP:
// the proxy behind the socket decides what is allowed. It runs with no
// network, and the server shares its namespace: the server then has no
// route anywhere (not even to the host, which an internal bridge's gateway
// is), and a Unix socket on a shared volume needs no bridge or firewall
// rule to reach the proxy.
func Relay(ctx context.Context, addr, to string, logw io.Writer) error {
	lg := log.New(logw, "drydock egress-proxy: ", 0)
	ln, err := listen(addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return serveRelay(ctx, ln, to, lg)
}

// serveRelay relays the connections of ln until ctx is done.
func serveRelay(ctx context.Context, ln net.Listener, to string, lg *log.Logger) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	// The logger's prefix plus this text is ReadyLine.
	lg.Printf("listening on %s (relaying to %s)", ln.Addr(), to)
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
			splice(c, c, up)
		}()
	}
}
