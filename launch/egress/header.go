package egress

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener kinds: what a relay listener receives, announced to the gateway
// in the header the relay writes before any byte of the server's. The
// server never writes the header (it has no way to the gateway's socket
// but through the relay), so it cannot choose a destination the relay did
// not mean: a TCP connection carries the index of the one entry whose
// listener it came to, a TLS one only its SNI for port 443.
const (
	KindProxy = "proxy" // HTTP proxy requests (CONNECT, absolute-form)
	KindTLS   = "tls"   // transparent TLS on 443: forwarded by SNI
	KindHTTP  = "http"  // transparent HTTP on 80: forwarded by Host
	KindTCP   = "tcp"   // one tcp:// entry, forwarded at L4
)

// headerMagic starts every header line, so a stray client of the socket
// that is not a relay is turned away at once.
const headerMagic = "DRYDOCK-EGRESS/1"

// maxHeader bounds the header line.
const maxHeader = 64

// header is what a relay listener says about its connection.
type header struct {
	kind  string
	index int // the tcp:// entry, for KindTCP
}

func (h header) String() string {
	if h.kind == KindTCP {
		return fmt.Sprintf("%s %s %d\n", headerMagic, h.kind, h.index)
	}
	return fmt.Sprintf("%s %s\n", headerMagic, h.kind)
}

var errHeader = errors.New("not a drydock relay header")

// readHeader reads one header line from r.
func readHeader(r *bufio.Reader) (header, error) {
	var line []byte
	for len(line) <= maxHeader {
		b, err := r.ReadByte()
		if err != nil {
			return header{}, err
		}
		if b == '\n' {
			return parseHeader(string(line))
		}
		line = append(line, b)
	}
	return header{}, errHeader
}

func parseHeader(line string) (header, error) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != headerMagic {
		return header{}, errHeader
	}
	switch {
	case len(f) == 2 && (f[1] == KindProxy || f[1] == KindTLS || f[1] == KindHTTP):
		return header{kind: f[1]}, nil
	case len(f) == 3 && f[1] == KindTCP:
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 0 || f[2] != strconv.Itoa(n) {
			return header{}, errHeader
		}
		return header{kind: KindTCP, index: n}, nil
	}
	return header{}, errHeader
}

// bufConn is a connection whose first bytes were read into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
