package policies

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// FloorKind is the kind field of a floor file.
const FloorKind = "Floor"

// Floor is the launching machine's local maximum: whatever an image's signed
// label asks for, run refuses it if it asks for more than this. Labels are
// written by whoever built the image; the floor is written by the person
// whose machine runs it.
type Floor struct {
	APIVersion   string            `json:"apiVersion"`
	Kind         string            `json:"kind"`
	Network      FloorNetwork      `json:"network"`
	Resources    FloorResources    `json:"resources"`
	Capabilities FloorCapabilities `json:"capabilities"`
	Mounts       FloorMounts       `json:"mounts"`
	Env          FloorEnv          `json:"env"`
	// Egress is the signed gateway image (floor_egress.go).
	Egress  FloorEgress  `json:"egress"`
	Require FloorRequire `json:"require"` // see require.go
}

// FloorNetwork lists the network modes a label may ask for (public only if
// listed here) and the host:port patterns a label's network.allow entries
// must match. A pattern's host may start with "*." (any subdomain) and its
// port may be "*"; a tcp:// pattern is needed for a tcp:// entry.
type FloorNetwork struct {
	Modes []string `json:"modes"`
	Hosts []string `json:"hosts"`
}

// FloorResources are upper bounds for the label's resources.
type FloorResources struct {
	MaxMemory string `json:"maxMemory"`
	MaxCPUs   string `json:"maxCpus"`
	MaxPids   int64  `json:"maxPids"`
}

// FloorCapabilities lists the capabilities a label may add back.
type FloorCapabilities struct {
	AllowAdd []string `json:"allowAdd"`
}

// FloorMounts lists the host directories (and everything under them) that
// may be bound into a server, and whether any bind may be writable. A leading
// "~/" means the user's home directory.
type FloorMounts struct {
	AllowSources  []string `json:"allowSources"`
	AllowWritable bool     `json:"allowWritable"`
}

// FloorEnv lists the host environment variables that may be passed to a
// server with --env.
type FloorEnv struct {
	Allow []string `json:"allow"`
}

// StrictFloor is the floor used when the machine has no floor file: no
// network at all, the default policy's resources with modest headroom, no
// capabilities, no host mounts and no environment variables.
func StrictFloor() *Floor {
	return &Floor{
		APIVersion:   APIVersion,
		Kind:         FloorKind,
		Network:      FloorNetwork{Modes: []string{NetworkNone}, Hosts: []string{}},
		Resources:    FloorResources{MaxMemory: "1Gi", MaxCPUs: "2", MaxPids: 256},
		Capabilities: FloorCapabilities{AllowAdd: []string{}},
		Mounts:       FloorMounts{AllowSources: []string{}},
		Env:          FloorEnv{Allow: []string{}},
	}
}

// DefaultFloorPath is where run and verify look for the floor when --floor
// is not given: ~/.config/drydock/floor.yaml (the user's config directory).
func DefaultFloorPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's config directory for floor.yaml: %w", err)
	}
	return filepath.Join(dir, "drydock", "floor.yaml"), nil
}

// LoadFloor reads a floor file (YAML or JSON). Fields the file leaves out
// keep the strict floor's values, so a short file only opens what it names.
// If path is empty the default path is used, and a missing default file
// means the strict floor; a path given explicitly must exist.
func LoadFloor(path string) (*Floor, error) {
	explicit := path != ""
	if !explicit {
		p, err := DefaultFloorPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return StrictFloor(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading floor file: %w", err)
	}
	home, _ := os.UserHomeDir()
	f, err := ParseFloor(data, path, home)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ParseFloor decodes and validates a floor document over the strict floor,
// expanding "~/" in mount sources with home. name is used in errors.
func ParseFloor(data []byte, name, home string) (*Floor, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkFields(js, reflect.TypeFor[Floor]()); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := StrictFloor()
	if err := json.Unmarshal(js, f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, describeJSONError(err))
	}
	f.normalize()
	if err := errors.Join(f.validate(home), f.Egress.validate(home)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

func (f *Floor) normalize() {
	for _, l := range []*[]string{&f.Network.Modes, &f.Network.Hosts, &f.Capabilities.AllowAdd, &f.Mounts.AllowSources, &f.Env.Allow} {
		if *l == nil {
			*l = []string{}
		}
	}
}

func (f *Floor) validate(home string) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if f.APIVersion != APIVersion {
		add("apiVersion", "%q is not supported; this drydock reads %q", f.APIVersion, APIVersion)
	}
	if f.Kind != FloorKind {
		add("kind", "%q must be %q", f.Kind, FloorKind)
	}
	for i, m := range f.Network.Modes {
		if !knownMode(m) {
			add(fmt.Sprintf("network.modes[%d]", i), "%q is not one of %s", m, modesText())
		}
	}
	for i, h := range f.Network.Hosts {
		_, pat := splitEntry(h)
		if _, _, err := splitHostPattern(pat); err != nil {
			add(fmt.Sprintf("network.hosts[%d]", i), "%v", err)
		}
	}
	if n, err := ParseQuantity(f.Resources.MaxMemory); err != nil || n <= 0 {
		add("resources.maxMemory", "%q must be a size, e.g. 2Gi", f.Resources.MaxMemory)
	}
	if n, err := ParseCPUs(f.Resources.MaxCPUs); err != nil || n <= 0 {
		add("resources.maxCpus", "%q must be a positive decimal number of CPUs, e.g. \"2\"", f.Resources.MaxCPUs)
	}
	if f.Resources.MaxPids < 1 {
		add("resources.maxPids", "%d must be a positive process limit", f.Resources.MaxPids)
	}
	for i, c := range f.Capabilities.AllowAdd {
		if !capName.MatchString(c) || strings.HasPrefix(c, "CAP_") || c == "ALL" {
			add(fmt.Sprintf("capabilities.allowAdd[%d]", i), "%q is not a capability name (write e.g. NET_BIND_SERVICE)", c)
		}
	}
	for i, s := range f.Mounts.AllowSources {
		field := fmt.Sprintf("mounts.allowSources[%d]", i)
		if strings.HasPrefix(s, "~/") || s == "~" {
			if home == "" {
				add(field, "%q needs a home directory, and none is known", s)
				continue
			}
			s = filepath.Join(home, strings.TrimPrefix(s, "~"))
		}
		if !filepath.IsAbs(s) || s == "/" {
			add(field, "%q must be an absolute path (or start with ~/) other than /", f.Mounts.AllowSources[i])
			continue
		}
		f.Mounts.AllowSources[i] = filepath.Clean(s)
	}
	for i, n := range f.Env.Allow {
		if !envName.MatchString(n) {
			add(fmt.Sprintf("env.allow[%d]", i), "%q is not an environment variable name", n)
		}
	}
	errs = append(errs, f.Require.validate()...)
	return errors.Join(errs...)
}

// Violation is one way a label asks for more than the floor allows.
type Violation struct {
	Field   string // the label's field path, e.g. resources.memory
	Message string
}

func (v Violation) String() string { return v.Field + " " + v.Message }

// FloorError lists every violation of one label, so a user fixes them all
// in one go instead of one per attempt.
type FloorError struct {
	Violations []Violation
}

// FieldFloorFile names, in FloorError's message, the caller's way to name
// another floor file (LoadFloor's path); a CLI renders it as its flag.
const FieldFloorFile = "LoadFloor(path)"

func (e *FloorError) Error() string { return e.Render(func(string) string { return "" }) }

// Render is Error with the floor file input named by name(FieldFloorFile)
// (a CLI passes its flag); where name returns "", this package's name
// stays.
func (e *FloorError) Render(name func(field string) string) string {
	file := name(FieldFloorFile)
	if file == "" {
		file = FieldFloorFile
	}
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return "the policy asks for more than this machine's floor allows: " + strings.Join(parts, "; ") +
		" (widen the floor file, ~/.config/drydock/floor.yaml or " + file + ", only if you trust the image)"
}

// Check compares a valid policy with the floor and returns a *FloorError
// listing every violation, or nil.
func (f *Floor) Check(p *Policy) error {
	var vs []Violation
	add := func(field, format string, args ...any) {
		vs = append(vs, Violation{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(f.Network.Modes, p.Network.Mode) {
		add("network.mode", "%q is not among the floor's network modes %v", p.Network.Mode, f.Network.Modes)
	}
	// A valid policy lists hosts only in allowlist mode, so the hosts are
	// checked whatever the mode: one test fewer that could be got wrong.
	for i, hp := range p.Network.Allow {
		if !f.allowsHost(hp) {
			add(fmt.Sprintf("network.allow[%d]", i), "%q matches none of the floor's hosts %v", hp, f.Network.Hosts)
		}
	}
	mem, _ := ParseQuantity(p.Resources.Memory)
	if max, _ := ParseQuantity(f.Resources.MaxMemory); mem > max {
		add("resources.memory", "%s exceeds the floor's maxMemory %s", p.Resources.Memory, f.Resources.MaxMemory)
	}
	cpus, _ := ParseCPUs(p.Resources.CPUs)
	if max, _ := ParseCPUs(f.Resources.MaxCPUs); cpus > max {
		add("resources.cpus", "%s exceeds the floor's maxCpus %s", p.Resources.CPUs, f.Resources.MaxCPUs)
	}
	if p.Resources.Pids > f.Resources.MaxPids {
		add("resources.pids", "%d exceeds the floor's maxPids %d", p.Resources.Pids, f.Resources.MaxPids)
	}
	for i, c := range p.Capabilities.Add {
		if !slices.Contains(f.Capabilities.AllowAdd, c) {
			add(fmt.Sprintf("capabilities.add[%d]", i), "%s is not in the floor's capabilities.allowAdd %v", c, f.Capabilities.AllowAdd)
		}
	}
	for i, m := range p.Mounts {
		if m.Required && len(f.Mounts.AllowSources) == 0 {
			add(fmt.Sprintf("mounts[%d]", i), "%s is required but the floor allows no host mount sources", m.Target)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return &FloorError{Violations: vs}
}

// allowsHost reports whether host:port matches one of the floor's patterns.
func (f *Floor) allowsHost(hp string) bool {
	// hp is host:port (Validate checks it); one that did not split would
	// leave host empty, and no floor pattern has an empty host.
	// A tcp:// entry matches only tcp:// patterns and a host:port entry
	// only plain ones: opening HTTP(S) to a host never opens raw TCP.
	tcp, hp := splitEntry(hp)
	host, port, _ := net.SplitHostPort(hp)
	host = strings.ToLower(host)
	for _, pat := range f.Network.Hosts {
		ptcp, pat := splitEntry(pat)
		if ptcp != tcp {
			continue
		}
		ph, pp, err := splitHostPattern(pat)
		if err != nil || (pp != "*" && pp != port) {
			continue
		}
		if ph == host || (strings.HasPrefix(ph, "*.") && strings.HasSuffix(host, ph[1:])) {
			return true
		}
	}
	return false
}

func splitHostPattern(pat string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(pat)
	if err != nil {
		return "", "", fmt.Errorf("%q must be host:port, the host optionally starting with *. and the port optionally *", pat)
	}
	if host == "" {
		return "", "", fmt.Errorf("%q has no host; write e.g. api.github.com:443 or *.github.com:443", pat)
	}
	if strings.Contains(host[1:], "*") {
		return "", "", fmt.Errorf("%q: * may only start the host, as in *.github.com", pat)
	}
	if port != "*" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("%q has an invalid port", pat)
		}
	}
	if strings.HasPrefix(host, "*") && !strings.HasPrefix(host, "*.") {
		return "", "", fmt.Errorf("%q: a wildcard host must start with *.", pat)
	}
	return strings.ToLower(host), port, nil
}

// AllowsEnv reports whether the floor lets the host variable name through.
func (f *Floor) AllowsEnv(name string) bool { return slices.Contains(f.Env.Allow, name) }

// AllowsSource reports whether the host path src (already absolute, clean
// and with symlinks resolved by the caller) lies at or under one of the
// floor's allowed sources. resolve maps an allowed source to its real path
// (filepath.EvalSymlinks in launch) so a symlinked allowed directory works.
func (f *Floor) AllowsSource(src string, resolve func(string) (string, error)) bool {
	for _, a := range f.Mounts.AllowSources {
		if r, err := resolve(a); err == nil {
			a = r
		}
		if src == a || strings.HasPrefix(src, strings.TrimSuffix(a, "/")+"/") {
			return true
		}
	}
	return false
}
