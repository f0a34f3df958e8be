package policies

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ContainerSpec is the runtime-neutral result of translating a policy: the
// exact settings a container must be created with. It mirrors the fields of
// Docker's HostConfig so that launch can both set them and compare them with
// what the engine reports back.
type ContainerSpec struct {
	User           string            `json:"user"`
	ReadonlyRootfs bool              `json:"readonlyRootfs"`
	NetworkMode    string            `json:"networkMode"`
	CapDrop        []string          `json:"capDrop"`
	CapAdd         []string          `json:"capAdd"`
	SecurityOpt    []string          `json:"securityOpt"`
	Memory         int64             `json:"memory"`
	MemorySwap     int64             `json:"memorySwap"`
	NanoCPUs       int64             `json:"nanoCpus"`
	PidsLimit      int64             `json:"pidsLimit"`
	Tmpfs          map[string]string `json:"tmpfs"`
	Init           bool              `json:"init"`
	// Env is set in the container on top of the image's environment: in
	// allowlist mode, the proxy variables that point at the egress proxy.
	Env []string `json:"env,omitempty"`
	// Egress is set in allowlist mode. NetworkMode is then InternalNetwork,
	// a placeholder launch replaces with a per-run internal network whose
	// only way out is the egress proxy.
	Egress *Egress `json:"egress,omitempty"`
}

// Egress describes the egress gateway a server in allowlist or public mode
// goes through.
type Egress struct {
	// Allow is the label's HTTP(S) host:port list, exactly what the gateway
	// lets through as HTTP, CONNECT or TLS (empty in public mode).
	Allow []string `json:"allow"`
	// TCP is the host:port of the label's tcp:// entries, each forwarded at
	// L4 to exactly that host and port.
	TCP []string `json:"tcp,omitempty"`
	// Public lets HTTP(S) through to any host whose addresses are all
	// globally reachable (network mode public).
	Public bool `json:"public,omitempty"`
	// ProxyHost is where the server reaches the proxy (the relay's loopback).
	ProxyHost string `json:"proxyHost"`
	ProxyPort int    `json:"proxyPort"`
}

// Allowlist-mode constants shared by the translation and launch.
const (
	// InternalNetwork is the NetworkMode placeholder of allowlist mode. It
	// is not a valid network name, so an engine given it unreplaced refuses
	// to create the container instead of opening the network.
	InternalNetwork = "<internal-network>"
	// EgressProxyHost is where the server reaches the proxy: the loopback
	// of the relay whose network namespace it shares.
	EgressProxyHost = "127.0.0.1"
	EgressProxyPort = 3128
)

// tmpfsOptions are forced on every tmpfs: writable scratch space must never
// become a place to drop and run a binary.
const tmpfsOptions = "rw,noexec,nosuid,nodev"

// TmpfsOptions are the mount options of a policy tmpfs of size bytes.
func TmpfsOptions(size int64) string { return fmt.Sprintf("%s,size=%d", tmpfsOptions, size) }

// Translate turns a valid policy into container settings. It is pure: the
// same policy always gives the same spec.
func Translate(p *Policy) (ContainerSpec, error) {
	if err := p.Validate(); err != nil {
		return ContainerSpec{}, err
	}
	mem, _ := ParseQuantity(p.Resources.Memory)
	cpus, _ := ParseCPUs(p.Resources.CPUs)
	s := ContainerSpec{
		User:           p.User,
		ReadonlyRootfs: p.ReadOnlyRootfs,
		NetworkMode:    p.Network.Mode,
		CapDrop:        slices.Clone(p.Capabilities.Drop),
		CapAdd:         slices.Clone(p.Capabilities.Add),
		SecurityOpt:    []string{"no-new-privileges"},
		Memory:         mem,
		// Swap equal to memory means no swap: the cap is a real cap.
		MemorySwap: mem,
		NanoCPUs:   cpus,
		PidsLimit:  p.Resources.Pids,
		Tmpfs:      map[string]string{},
		// An init reaps zombies and forwards signals for servers that spawn children.
		Init: true,
	}
	if p.Network.Mode == NetworkAllowlist || p.Network.Mode == NetworkPublic {
		s.NetworkMode = InternalNetwork
		s.Egress = &Egress{
			Allow: HTTPEntries(p.Network.Allow), TCP: TCPEntries(p.Network.Allow),
			Public: p.Network.Mode == NetworkPublic, ProxyHost: EgressProxyHost, ProxyPort: EgressProxyPort,
		}
		s.Env = proxyEnv(fmt.Sprintf("http://%s:%d", EgressProxyHost, EgressProxyPort))
	}
	for _, t := range p.Tmpfs {
		size, _ := ParseQuantity(t.Size)
		s.Tmpfs[t.Path] = TmpfsOptions(size)
	}
	return s, nil
}

// proxyEnv is what HTTP clients (Go, curl, Python requests, Node's
// undici/global-agent) read to find a proxy; both spellings, because tools
// disagree on which one wins. Loopback stays direct: it never leaves the
// container.
func proxyEnv(url string) []string {
	const noProxy = "localhost,127.0.0.1"
	return []string{
		"HTTP_PROXY=" + url, "HTTPS_PROXY=" + url, "http_proxy=" + url, "https_proxy=" + url,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy,
	}
}

// DockerFlags renders the spec as the equivalent `docker run` flags, for
// `policy explain` and for comparing drydock with a plain docker run.
func (s ContainerSpec) DockerFlags() []string {
	f := []string{
		"--user", s.User,
		"--network", s.NetworkMode,
	}
	if s.ReadonlyRootfs {
		f = append(f, "--read-only")
	}
	for _, c := range s.CapDrop {
		f = append(f, "--cap-drop", c)
	}
	for _, c := range s.CapAdd {
		f = append(f, "--cap-add", c)
	}
	for _, o := range s.SecurityOpt {
		f = append(f, "--security-opt", o)
	}
	f = append(f,
		"--memory", fmt.Sprint(s.Memory),
		"--memory-swap", fmt.Sprint(s.MemorySwap),
		"--cpus", formatCPUs(s.NanoCPUs),
		"--pids-limit", fmt.Sprint(s.PidsLimit),
	)
	for _, path := range slices.Sorted(maps.Keys(s.Tmpfs)) {
		f = append(f, "--tmpfs", path+":"+s.Tmpfs[path])
	}
	if s.Init {
		f = append(f, "--init")
	}
	for _, e := range s.Env {
		f = append(f, "--env", e)
	}
	return f
}

func formatCPUs(nano int64) string {
	w, frac := nano/1e9, nano%1e9
	if frac == 0 {
		return fmt.Sprint(w)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%09d", w, frac), "0")
}
