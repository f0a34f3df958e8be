package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// special are the address blocks that are not globally reachable (IANA's
// IPv4 and IPv6 special-purpose registries, plus the blocks that embed an
// IPv4 address): what an allowed name resolving there would open is the
// machine itself, its link (169.254.169.254, the cloud metadata service),
// private networks, or the engine's bridges.
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "unspecified or IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// nonGlobal names the kind of a not globally reachable address, or returns
// "" for a global one. An IPv4-mapped IPv6 address is judged as the IPv4
// address it carries.
func nonGlobal(a netip.Addr) string {
	a = a.Unmap()
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.what
		}
	}
	if !a.IsGlobalUnicast() {
		return "not unicast"
	}
	return ""
}

// addressList is the floor's exact addresses: IP:port, or IP:* for every
// port. Only these may be reached at a non-global address.
type addressList map[netip.Addr][]string

func parseAddresses(list []string) (addressList, error) {
	out := addressList{}
	for _, e := range list {
		host, port, err := net.SplitHostPort(e)
		if err != nil {
			return nil, fmt.Errorf("allowed address %q: write IP:PORT or IP:*", e)
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("allowed address %q: %q is not an IP address", e, host)
		}
		if n, err := strconv.Atoi(port); port != "*" && (err != nil || n < 1 || n > 65535) {
			return nil, fmt.Errorf("allowed address %q: the port must be * or a number from 1 to 65535", e)
		}
		out[a.Unmap()] = append(out[a.Unmap()], port)
	}
	return out, nil
}

// lists reports whether the exact address a (on port) is listed.
func (l addressList) lists(a netip.AddrPort) bool {
	for _, p := range l[a.Addr().Unmap()] {
		if p == "*" || p == strconv.Itoa(int(a.Port())) {
			return true
		}
	}
	return false
}

// parsePrefixes parses CIDR prefixes (a bare address is its /32 or /128).
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, e := range list {
		if a, err := netip.ParseAddr(e); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("address prefix %q: write an IP address or CIDR such as 172.17.0.0/16", e)
		}
		out = append(out, pf.Masked())
	}
	return out, nil
}

// resolverAt is a resolver that asks only the DNS server at addr.
func resolverAt(addr string, timeout time.Duration) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		return d.DialContext(ctx, network, addr)
	}}
}
