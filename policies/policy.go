// Package policies owns drydock's runtime policy: the versioned schema, the
// default, loading and validation with field paths, the canonical label
// encoding and the translation into container settings. It imports nothing of
// drydock's so that every other package can depend on it.
package policies

import (
	_ "embed"
	"fmt"
)

const (
	// LabelKey is the image config label that carries the canonical policy.
	LabelKey = "dev.drydock.policy"
	// SourceLabelKey records the upstream image (ref@digest) a hardened image came from.
	SourceLabelKey = "dev.drydock.source"
	// APIVersion is the only schema version this drydock understands.
	APIVersion = "drydock.dev/v1"
	// MaxLabelSize bounds the label value so a hostile image cannot make
	// every verifier parse megabytes of JSON.
	MaxLabelSize = 64 << 10
)

// Network modes.
const (
	NetworkNone      = "none"
	NetworkAllowlist = "allowlist"
	NetworkBridge    = "bridge"
)

// SeccompDefault asks for the container runtime's default seccomp profile.
const SeccompDefault = "runtime/default"

// Policy is the v1 runtime policy. Field names are the label's JSON keys.
type Policy struct {
	APIVersion      string       `json:"apiVersion"`
	User            string       `json:"user"`
	ReadOnlyRootfs  bool         `json:"readOnlyRootfs"`
	Network         Network      `json:"network"`
	Capabilities    Capabilities `json:"capabilities"`
	NoNewPrivileges bool         `json:"noNewPrivileges"`
	Resources       Resources    `json:"resources"`
	Tmpfs           []Tmpfs      `json:"tmpfs"`
	Mounts          []Mount      `json:"mounts"`
	Env             Env          `json:"env"`
	Seccomp         string       `json:"seccomp"`
	// RemoveTools asks `drydock harden --strategy inplace` to white out
	// shells, package managers and compilers (rebuild and rebase always do:
	// their hardened base has none). Omitted from the label when false.
	RemoveTools bool `json:"removeTools,omitempty"`
}

// Network says how the server may reach the outside.
type Network struct {
	Mode  string   `json:"mode"`
	Allow []string `json:"allow,omitempty"`
}

// Capabilities are Linux capability names without the CAP_ prefix.
type Capabilities struct {
	Drop []string `json:"drop"`
	Add  []string `json:"add"`
}

// Resources caps memory (a quantity such as 512Mi), CPUs (a decimal such as
// "0.5") and the number of processes.
type Resources struct {
	Memory string `json:"memory"`
	CPUs   string `json:"cpus"`
	Pids   int64  `json:"pids"`
}

// Tmpfs is a writable in-memory directory, always noexec,nosuid,nodev.
type Tmpfs struct {
	Path string `json:"path"`
	Size string `json:"size"`
}

// Mount declares a target the user may bind a host directory onto at run time.
type Mount struct {
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
	Required bool   `json:"required"`
}

// Env lists the environment variable names the server may receive.
type Env struct {
	Allow []string `json:"allow"`
}

//go:embed default.yaml
var defaultYAML []byte

// Default returns drydock's default policy (policies/default.yaml).
func Default() *Policy {
	p, err := parse(defaultYAML, "policies/default.yaml", &Policy{})
	if err != nil {
		// default.yaml is embedded and covered by tests; a failure here is a build defect.
		panic(fmt.Sprintf("embedded default policy is invalid: %v", err))
	}
	return p
}

// normalize replaces nil lists with empty ones so that the canonical encoding
// is the same whether a list was omitted or written as [].
func (p *Policy) normalize() {
	if p.Capabilities.Drop == nil {
		p.Capabilities.Drop = []string{}
	}
	if p.Capabilities.Add == nil {
		p.Capabilities.Add = []string{}
	}
	if p.Tmpfs == nil {
		p.Tmpfs = []Tmpfs{}
	}
	if p.Mounts == nil {
		p.Mounts = []Mount{}
	}
	if p.Env.Allow == nil {
		p.Env.Allow = []string{}
	}
}
