package policies

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

var (
	capName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks the policy and returns every problem found, each naming
// its field path. The seed's pillars (read-only root filesystem,
// no-new-privileges, all capabilities dropped, a non-root numeric user) are
// not negotiable: a policy that loosens them is invalid, not merely risky.
func (p *Policy) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}

	if p.APIVersion != APIVersion {
		add("apiVersion", "%q is not supported; this drydock reads %q", p.APIVersion, APIVersion)
	}
	if err := checkUser(p.User); err != nil {
		add("user", "%v", err)
	}
	if !p.ReadOnlyRootfs {
		add("readOnlyRootfs", "must be true; declare writable paths under tmpfs or mounts instead")
	}
	if !p.NoNewPrivileges {
		add("noNewPrivileges", "must be true")
	}
	validateNetwork(p.Network, add)
	validateCaps(p.Capabilities, add)
	validateResources(p.Resources, add)
	validatePaths(p, add)
	for i, n := range p.Env.Allow {
		if !envName.MatchString(n) {
			add(fmt.Sprintf("env.allow[%d]", i), "%q is not an environment variable name", n)
		}
	}
	if p.Seccomp != SeccompDefault {
		add("seccomp", "%q is not supported; use %q", p.Seccomp, SeccompDefault)
	}
	return errors.Join(errs...)
}

func checkUser(u string) error {
	// Without a colon gid is "", which does not parse either.
	uid, gid, _ := strings.Cut(u, ":")
	for _, s := range []string{uid, gid} {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("%q must be numeric UID:GID, e.g. 65532:65532", u)
		}
		if n == 0 {
			return fmt.Errorf("%q runs as root; use a non-root UID:GID such as 65532:65532", u)
		}
	}
	return nil
}

func validateNetwork(n Network, add func(string, string, ...any)) {
	switch n.Mode {
	case NetworkNone, NetworkBridge:
		if len(n.Allow) > 0 {
			add("network.allow", "only valid with mode %q or %q", NetworkAllowlist, NetworkPublic)
		}
	case NetworkAllowlist, NetworkPublic:
		if n.Mode == NetworkAllowlist && len(n.Allow) == 0 {
			add("network.allow", "mode %q needs at least one host:port", NetworkAllowlist)
		}
		for i, e := range n.Allow {
			if err := checkEntry(e); err != nil {
				add(fmt.Sprintf("network.allow[%d]", i), "%v", err)
				continue
			}
			// Public mode already reaches every public host over HTTP(S);
			// what it adds are L4 services, which must be named.
			if tcp, _ := splitEntry(e); n.Mode == NetworkPublic && !tcp {
				add(fmt.Sprintf("network.allow[%d]", i), "%q: mode %q reaches any public host over HTTP(S) already; list only tcp://host:port entries", e, NetworkPublic)
			}
		}
	default:
		add("network.mode", "%q is not one of %s", n.Mode, modesText())
	}
}

func validateCaps(c Capabilities, add func(string, string, ...any)) {
	if len(c.Drop) != 1 || c.Drop[0] != "ALL" {
		add("capabilities.drop", "must be [ALL]; add back what the server needs under capabilities.add")
	}
	for i, name := range c.Add {
		if !capName.MatchString(name) || strings.HasPrefix(name, "CAP_") || name == "ALL" {
			add(fmt.Sprintf("capabilities.add[%d]", i), "%q is not a capability name (write e.g. NET_BIND_SERVICE)", name)
		}
	}
}

func validateResources(r Resources, add func(string, string, ...any)) {
	if n, err := ParseQuantity(r.Memory); err != nil || n < 4<<20 {
		add("resources.memory", "%q must be a size of at least 4Mi, e.g. 512Mi", r.Memory)
	}
	if n, err := ParseCPUs(r.CPUs); err != nil || n <= 0 {
		add("resources.cpus", "%q must be a positive decimal number of CPUs, e.g. \"1\" or \"0.5\"", r.CPUs)
	}
	if r.Pids < 1 {
		add("resources.pids", "%d must be a positive process limit, e.g. 128", r.Pids)
	}
}

func validatePaths(p *Policy, add func(string, string, ...any)) {
	seen := map[string]string{}
	claim := func(field, target string) {
		if !path.IsAbs(target) || path.Clean(target) != target || target == "/" {
			add(field, "%q must be an absolute, clean path other than /", target)
			return
		}
		if prev, dup := seen[target]; dup {
			add(field, "%q is already used by %s", target, prev)
			return
		}
		seen[target] = field
	}
	for i, t := range p.Tmpfs {
		field := fmt.Sprintf("tmpfs[%d]", i)
		claim(field+".path", t.Path)
		if n, err := ParseQuantity(t.Size); err != nil || n <= 0 {
			add(field+".size", "%q must be a size, e.g. 64Mi", t.Size)
		}
	}
	for i, m := range p.Mounts {
		claim(fmt.Sprintf("mounts[%d].target", i), m.Target)
	}
}
