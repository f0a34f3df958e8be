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
}

// tmpfsOptions are forced on every tmpfs: writable scratch space must never
// become a place to drop and run a binary.
const tmpfsOptions = "rw,noexec,nosuid,nodev"

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
	if p.Network.Mode == NetworkAllowlist {
		// Enforcing an allowlist needs the egress proxy, which this drydock
		// does not have yet; refusing beats silently opening or closing the network.
		return ContainerSpec{}, fmt.Errorf("network.mode: %q is not supported by this drydock yet; use %q", NetworkAllowlist, NetworkNone)
	}
	for _, t := range p.Tmpfs {
		size, _ := ParseQuantity(t.Size)
		s.Tmpfs[t.Path] = fmt.Sprintf("%s,size=%d", tmpfsOptions, size)
	}
	return s, nil
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
	return f
}

func formatCPUs(nano int64) string {
	w, frac := nano/1e9, nano%1e9
	if frac == 0 {
		return fmt.Sprint(w)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%09d", w, frac), "0")
}
