package policies

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// NetworkPublic is the network mode in which a server may reach any host on
// the public internet (through the egress gateway), but never loopback,
// private, link-local, shared, multicast or otherwise non-global addresses,
// the engine's networks or the host.
const NetworkPublic = "public"

// TCPScheme starts a network.allow entry (and a floor network.hosts
// pattern) that opens one TCP host:port at L4 instead of HTTP(S).
const TCPScheme = "tcp://"

// networkModes are every mode, in the order errors list them.
var networkModes = []string{NetworkNone, NetworkAllowlist, NetworkPublic, NetworkBridge}

func knownMode(m string) bool { return slices.Contains(networkModes, m) }

// modesText is networkModes for error messages.
func modesText() string { return strings.Join(networkModes, ", ") }

// splitEntry splits a network.allow entry into its TCP flag and host:port.
func splitEntry(e string) (tcp bool, hostport string) {
	if hp, ok := strings.CutPrefix(e, TCPScheme); ok {
		return true, hp
	}
	return false, e
}

// checkEntry validates one network.allow entry: host:port or
// tcp://host:port, a port from 1 to 65535, a host that is a DNS name or an
// IP address (a leading "*." only for HTTP(S) entries: an L4 entry is
// exactly one destination).
func checkEntry(e string) error {
	tcp, hp := splitEntry(e)
	host, port, err := net.SplitHostPort(hp)
	p, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		if tcp {
			return fmt.Errorf("%q must be tcp://host:port with a port from 1 to 65535", e)
		}
		return fmt.Errorf("%q must be host:port (or tcp://host:port for a TCP service)", e)
	}
	name := strings.TrimPrefix(host, "*.")
	if tcp && name != host {
		return fmt.Errorf("%q: a tcp:// entry names exactly one host; wildcards are for HTTP(S) entries", e)
	}
	if strings.ContainsAny(name, "*/@ ") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("%q: %q is not a host name or IP address", e, host)
	}
	return nil
}

// HTTPEntries are the label's HTTP(S) host:port entries (everything but
// tcp:// entries).
func HTTPEntries(allow []string) []string {
	var out []string
	for _, e := range allow {
		if tcp, hp := splitEntry(e); !tcp {
			out = append(out, hp)
		}
	}
	return out
}

// TCPEntries are the host:port of the label's tcp:// entries, in order
// (the relay numbers its listeners by this order).
func TCPEntries(allow []string) []string {
	var out []string
	for _, e := range allow {
		if tcp, hp := splitEntry(e); tcp {
			out = append(out, hp)
		}
	}
	return out
}

// ProxyRuntime names the runtime whose proxy settings a server needs:
// "node", "python", "java", or "" when none is recognised. It looks at the
// program the image runs, then at the runtime's usual variables.
func ProxyRuntime(entrypoint, cmd, env []string) string {
	prog := Program(entrypoint, cmd)
	switch {
	case prog == "java":
		return "java"
	case prog != "":
		if r, why := DefaultBases().Detect(entrypoint, cmd, nil); r != nil && strings.HasPrefix(why, "entrypoint") {
			return runtimeName(r.Name)
		}
	}
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		if k == "JAVA_HOME" || k == "JAVA_VERSION" {
			return "java"
		}
	}
	if r, why := DefaultBases().Detect(nil, nil, env); r != nil && strings.HasPrefix(why, "config") {
		return runtimeName(r.Name)
	}
	return ""
}

func runtimeName(n string) string {
	if n == "node" || n == "python" {
		return n
	}
	return ""
}

// RuntimeProxyEnv is what runtime (see ProxyRuntime) needs on top of the
// usual proxy variables to send its requests through the proxy at
// host:port: Node's fetch (undici) reads HTTP(S)_PROXY only with
// NODE_USE_ENV_PROXY=1 (Node 24 and later; older Node reaches its hosts
// through the transparent gateway instead), and Java reads system
// properties, not variables. imageEnv keeps an image's own
// JAVA_TOOL_OPTIONS in front of drydock's.
func RuntimeProxyEnv(runtime, host string, port int, imageEnv []string) []string {
	switch runtime {
	case "node":
		return []string{"NODE_USE_ENV_PROXY=1"}
	case "java":
		props := fmt.Sprintf("-Dhttp.proxyHost=%[1]s -Dhttp.proxyPort=%[2]d -Dhttps.proxyHost=%[1]s -Dhttps.proxyPort=%[2]d -Dhttp.nonProxyHosts=localhost|127.0.0.1", host, port)
		for _, e := range imageEnv {
			if v, ok := strings.CutPrefix(e, "JAVA_TOOL_OPTIONS="); ok && strings.TrimSpace(v) != "" {
				props = strings.TrimSpace(v) + " " + props
			}
		}
		return []string{"JAVA_TOOL_OPTIONS=" + props}
	}
	return nil
}
