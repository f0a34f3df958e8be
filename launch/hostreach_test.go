package launch

import (
	"context"
	"encoding/binary"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"
)

// hostServices are what a sandboxed server must not reach on the machine
// that runs it: a TCP listener on every host address, and a DNS server on
// every host address that alone knows the name hostOnly.
type hostServices struct {
	tcpPort, dnsPort string
	hostOnly         string
	accepted         atomic.Int32 // TCP connections that reached the listener
	queried          atomic.Int32 // DNS queries that reached the server
}

func startHostServices(t *testing.T, id string) *hostServices {
	t.Helper()
	h := &hostServices{hostOnly: "host-only-" + id + ".drydock.test"}
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			c.Close()
		}
	}()
	pc, err := net.ListenPacket("udp4", "0.0.0.0:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			h.queried.Add(1)
			if reply := dnsAnswer(buf[:n], h.hostOnly, [4]byte{192, 0, 2, 77}); reply != nil {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	}()
	_, h.tcpPort, _ = net.SplitHostPort(ln.Addr().String())
	_, h.dnsPort, _ = net.SplitHostPort(pc.LocalAddr().String())
	return h
}

// dnsAnswer answers an A query for name with addr and any other query with
// NXDOMAIN; it returns nil for what is not a one-question query. Just
// enough DNS for Go's resolver in the probe.
func dnsAnswer(q []byte, name string, addr [4]byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	r := append([]byte{}, q[0:2]...)
	found := strings.EqualFold(strings.Join(labels, "."), name)
	switch {
	case found && qtype == 1:
		r = append(r, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0)
		r = append(r, question...)
		r = append(r, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		r = append(r, addr[:]...)
	case found: // no AAAA record
		r = append(r, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0)
		r = append(r, question...)
	default:
		r = append(r, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0)
		r = append(r, question...)
	}
	return r
}

// TestDNSAnswer checks the test's own DNS server with Go's resolver on
// loopback, so that "no answer from inside" means isolation, not a broken
// server.
func TestDNSAnswer(t *testing.T) {
	h := startHostServices(t, "selftest")
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", "127.0.0.1:"+h.dnsPort)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, h.hostOnly)
	require.NoError(t, err)
	require.Equal(t, []string{"192.0.2.77"}, addrs)
	_, err = r.LookupHost(ctx, "other.drydock.test")
	require.Error(t, err)
}

// hostAddrs are the addresses the machine answers on, as a container might
// see them: every IPv4 address of its interfaces (the engine's bridges
// included) and the gateways a container was given.
func hostAddrs(t *testing.T, gateways ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, g := range gateways {
		add(g)
	}
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		addrs, err := ifc.Addrs()
		require.NoError(t, err)
		for _, a := range addrs {
			if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil {
				add(ip.IP.String())
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// hostResolvable is a name the host's own resolver answers: the Go module
// proxy's, which building these tests needs anyway.
func hostResolvable(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	require.NoError(t, err)
	name := "proxy.golang.org"
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), ",")
	if h, ok := strings.CutPrefix(first, "https://"); ok {
		name, _, _ = strings.Cut(h, "/")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = net.DefaultResolver.LookupHost(ctx, name)
	require.NoError(t, err, "the host must resolve %s for the test to show that a server cannot", name)
	return name
}

// serverGateways are the gateways of the networks a server container is on.
func serverGateways(t *testing.T, d *client.Client, id string) []string {
	t.Helper()
	info, err := d.ContainerInspect(context.Background(), id)
	require.NoError(t, err)
	var gws []string
	if info.NetworkSettings != nil {
		for _, n := range info.NetworkSettings.Networks {
			gws = append(gws, n.Gateway)
		}
	}
	return gws
}
