package egress

import (
	"context"
	"errors"
	"log"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// Names is what the relay's DNS responder answers: each allowed name with
// the loopback address its listeners wait on, every other name with
// NXDOMAIN (or, in public mode, the relay's address too: the gateway
// judges the real address of every name when it connects).
type Names struct {
	exact    map[string]netip.Addr // name → address (tcp:// entries, HTTP(S) hosts)
	suffixes []string              // ".example.com" of "*.example.com" entries
	public   bool
}

// NewNames builds the answers for the HTTP(S) entries allow (host:port),
// the tcp:// entries tcp (entry i at TCPAddr(i)) and public mode.
func NewNames(allow, tcp []string, public bool) *Names {
	n := &Names{exact: map[string]netip.Addr{}, public: public}
	for _, hp := range allow {
		host, _, _ := net.SplitHostPort(hp)
		host = normalizeHost(host)
		if s, ok := strings.CutPrefix(host, "*"); ok {
			n.suffixes = append(n.suffixes, s)
		} else if _, err := netip.ParseAddr(host); err != nil {
			n.exact[host] = RelayAddr
		}
	}
	// A tcp:// entry's name answers with its own address, where its port
	// and also 80 and 443 are relayed.
	for i, hp := range tcp {
		host, _, _ := net.SplitHostPort(hp)
		if _, err := netip.ParseAddr(host); err != nil {
			n.exact[normalizeHost(host)] = TCPAddr(i)
		}
	}
	return n
}

// Lookup returns the address to answer name with.
func (n *Names) Lookup(name string) (netip.Addr, bool) {
	name = normalizeHost(name)
	if a, ok := n.exact[name]; ok {
		return a, true
	}
	for _, s := range n.suffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return RelayAddr, true
		}
	}
	if n.public && name != "" {
		return RelayAddr, true
	}
	return netip.Addr{}, false
}

// serveDNS answers queries on pc until ctx is done. A refused name is one
// log line. AAAA and other types of an allowed name get an empty answer,
// so clients use the A record.
func serveDNS(ctx context.Context, pc net.PacketConn, names *Names, lg *log.Logger) error {
	go func() {
		<-ctx.Done()
		pc.Close()
	}()
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if resp, ok := answer(buf[:n], names, lg); ok {
			_, _ = pc.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query message, or false to drop it.
func answer(msg []byte, names *Names, lg *log.Logger) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	name := strings.TrimSuffix(q.Name.String(), ".")
	addr, ok := names.Lookup(name)
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
		lg.Printf("denied dns %s [-]: not in this server's network allowlist", name)
	}
	if h.OpCode != 0 {
		rh.RCode = dnsmessage.RCodeNotImplemented
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	// The builder fails only when misused; any error drops the query.
	errs := []error{b.StartQuestions(), b.Question(q), b.StartAnswers()}
	if ok && rh.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
		errs = append(errs, b.AResource(rr, dnsmessage.AResource{A: addr.As4()}))
	}
	out, err := b.Finish()
	return out, errors.Join(append(errs, err)...) == nil
}
