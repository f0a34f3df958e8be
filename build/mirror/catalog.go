package mirror

import (
	"errors"
	"fmt"
	"github.com/openvex/go-vex/pkg/vex"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/yaml"
)

// KindCatalog is the kind of a mirror catalog file.
const KindCatalog = "Catalog"

// Catalog is a mirror catalog: defaults plus the servers to harden.
//
//	apiVersion: drydock.dev/v1
//	kind: Catalog
//	defaults: {policy: policy.yaml, bases: bases.yaml, key: cosign.key, strategy: auto}
//	# keyless in CI: key: leaf.key, certificate: leaf.pem, certificateChain: chain.pem
//	servers:
//	  - name: github
//	    source: ghcr.io/github/github-mcp-server:latest
//	    policy: {network: {allow: ["api.github.com:443"]}, env: {allow: [GITHUB_TOKEN]}}
//	  - name: git
//	    source: ghcr.io/example/git-mcp:1
//	    carry: [/usr/bin/git]
//	    smoke: {calls: [{tool: git_status, arguments: {repo_path: /tmp}}]}
type Catalog struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Defaults   Defaults `json:"defaults"`
	Servers    []Server `json:"servers"`

	// Set by Load: the files the defaults name, read and validated.
	policy *policies.Policy
	bases  *policies.Bases
	dir    string
	vex    map[int]*vex.VEX // servers[i].vex, read by loadVEX
}

// Defaults apply to every server. Paths are relative to the catalog file.
type Defaults struct {
	// Policy is the runtime policy file (default: the built-in default).
	Policy string `json:"policy,omitempty"`
	// Bases is the bases file (default: the built-in one).
	Bases string `json:"bases,omitempty"`
	// Key is the signing reference: a cosign private key file, a KMS key
	// (awskms://, gcpkms://, azurekms://, hashivault://) or, with
	// Certificate, the certified key. --key overrides Key, Certificate and
	// CertificateChain together.
	Key string `json:"key,omitempty"`
	// Certificate is a PEM certificate issued for Key (keyless signing in
	// CI), attached to every signature and attestation.
	Certificate string `json:"certificate,omitempty"`
	// CertificateChain holds Certificate's intermediate and root
	// certificates (PEM).
	CertificateChain string `json:"certificateChain,omitempty"`
	// Strategy is auto (default), rebuild, inplace or rebase.
	Strategy build.Strategy `json:"strategy,omitempty"`
	// Smoke compares upstream and hardened MCP answers before signing
	// (needs Docker).
	Smoke bool `json:"smoke,omitempty"`
	// SBOMFormat is the format of every entry's signed SBOM attestation:
	// spdx (default) or cyclonedx. --sbom-format overrides it.
	SBOMFormat string `json:"sbomFormat,omitempty"`
}

// Server is one upstream image to mirror.
type Server struct {
	// Name is the repository under the mirror prefix (PREFIX/NAME).
	Name string `json:"name"`
	// Source is the upstream image reference.
	Source string `json:"source"`
	// Tag is the mirror tag (default: the source's tag, else latest).
	Tag string `json:"tag,omitempty"`
	// Title and Description are for people reading the catalog.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Base is the hardened base (default: the bases file's base for the
	// detected runtime).
	Base string `json:"base,omitempty"`
	// Strategy overrides defaults.strategy.
	Strategy build.Strategy `json:"strategy,omitempty"`
	// Policy overrides parts of the default policy for this server.
	Policy *Overrides `json:"policy,omitempty"`
	// Args are the server's arguments, given after the image's command
	// (drydock run IMAGE -- ARGS). An arg may hold {{NAME}} placeholders,
	// filled at run time from drydock's environment by --env NAME (refused
	// when missing), or {{NAME?}}, whose whole arg is left out when NAME is
	// not given. The value reaches only the container's command line.
	Args []string `json:"args,omitempty"`
	// Carry names executables of the upstream (absolute paths, or names in
	// its PATH) that the server shells out to: they and their shared
	// libraries are carried onto the hardened base (see build.WithCarry).
	Carry []string `json:"carry,omitempty"`
	// Smoke are tool calls the start check makes on the upstream and the
	// hardened image; one that works upstream must work hardened.
	Smoke *ServerSmoke `json:"smoke,omitempty"`
	// Upstream records how the source was built, for people reviewing the
	// catalog; the mirror does not act on it.
	Upstream *Upstream `json:"upstream,omitempty"`
	// Notes are what an import could not carry over or had to interpret.
	Notes []string `json:"notes,omitempty"`
	// VEX is an OpenVEX document (JSON, relative to the catalog) whose
	// statements the vulnerability gate applies to this server and
	// attests with it.
	VEX string `json:"vex,omitempty"`
}

// ServerSmoke is a server's start check settings.
type ServerSmoke struct {
	// Calls are made in order after initialize and tools/list.
	Calls []build.SmokeCall `json:"calls,omitempty"`
}

// Upstream is what the publisher recorded about the source image's build.
type Upstream struct {
	// Version is the upstream commit the source image was built from (its
	// tag); CreatedAt is when the publisher recorded that build (RFC 3339).
	Version   string `json:"version,omitempty"`
	CreatedAt string `json:"createdAt,omitempty"`
	// Runtime is the builder's language detection (node, python, go, ...).
	Runtime string `json:"runtime,omitempty"`
	// StartCommand is the command the builder made the image run, and
	// RunImage the image it ran on when not the build image.
	StartCommand string `json:"startCommand,omitempty"`
	RunImage     string `json:"runImage,omitempty"`
}

// Overrides are the per-server policy fields. Each one given replaces the
// default policy's field of the same path.
type Overrides struct {
	// Network.Allow lists host:port the server may reach; it switches the
	// network mode to allowlist.
	Network *Allow `json:"network,omitempty"`
	// Env.Allow lists the environment variable names the server may get.
	Env    *Allow           `json:"env,omitempty"`
	Mounts []policies.Mount `json:"mounts,omitempty"`
	// Resources fields left empty keep the default.
	Resources *policies.Resources `json:"resources,omitempty"`
}

// Allow is a list of allowed things, shaped like the policy field it sets.
type Allow struct {
	Allow []string `json:"allow"`
}

// repoName is one path component a registry accepts, lowercase.
var repoName = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// Load reads a catalog file and the policy and bases files it names, and
// validates all of it. Every problem is reported with the file and the
// field path (servers[3].policy.env.allow[0]: ...).
func Load(file string) (*Catalog, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading catalog: %w", err)
	}
	return Parse(data, file)
}

// Parse decodes and validates a catalog read from file (paths in it are
// relative to file's directory).
func Parse(data []byte, file string) (*Catalog, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w", file, err)
	}
	if err := policies.CheckFields(js, reflect.TypeFor[Catalog]()); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var c Catalog
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c.dir = filepath.Dir(file)
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &c, nil
}

// load reads the policy and bases files the defaults name.
func (c *Catalog) load() error {
	c.policy, c.bases = policies.Default(), policies.DefaultBases()
	if c.Defaults.Policy != "" {
		p, err := policies.Load(c.path(c.Defaults.Policy))
		if err != nil {
			return fmt.Errorf("defaults.policy: %w", err)
		}
		c.policy = p
	}
	if c.Defaults.Bases != "" {
		b, err := policies.LoadBases(c.path(c.Defaults.Bases))
		if err != nil {
			return fmt.Errorf("defaults.bases: %w", err)
		}
		c.bases = b
	}
	return c.loadVEX()
}

// path resolves a file named in the catalog against the catalog's directory.
func (c *Catalog) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// KeyPath is defaults.key resolved against the catalog's directory (a KMS
// reference is kept as written).
func (c *Catalog) KeyPath() string {
	if attest.IsKMSRef(c.Defaults.Key) {
		return c.Defaults.Key
	}
	return c.path(c.Defaults.Key)
}

// CertificatePaths are defaults.certificate and defaults.certificateChain
// resolved against the catalog's directory.
func (c *Catalog) CertificatePaths() (cert, chain string) {
	return c.path(c.Defaults.Certificate), c.path(c.Defaults.CertificateChain)
}

func (c *Catalog) validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.APIVersion != policies.APIVersion || c.Kind != KindCatalog {
		add("apiVersion", "want apiVersion %s and kind %s, got %q and %q", policies.APIVersion, KindCatalog, c.APIVersion, c.Kind)
	}
	if s := c.Defaults.Strategy; s != "" && !s.Known() {
		add("defaults.strategy", "%q is not one of %s", s, build.StrategyNames())
	}
	if err := sbom.CheckFormat(c.Defaults.SBOMFormat); err != nil {
		add("defaults.sbomFormat", "%v", err)
	}
	if c.Defaults.Certificate != "" && c.Defaults.Key == "" {
		add("defaults.certificate", "needs defaults.key, the key it was issued for")
	}
	if c.Defaults.CertificateChain != "" && c.Defaults.Certificate == "" {
		add("defaults.certificateChain", "needs defaults.certificate")
	}
	if len(c.Servers) == 0 {
		add("servers", "the catalog lists no servers")
	}
	seen := map[string]int{}
	for i, s := range c.Servers {
		field := fmt.Sprintf("servers[%d]", i)
		switch j, dup := seen[s.Name]; {
		case s.Name == "":
			add(field+".name", "required (the repository under the mirror prefix)")
		case !repoName.MatchString(s.Name):
			add(field+".name", "%q must be lowercase letters, digits and . _ - / separators, as a registry repository", s.Name)
		case dup:
			add(field+".name", "%q is already used by servers[%d]", s.Name, j)
		}
		seen[s.Name] = i
		if _, err := name.ParseReference(s.Source); err != nil {
			add(field+".source", "%q is not an image reference: %v", s.Source, err)
		}
		if s.Tag != "" {
			if _, err := name.NewTag("x:" + s.Tag); err != nil {
				add(field+".tag", "%q is not a valid tag", s.Tag)
			}
		}
		if s.Base != "" {
			if _, err := name.ParseReference(s.Base); err != nil {
				add(field+".base", "%q is not an image reference: %v", s.Base, err)
			}
		}
		if s.Strategy != "" && !s.Strategy.Known() {
			add(field+".strategy", "%q is not one of %s", s.Strategy, build.StrategyNames())
		}
		for j, c := range s.Carry {
			if err := build.CheckCarry(c); err != nil {
				add(fmt.Sprintf("%s.carry[%d]", field, j), "%v", err)
			}
		}
		if s.Smoke != nil {
			for j, c := range s.Smoke.Calls {
				if c.Tool == "" {
					add(fmt.Sprintf("%s.smoke.calls[%d].tool", field, j), "required (the name of a tool the server lists)")
				}
			}
		}
		for j, a := range s.Args {
			if err := checkArg(a); err != nil {
				add(fmt.Sprintf("%s.args[%d]", field, j), "%q: %v", a, err)
			}
		}
		if u := s.Upstream; u != nil && u.CreatedAt != "" {
			if _, err := time.Parse(time.RFC3339, u.CreatedAt); err != nil {
				add(field+".upstream.createdAt", "%q is not an RFC 3339 time", u.CreatedAt)
			}
		}
		if _, err := c.Policy(i); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Policy is the effective policy of server i: the default policy with the
// server's overrides applied, validated.
func (c *Catalog) Policy(i int) (*policies.Policy, error) {
	base := c.policy
	if base == nil {
		base = policies.Default()
	}
	// A round trip through the canonical label is a deep copy.
	label, err := base.Encode()
	if err != nil {
		return nil, err
	}
	p, err := policies.Decode(label)
	if err != nil {
		return nil, err
	}
	o := c.Servers[i].Policy
	if o == nil {
		return p, nil
	}
	if o.Network != nil {
		p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: o.Network.Allow}
	}
	if o.Env != nil {
		p.Env.Allow = o.Env.Allow
	}
	if o.Mounts != nil {
		p.Mounts = o.Mounts
	}
	if r := o.Resources; r != nil {
		if r.Memory != "" {
			p.Resources.Memory = r.Memory
		}
		if r.CPUs != "" {
			p.Resources.CPUs = r.CPUs
		}
		if r.Pids != 0 {
			p.Resources.Pids = r.Pids
		}
	}
	if err := p.Validate(); err != nil {
		return nil, prefixErrors(fmt.Sprintf("servers[%d].policy.", i), err)
	}
	return p, nil
}

// prefixErrors puts prefix before each of the joined errors' field paths.
func prefixErrors(prefix string, err error) error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return fmt.Errorf("%s%w", prefix, err)
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, fmt.Errorf("%s%w", prefix, e))
	}
	return errors.Join(out...)
}

// target is where server s is mirrored: PREFIX/NAME:TAG.
func (s Server) target(prefix string) (name.Tag, error) {
	tag := s.Tag
	if tag == "" {
		tag = "latest"
		if src, err := name.NewTag(s.Source); err == nil && !strings.Contains(s.Source, "@") {
			tag = src.TagStr()
		}
	}
	t, err := name.NewTag(strings.TrimSuffix(prefix, "/") + "/" + s.Name + ":" + tag)
	if err != nil {
		return name.Tag{}, fmt.Errorf("mirror target for %s under %q: %w", s.Name, prefix, err)
	}
	return t, nil
}

// smokeCalls are the server's start check calls.
func (s Server) smokeCalls() []build.SmokeCall {
	if s.Smoke == nil {
		return nil
	}
	return s.Smoke.Calls
}

// strategy is the server's strategy, else the default, else auto.
func (c *Catalog) strategy(s Server) build.Strategy {
	switch {
	case s.Strategy != "":
		return s.Strategy
	case c.Defaults.Strategy != "":
		return c.Defaults.Strategy
	}
	return build.StrategyAuto
}

// Encode writes the catalog as YAML.
func (c *Catalog) Encode() ([]byte, error) {
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding catalog: %w", err)
	}
	return out, nil
}
