// Package egress is drydock's egress proxy: the only way out for a server in
// network mode allowlist, which itself has only loopback (see Relay). It
// lets through HTTP CONNECT tunnels and plain absolute-form HTTP requests to
// exactly the policy's host:port list, at globally reachable addresses or
// ones the floor lists exactly, and answers everything else with 403.
//
// The proxy runs in a container assembled from the running drydock binary
// itself (see Image), so no third-party proxy image is ever pulled.
package egress

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Allowlist is the set of host:port destinations the proxy lets through. A
// host starting with "*." matches any subdomain (not the domain itself),
// the same rule as the floor's network.hosts.
type Allowlist struct {
	entries []entry
}

type entry struct {
	host string // lower case, no trailing dot; "*.x" for a wildcard
	port string
}

// ParseAllowlist parses host:port entries. Ports must be numeric: a proxy
// that lets a server choose any port of a host is not an allowlist.
func ParseAllowlist(allow []string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, hp := range allow {
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" {
			return nil, fmt.Errorf("allowlist entry %q: write host:port", hp)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("allowlist entry %q: the port must be a number from 1 to 65535", hp)
		}
		host = normalizeHost(host)
		if strings.Contains(strings.TrimPrefix(host, "*."), "*") {
			return nil, fmt.Errorf("allowlist entry %q: a wildcard may only be a leading *.", hp)
		}
		a.entries = append(a.entries, entry{host: host, port: port})
	}
	if len(a.entries) == 0 {
		return nil, fmt.Errorf("the allowlist is empty: give at least one host:port")
	}
	return a, nil
}

// Allows reports whether the proxy may connect to hostport.
func (a *Allowlist) Allows(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return false
	}
	host = normalizeHost(host)
	for _, e := range a.entries {
		if e.port != port {
			continue
		}
		if e.host == host {
			return true
		}
		if suffix, ok := strings.CutPrefix(e.host, "*"); ok && strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			return true
		}
	}
	return false
}

// String lists the entries, for the proxy's start-up line.
func (a *Allowlist) String() string {
	s := make([]string, len(a.entries))
	for i, e := range a.entries {
		s[i] = net.JoinHostPort(e.host, e.port)
	}
	return strings.Join(s, " ")
}

func normalizeHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }
