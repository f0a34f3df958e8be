package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/drydock-dev/drydock/policies"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LabelEgressFor marks the proxy and relay containers and the socket volume
// of a run (and the internal network of drydock before the relay layout)
// with the server container's name.
const LabelEgressFor = "dev.drydock.egress-for"

// Limits of the proxy container: it only copies bytes.
const (
	proxyMemory  = 64 << 20
	proxyPids    = 64
	proxyCPUs    = 500_000_000 // 0.5 CPU
	proxyReady   = 30 * time.Second
	cleanupGrace = 20 * time.Second
)

// egressRun is the per-run plumbing of network mode allowlist: an isolated
// place for the server and the proxy container that is its only way out.
//
// The server joins the network namespace of a relay container that has no
// network at all (loopback only); the relay copies connections from
// 127.0.0.1:3128 to the proxy's Unix socket on a per-run volume, and the
// proxy sits on the egress network. The same layout runs on every engine:
//   - An internal bridge (the earlier dockerd layout) still gives the server
//     a gateway address on the host, so it reaches whatever the host binds
//     on 0.0.0.0, and dockerd before 26.0 forwards DNS from internal
//     networks (CVE-2024-29018). A namespace with only loopback has no
//     route anywhere, so neither can happen.
//   - The proxy listens on nothing but the socket, so no other container on
//     the egress network can use it.
//   - Podman's netavark installs no firewall rules for internal networks,
//     so where the host's FORWARD policy drops (dockerd sets DROP and loads
//     br_netfilter) two containers on one internal bridge cannot talk at
//     all. No packet of the server's crosses a bridge here.
type egressRun struct {
	d        Docker
	volume   string // the volume holding the proxy's socket
	proxyID  string
	relayID  string // the relay whose namespace the server joins
	serverID string // set once the server container exists
	// serverNetwork is the server's NetworkMode and proxyURL the proxy
	// address it is given.
	serverNetwork, proxyURL string
	stderr                  io.Writer
}

// createEgress creates the relay, the proxy and their socket volume and
// checks that the engine applied every setting; it starts nothing (see
// startBoth). Independent engine calls overlap: the orphan sweep, the
// gateway image, the engine's networks and the volume; then both
// containers' create and inspect. On error everything it created is
// removed.
func createEgress(ctx context.Context, d Docker, v *Verified, o *options, server string, engine engineKind) (e *egressRun, err error) {
	// Best effort and only for runs older than orphanAge: it never touches
	// this run's containers, so it need not finish first.
	reaped := make(chan struct{})
	go func() { defer close(reaped); reapOrphans(ctx, d, o.stderr, orphanAge) }()
	defer func() { <-reaped }()
	e = &egressRun{d: d, stderr: o.stderr}
	defer func() {
		if err != nil {
			e.cleanup(context.WithoutCancel(ctx))
		}
	}()
	labels := map[string]string{LabelRun: "1", LabelEgressFor: server}
	vol := server + "-egress"
	var imageID string
	var deny []string
	var imgErr, volErr error
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); imageID, imgErr = gatewayImage(ctx, d, o) }()
	go func() { defer wg.Done(); deny = deniedPrefixes(ctx, d) }()
	go func() {
		defer wg.Done()
		if _, volErr = d.VolumeCreate(ctx, volume.CreateOptions{Name: vol, Labels: labels}); volErr == nil {
			e.volume = vol
		}
	}()
	wg.Wait()
	if imgErr != nil {
		return e, imgErr
	}
	if volErr != nil {
		return e, fmt.Errorf("creating the egress proxy's socket volume for %s: %w", v.Digest, volErr)
	}
	pl := egressPlan(v.Spec.Egress, o.floor)
	pl.Resolver, pl.TestPublic, pl.Deny = o.egressResolver, o.testPublic, deny
	return e, e.createRelayed(ctx, v, pl, imageID, o.egressNetwork, server, engine, labels)
}

// egressPlan is what the gateway and relay of a run serve, before the
// engine's networks and the host's addresses are added.
func egressPlan(eg *policies.Egress, floor *policies.Floor) egress.Plan {
	return egress.Plan{Allow: eg.Allow, TCP: eg.TCP, Public: eg.Public, Addresses: floorAddresses(floor)}
}

// deniedPrefixes are the engine's networks (subnets and gateways) and
// this host's own addresses: never a destination unless the floor lists
// the exact address, even where they are globally routable. Listing them
// is best effort: the non-global blocks are refused anyway.
func deniedPrefixes(ctx context.Context, d Docker) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if p, err := netip.ParsePrefix(s); err == nil {
			s = p.Masked().String()
		} else if a, err := netip.ParseAddr(s); err == nil {
			s = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		} else {
			return
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if nets, err := d.NetworkList(ctx, network.ListOptions{}); err == nil {
		for _, n := range nets {
			for _, c := range n.IPAM.Config {
				add(c.Subnet)
				add(c.Gateway)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				add(ipn.IP.String())
			}
		}
	}
	slices.Sort(out)
	return out
}

// runtimeProxyEnv is what the image's runtime needs on top of the proxy
// variables to use the proxy (NODE_USE_ENV_PROXY, JAVA_TOOL_OPTIONS); none
// outside allowlist and public mode.
func runtimeProxyEnv(s policies.ContainerSpec, cfg v1.Config) []string {
	if s.Egress == nil {
		return nil
	}
	rt := policies.ProxyRuntime(cfg.Entrypoint, cfg.Cmd, cfg.Env)
	return policies.RuntimeProxyEnv(rt, s.Egress.ProxyHost, s.Egress.ProxyPort, cfg.Env)
}

// relaySysctls let the relay, a non-root user, listen on 53, 80 and 443
// of its own network namespace (namespaced: nothing on the host changes).
var relaySysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}

// relayDNS is the relay's resolv.conf nameserver, which a container:
// namespace joiner shares (dockerd). Podman refuses DNS settings with
// network none and writes no resolv.conf there at all; resolvers then ask
// 127.0.0.1:53, the relay, as well.
func relayDNS(engine engineKind) []string {
	if engine == enginePodman {
		return nil
	}
	return []string{egress.RelayAddr.String()}
}

// createRelayed creates and checks the gateway on the egress network only
// and the relay on no network, whose namespace the server joins.
func (e *egressRun) createRelayed(ctx context.Context, v *Verified, pl egress.Plan, imageID, egressNet, server string, engine engineKind, labels map[string]string) error {
	proxy := proxySettings{
		image: imageID, mode: egressNet, cmd: egress.GatewayCommand(pl), engine: engine,
		nets: []string{egressNet}, mounts: []volumeMount{{name: e.volume, target: egress.SocketDir}},
	}
	relay := proxySettings{
		image: imageID, mode: "none", cmd: egress.RelayCommand(pl), engine: engine,
		mounts:  []volumeMount{{name: e.volume, target: egress.SocketDir, readOnly: true}},
		sysctls: relaySysctls, dns: relayDNS(engine),
	}
	ref := v.Digest.String()
	var proxyErr, relayErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		proxyErr = e.createOne(ctx, &e.proxyID, server+"-egress", "egress proxy", ref, proxy, labels)
	}()
	go func() {
		defer wg.Done()
		relayErr = e.createOne(ctx, &e.relayID, server+"-relay", "egress relay", ref, relay, labels)
	}()
	wg.Wait()
	if err := errors.Join(proxyErr, relayErr); err != nil {
		return err
	}
	e.serverNetwork = "container:" + e.relayID
	e.proxyURL = "http://" + egress.RelayListen
	return nil
}

// createOne creates the proxy or relay container for the image ref
// (setting *id as soon as it exists, for cleanup) and checks it.
func (e *egressRun) createOne(ctx context.Context, id *string, name, what, ref string, want proxySettings, labels map[string]string) error {
	created, err := e.d.ContainerCreate(ctx, want.config(labels), want.hostConfig(), nil, nil, name)
	if err != nil {
		return fmt.Errorf("creating the %s container for %s: %w", what, ref, err)
	}
	*id = created.ID
	if err := e.check(ctx, created.ID, what, want); err != nil {
		return fmt.Errorf("%w: %s: %w; not starting it", ErrRefused, ref, err)
	}
	return nil
}

// startBoth starts the gateway and the relay and waits for both ready lines
// at once: neither depends on the other to start (the relay dials the
// gateway's socket per connection, and nothing connects before the server
// runs, which is only after both are ready).
func (e *egressRun) startBoth(ctx context.Context, v *Verified) error {
	var proxyErr, relayErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); proxyErr = e.start(ctx, e.proxyID) }()
	go func() { defer wg.Done(); relayErr = e.start(ctx, e.relayID) }()
	wg.Wait()
	if proxyErr != nil {
		return fmt.Errorf("starting the egress proxy for %s: %w", v.Digest, proxyErr)
	}
	if relayErr != nil {
		return fmt.Errorf("starting the egress relay for %s: %w", v.Digest, relayErr)
	}
	return nil
}

// floorAddresses are the floor's network.hosts entries whose host is an IP
// address: the only loopback, private, link-local or otherwise non-global
// addresses the proxy may connect to. Only the floor (the machine owner's
// word) can list them; a label's allow entry must match the floor anyway.
func floorAddresses(f *policies.Floor) []string {
	var out []string
	if f == nil {
		return nil
	}
	for _, h := range f.Network.Hosts {
		if host, _, err := net.SplitHostPort(h); err == nil {
			if _, err := netip.ParseAddr(host); err == nil {
				out = append(out, h)
			}
		}
	}
	return out
}

// ensureProxyImage loads the proxy image built from the static drydock
// binary bin into the engine unless it is there already (keyed by the
// binary's digest).
func ensureProxyImage(ctx context.Context, d Docker, bin string) (string, error) {
	dg, err := egress.BinaryDigest(bin)
	if err != nil {
		return "", err
	}
	tag := egress.Tag(dg)
	if id, ok := loadedProxy(ctx, d, tag, dg); ok {
		return id, nil
	}
	img, err := egress.Image(bin)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(egress.WriteTarball(pw, tag, img)) }()
	resp, err := d.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("loading the egress proxy image into the container engine: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("loading the egress proxy image into the container engine: %w", err)
	}
	if i := strings.Index(string(body), `"error"`); i >= 0 {
		return "", fmt.Errorf("loading the egress proxy image into the container engine: %s", strings.TrimSpace(string(body[i:])))
	}
	id, ok := loadedProxy(ctx, d, tag, dg)
	if !ok {
		return "", fmt.Errorf("the container engine did not keep the egress proxy image %s after loading it", tag)
	}
	return id, nil
}

// loadedProxy finds the proxy image of binary digest dg under tag.
func loadedProxy(ctx context.Context, d Docker, tag, dg string) (string, bool) {
	info, err := d.ImageInspect(ctx, tag)
	if err != nil || info.Config == nil || info.Config.Labels[egress.BinaryLabel] != dg {
		return "", false
	}
	return info.ID, true
}

// proxySettings is what the proxy (or podman's relay) container must be
// created with.
type proxySettings struct {
	image string
	mode  string // NetworkMode
	cmd   []string
	// engine decides the engine-specific tmpfs mounts and spellings.
	engine engineKind
	// nets is the container's exact list of networks.
	nets   []string
	mounts []volumeMount
	// sysctls and dns are the relay's (see relaySysctls, relayDNS).
	sysctls map[string]string
	dns     []string
}

// volumeMount is a named volume in a proxy or relay container.
type volumeMount struct {
	name, target string
	readOnly     bool
}

func (p proxySettings) config(labels map[string]string) *container.Config {
	return &container.Config{
		Image: p.image, User: egress.User, Cmd: p.cmd, Labels: labels,
		AttachStdout: true, AttachStderr: true,
	}
}

func (p proxySettings) hostConfig() *container.HostConfig {
	pids := int64(proxyPids)
	var mounts []mount.Mount
	for _, m := range p.mounts {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: m.name, Target: m.target, ReadOnly: m.readOnly})
	}
	return &container.HostConfig{
		NetworkMode:    container.NetworkMode(p.mode),
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Resources:      container.Resources{Memory: proxyMemory, MemorySwap: proxyMemory, NanoCPUs: proxyCPUs, PidsLimit: &pids},
		Tmpfs:          engineTmpfs(nil, true, p.engine),
		Mounts:         mounts,
		Sysctls:        p.sysctls,
		DNS:            p.dns,
	}
}

// check inspects the proxy or relay container id.
func (e *egressRun) check(ctx context.Context, id, what string, want proxySettings) error {
	info, err := e.d.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("inspecting the %s container: %w", what, err)
	}
	if m := proxyMismatches(info, want); len(m) > 0 {
		return fmt.Errorf("the container engine did not apply the %s's settings (%s)", what, strings.Join(m, "; "))
	}
	return nil
}

// proxyMismatches compares the proxy (or relay) container with what
// drydock asked for.
func proxyMismatches(got container.InspectResponse, want proxySettings) []string {
	if got.ContainerJSONBase == nil || got.HostConfig == nil || got.Config == nil {
		return []string{"engine returned no configuration"}
	}
	var out []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			out = append(out, fmt.Sprintf("proxy %s is %v, drydock wants %v", field, g, w))
		}
	}
	hc, wc := got.HostConfig, want.hostConfig()
	check("image", got.Image == want.image, got.Image, want.image)
	check("user", got.Config.User == egress.User, got.Config.User, egress.User)
	check("command", slices.Equal(got.Config.Cmd, want.cmd), got.Config.Cmd, want.cmd)
	check("entrypoint", slices.Equal(got.Config.Entrypoint, []string{egress.BinaryPath}), got.Config.Entrypoint, egress.BinaryPath)
	check("ReadonlyRootfs", hc.ReadonlyRootfs, hc.ReadonlyRootfs, true)
	check("CapDrop", sameCapDrop(hc.CapDrop, wc.CapDrop), hc.CapDrop, wc.CapDrop)
	check("Tmpfs", sameTmpfs(hc.Tmpfs, wc.Tmpfs), hc.Tmpfs, wc.Tmpfs)
	check("CapAdd", len(hc.CapAdd) == 0, hc.CapAdd, "none")
	check("SecurityOpt", sameSet(hc.SecurityOpt, wc.SecurityOpt), hc.SecurityOpt, wc.SecurityOpt)
	check("Privileged", !hc.Privileged, hc.Privileged, false)
	check("Memory", hc.Memory == wc.Memory, hc.Memory, wc.Memory)
	check("PidsLimit", hc.PidsLimit != nil && *hc.PidsLimit == *wc.PidsLimit, deref(hc.PidsLimit), *wc.PidsLimit)
	check("mounts", sameVolumeMounts(got, want.mounts), got.Mounts, want.mounts)
	check("Devices", len(hc.Devices) == 0, len(hc.Devices), 0)
	check("Sysctls", sameSysctls(hc.Sysctls, wc.Sysctls, want.engine), hc.Sysctls, wc.Sysctls)
	check("Dns", slices.Equal(hc.DNS, wc.DNS), hc.DNS, wc.DNS)
	check("NetworkMode", sameNetworkMode(string(hc.NetworkMode), want.mode, want.engine, len(want.nets) > 0), hc.NetworkMode, want.mode)
	var nets []string
	if got.NetworkSettings != nil {
		nets = slices.Sorted(maps.Keys(got.NetworkSettings.Networks))
	}
	check("networks", sameProxyNets(nets, want), nets, want.nets)
	return out
}

// sameProxyNets compares the container's networks with the wanted list.
// Podman puts a container asked for "bridge" on its default network, which
// has another name ("podman" unless containers.conf says otherwise); then
// exactly one network is required, which is still the whole check: the
// proxy's egress network is where it may go, not what isolates the server.
// dockerd lists network mode none as a network called "none"; podman lists
// nothing.
func sameProxyNets(got []string, want proxySettings) bool {
	if want.engine == enginePodman && slices.Equal(want.nets, []string{"bridge"}) {
		return len(got) == 1
	}
	if want.mode == "none" && len(want.nets) == 0 {
		return len(got) == 0 || slices.Equal(got, []string{"none"})
	}
	return sameSet(got, want.nets)
}

// sameSysctls compares the relay's sysctls. Podman 4.3 applies them but
// reports none in the inspect; that is accepted there, since the only one
// drydock sets lets the relay bind its ports, and a relay without it fails
// to listen and never reports ready (the run then fails closed). Any
// sysctl drydock did not ask for is refused on every engine.
func sameSysctls(got, want map[string]string, e engineKind) bool {
	if e == enginePodman && len(got) == 0 {
		return true
	}
	return maps.Equal(got, want)
}

// sameVolumeMounts requires exactly the wanted named volumes and nothing
// else mounted from the host. Both engines list volumes in the inspect's
// Mounts; podman also reports them as Binds ("name:target:options").
func sameVolumeMounts(got container.InspectResponse, want []volumeMount) bool {
	if len(got.HostConfig.VolumesFrom) > 0 || len(got.Mounts) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.ContainsFunc(got.Mounts, func(m container.MountPoint) bool {
			return m.Type == mount.TypeVolume && m.Name == w.name && m.Destination == w.target && m.RW == !w.readOnly
		}) {
			return false
		}
	}
	for _, b := range got.HostConfig.Binds {
		if !slices.ContainsFunc(want, func(w volumeMount) bool {
			opts, ok := strings.CutPrefix(b, w.name+":"+w.target+":")
			return ok && slices.Contains(strings.Split(opts, ","), "ro") == w.readOnly
		}) {
			return false
		}
	}
	for _, m := range got.HostConfig.Mounts {
		if !slices.ContainsFunc(want, func(w volumeMount) bool {
			return m.Type == mount.TypeVolume && m.Source == w.name && m.Target == w.target && m.ReadOnly == w.readOnly
		}) {
			return false
		}
	}
	return true
}

// start attaches to the log of the proxy or relay id, starts it and waits
// for its ready line. The log (denials, errors) keeps flowing to drydock's
// stderr.
func (e *egressRun) start(ctx context.Context, id string) error {
	hj, err := e.d.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, hj.Reader)
		pw.CloseWithError(err)
		hj.Close()
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			fmt.Fprintln(e.stderr, sc.Text())
			if !once && strings.HasPrefix(sc.Text(), egress.ReadyLine) {
				once = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if err := e.d.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		hj.Close()
		return err
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(proxyReady):
		return fmt.Errorf("the container did not report listening within %s", proxyReady)
	}
}

// cleanup removes the server (if still there), the relay, the proxy, and
// then the socket volume. That can only go once no container uses
// them, and the server's auto-removal may still be running: retry until a
// deadline.
func (e *egressRun) cleanup(ctx context.Context) {
	for _, id := range []string{e.serverID, e.relayID, e.proxyID} {
		if id != "" {
			_ = e.d.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
	}
	if e.volume != "" {
		e.retry("volume "+e.volume, func() error { return e.d.VolumeRemove(ctx, e.volume, true) })
	}
}

func (e *egressRun) retry(what string, remove func() error) {
	deadline := time.Now().Add(cleanupGrace)
	for {
		err := remove()
		if err == nil || client.IsErrNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(e.stderr, "drydock: warning: removing %s: %v\n", what, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ExplainAllowlist is the layout run starts for an image in network mode
// allowlist or public, as the equivalent docker commands and notes: which
// gateway image runs (and where its digest and key come from), the socket
// volume, the gateway, the relay with its listeners and DNS answers, and the
// server in the relay's namespace with its proxy variables. SERVER stands
// for the per-run container name. opts are run's options that choose the
// gateway (WithGateway, WithProxyBinary). It returns nil for other modes.
func ExplainAllowlist(v *Verified, floor *policies.Floor, opts ...Option) []string {
	if v.Spec.Egress == nil {
		return nil
	}
	o := &options{floor: floor}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return []string{"# gateway image: none: " + err.Error()}
		}
	}
	img, about := explainGateway(o)
	return append([]string{about}, explainAllowlist(v, floor, img)...)
}

// explainGateway names the gateway image run would use and a comment line
// saying where it comes from.
func explainGateway(o *options) (img, about string) {
	c, err := chooseGateway(o)
	switch {
	case err != nil:
		return "GATEWAY", "# gateway image: none; run refuses: " + err.Error()
	case c.gateway != nil:
		return c.gateway.Image, fmt.Sprintf("# gateway image: %s (%s; its signature is verified and the engine's image ID checked before it starts)", c.gateway.Image, c.gateway.Source)
	}
	img = "drydock-egress-proxy:<digest of " + c.binary + ">"
	if dg, err := egress.BinaryDigest(c.binary); err == nil {
		img = egress.Tag(dg)
	}
	return img, fmt.Sprintf("# gateway image: %s (built locally from this drydock's static binary %s; no floor egress.image or release default names a signed one)", img, c.binary)
}

func explainAllowlist(v *Verified, floor *policies.Floor, img string) []string {
	s := v.Spec
	const server = "SERVER"
	vol := server + "-egress"
	pl := egressPlan(s.Egress, floor)
	proxy := proxySettings{mode: "bridge", engine: engineDocker, mounts: []volumeMount{{name: vol, target: egress.SocketDir}}}
	relay := proxySettings{mode: "none", engine: engineDocker, mounts: []volumeMount{{name: vol, target: egress.SocketDir, readOnly: true}},
		sysctls: relaySysctls, dns: relayDNS(engineDocker)}
	run := func(name string, p proxySettings, cmd []string) string {
		return "docker run -d --name " + name + " " + strings.Join(p.dockerFlags(), " ") + " " + img + " " + strings.Join(cmd, " ")
	}
	out := []string{
		"# the gateway also gets --deny for every subnet and gateway of the engine's networks and each address of this host, listed at run time",
		"docker volume create " + vol,
		run(server+"-egress", proxy, egress.GatewayCommand(pl)),
		run(server+"-relay", relay, egress.RelayCommand(pl)),
	}
	ls, _ := egress.RelayListeners(s.Egress.TCP)
	for _, l := range ls {
		out = append(out, "# relay listens on "+l.Addr+" ("+l.Kind()+")")
	}
	out = append(out, "# relay DNS on "+egress.DNSListen+" (podman: no resolv.conf in network none, so resolvers ask it by default):")
	for _, hp := range s.Egress.Allow {
		h, _, _ := net.SplitHostPort(hp)
		out = append(out, "#   "+h+" → "+egress.RelayAddr.String())
	}
	for i, hp := range s.Egress.TCP {
		h, _, _ := net.SplitHostPort(hp)
		out = append(out, "#   "+h+" → "+egress.TCPAddr(i).String()+" (tcp://"+hp+")")
	}
	if s.Egress.Public {
		out = append(out, "#   any other name → "+egress.RelayAddr.String()+" (public: the gateway refuses non-public addresses)")
	} else {
		out = append(out, "#   any other name → NXDOMAIN")
	}
	return append(out, "docker run -i --rm --name "+server+" "+strings.Join(relayedServerFlags(s, server+"-relay"), " ")+" "+v.Digest.String())
}

// relayedServerFlags are the spec's docker flags with the server in the
// relay's namespace (its proxy variables already name the relay's loopback).
func relayedServerFlags(s policies.ContainerSpec, relay string) []string {
	f := ServerFlags(s)
	for i := 1; i < len(f); i++ {
		if f[i-1] == "--network" {
			f[i] = "container:" + relay
		}
	}
	return f
}

// dockerFlags renders the proxy's or relay's settings as docker run flags.
func (p proxySettings) dockerFlags() []string {
	hc := p.hostConfig()
	f := []string{"--user", egress.User, "--network", p.mode, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--memory", fmt.Sprint(hc.Memory), "--memory-swap", fmt.Sprint(hc.MemorySwap), "--cpus", fmt.Sprint(float64(hc.NanoCPUs) / 1e9), "--pids-limit", fmt.Sprint(*hc.PidsLimit)}
	for _, k := range slices.Sorted(maps.Keys(p.sysctls)) {
		f = append(f, "--sysctl", k+"="+p.sysctls[k])
	}
	for _, d := range p.dns {
		f = append(f, "--dns", d)
	}
	for _, m := range p.mounts {
		v := m.name + ":" + m.target
		if m.readOnly {
			v += ":ro"
		}
		f = append(f, "-v", v)
	}
	return f
}
