package launch

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/drydock-dev/drydock/policies"
)

// MountRequest is one bind mount SRC:TARGET[:rw] the user asks for.
type MountRequest struct {
	Source   string
	Target   string
	Writable bool
}

// ParseMount parses SRC:TARGET[:rw|:ro]. Read-only is the default.
func ParseMount(s string) (MountRequest, error) {
	parts := strings.Split(s, ":")
	m := MountRequest{}
	switch {
	case len(parts) == 3 && (parts[2] == "rw" || parts[2] == "ro"):
		m.Writable = parts[2] == "rw"
	case len(parts) != 2:
		return m, inputerr.Field("mount", strconv.Quote(s), errMountSyntax)
	}
	m.Source, m.Target = parts[0], parts[1]
	if m.Source == "" || m.Target == "" {
		return m, inputerr.Field("mount", strconv.Quote(s), errMountSyntax)
	}
	return m, nil
}

func (m MountRequest) String() string {
	s := m.Source + ":" + m.Target
	if m.Writable {
		s += ":rw"
	}
	return s
}

// request is what the user asked for on top of the policy, checked against
// the label and the floor: bind mounts and environment variables.
type request struct {
	mounts []mount.Mount
	// env holds NAME=value pairs. Values only ever travel in the create
	// call's body; they are never formatted into errors or logs.
	env []string
	// args is the container's command: the run's args with their
	// placeholders filled (nil keeps the image's CMD).
	args []string
	// network is the server's NetworkMode in allowlist mode: the per-run
	// internal network, or container:<relay> on podman.
	network string
	// proxyURL, when set, replaces the spec's proxy URL in the server's
	// environment (podman's relay listens on the shared loopback).
	proxyURL string
	// engine is the container engine's kind (see engine.go).
	engine engineKind
}

// prepare checks every --mount and --env against the verified label and the
// floor and returns what the container gets. Every refusal names the flag
// (as InputError's field) and the rule it breaks.
// rro says the engine makes read-only binds recursive when asked (API 1.44).
func prepare(v *Verified, o *options, rro bool) (request, error) {
	var req request
	declared := map[string]policies.Mount{}
	for _, m := range v.Policy.Mounts {
		declared[m.Target] = m
	}
	used := map[string]bool{}
	for _, m := range o.mounts {
		bind, err := checkMount(m, declared, o.floor, serverIDs(v.Spec.User), rro)
		if err != nil {
			return request{}, fmt.Errorf("%w: %s: %w", ErrRefused, v.Digest, err)
		}
		if used[m.Target] {
			return request{}, fmt.Errorf("%w: %w", ErrRefused, inputerr.Field("mount", m.String(), fmt.Errorf("target %s is given twice", m.Target)))
		}
		used[m.Target] = true
		req.mounts = append(req.mounts, bind)
	}
	for _, m := range v.Policy.Mounts {
		if m.Required && !used[m.Target] {
			return request{}, fmt.Errorf("%w: %w", ErrRefused, inputerr.New(func(n func(string) string) string {
				return fmt.Sprintf("%s needs a host directory at %s: pass %s SRC:%s", v.Digest, m.Target, n("mount"), m.Target)
			}, nil, "mount"))
		}
	}
	if err := checkVolumes(v, used); err != nil {
		return request{}, err
	}
	seen := map[string]bool{}
	names, vals := placeholderNames(o.args), map[string]string{}
	for _, name := range o.env {
		if seen[name] {
			continue
		}
		seen[name] = true
		// A name the args use as {{NAME}} fills them (placeholders.go); it
		// reaches the container's environment only if the policy allows it.
		only := isPlaceholderOnly(name, names, v.Policy.Env.Allow)
		switch {
		case !only && !slices.Contains(v.Policy.Env.Allow, name):
			return request{}, fmt.Errorf("%w: %w", ErrRefused, inputerr.Field("env", name, fmt.Errorf("the policy of %s does not list %s in env.allow (it allows %v)", v.Digest, name, v.Policy.Env.Allow)))
		case !o.floor.AllowsEnv(name):
			return request{}, fmt.Errorf("%w: %w", ErrRefused, inputerr.Field("env", name, fmt.Errorf("this machine's floor does not allow passing %s; add it to env.allow in the floor file", name)))
		}
		val, ok := o.lookupEnv(name)
		if !ok {
			return request{}, inputerr.Field("env", name, fmt.Errorf("%s is not set in drydock's environment; set it in the MCP client's env for this server", name))
		}
		if names[name] {
			vals[name] = val
		}
		if !only {
			req.env = append(req.env, name+"="+val)
		}
	}
	args, err := fillArgs(o.args, vals)
	if err != nil {
		return request{}, fmt.Errorf("%w: %s: %w", ErrRefused, v.Digest, err)
	}
	req.args = args
	return req, nil
}

// CheckVolumes refuses the image's VOLUMEs that neither a tmpfs of its
// policy nor one of mounted (paths something else is mounted at) covers:
// an engine, or a Kubernetes container runtime, would mount a fresh volume
// there, writable and exec-allowed, whatever the policy says.
func (v *Verified) CheckVolumes(mounted ...string) error {
	m := make(map[string]bool, len(mounted))
	for _, p := range mounted {
		m[path.Clean(p)] = true
	}
	return checkVolumes(v, m)
}

func checkVolumes(v *Verified, mounted map[string]bool) error {
	var open []string
	for _, vol := range v.Volumes {
		p := path.Clean(vol)
		if _, ok := v.Spec.Tmpfs[p]; !ok && !mounted[p] {
			open = append(open, p)
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("%w: %s declares VOLUME %s, which the engine would mount writable and exec-allowed; declare each path as a tmpfs in the policy (tmpfs: [{path: %s, size: 64Mi}]) or harden the image without VOLUME", ErrRefused, v.Digest, strings.Join(open, " "), open[0])
	}
	return nil
}

// checkMount resolves the host source (symlinks first, so a link cannot
// smuggle in a path outside the floor) and decides read-only versus writable.
func checkMount(m MountRequest, declared map[string]policies.Mount, floor *policies.Floor, server [2]int, rro bool) (mount.Mount, error) {
	decl, ok := declared[m.Target]
	if !ok {
		targets := make([]string, 0, len(declared))
		for t := range declared {
			targets = append(targets, t)
		}
		slices.Sort(targets)
		return mount.Mount{}, inputerr.Field("mount", m.String(), fmt.Errorf("the policy declares no mount target %s (declared: %v)", m.Target, targets))
	}
	abs, err := filepath.Abs(m.Source)
	if err != nil {
		return mount.Mount{}, inputerr.Field("mount", m.String(), err)
	}
	src, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return mount.Mount{}, inputerr.Field("mount", m.String(), fmt.Errorf("resolving the host source: %w", err))
	}
	if _, err := os.Stat(src); err != nil {
		return mount.Mount{}, inputerr.Field("mount", m.String(), err)
	}
	if !floor.AllowsSource(src, filepath.EvalSymlinks) {
		return mount.Mount{}, inputerr.Field("mount", m.String(), fmt.Errorf("host path %s is not under the floor's mounts.allowSources %v", src, floor.Mounts.AllowSources))
	}
	if m.Writable && decl.ReadOnly {
		return mount.Mount{}, inputerr.Field("mount", m.String(), fmt.Errorf("the policy declares %s read-only", m.Target))
	}
	if m.Writable && !floor.Mounts.AllowWritable {
		return mount.Mount{}, inputerr.Field("mount", m.String(), errors.New("this machine's floor does not allow writable mounts (mounts.allowWritable)"))
	}
	// The engine resolves src again at start: nobody else may be able to
	// redirect it in between (see hostpath.go).
	if err := checkHostPath(src, server[0], server[1]); err != nil {
		return mount.Mount{}, inputerr.Field("mount", m.String(), fmt.Errorf("%w; move the directory somewhere only you can write, or tighten the permissions", err))
	}
	b := mount.Mount{Type: mount.TypeBind, Source: src, Target: m.Target, ReadOnly: !m.Writable}
	if m.Writable {
		return b, nil
	}
	if rro {
		b.BindOptions = &mount.BindOptions{ReadOnlyForceRecursive: true}
		return b, nil
	}
	// Before API 1.44 only the top of a read-only bind is read-only; the
	// mounts below it would stay writable.
	subs, err := submounts(mountinfoPath, src)
	if err != nil {
		return mount.Mount{}, inputerr.Field("mount", m.String(), err)
	}
	if len(subs) > 0 {
		return mount.Mount{}, inputerr.Field("mount", m.String(), fmt.Errorf("%s has mounts below it (%s) that this engine (API before 1.44) would leave writable; mount a directory without submounts", src, strings.Join(subs, " ")))
	}
	return b, nil
}

// errMountSyntax is how a mount is written.
var errMountSyntax = errors.New("write SRC:TARGET or SRC:TARGET:rw")

// mountinfoPath lists the mounts of drydock's (and the engine's) namespace.
const mountinfoPath = "/proc/self/mountinfo"

// serverIDs parses the policy's numeric "uid:gid"; -1 where it is not one.
func serverIDs(user string) [2]int {
	ids := [2]int{-1, -1}
	u, g, _ := strings.Cut(user, ":")
	for i, s := range []string{u, g} {
		if n, err := strconv.Atoi(s); err == nil {
			ids[i] = n
		}
	}
	return ids
}

// sameMounts compares the engine's mounts with the requested ones on the
// fields that matter for isolation.
func sameMounts(got, want []mount.Mount) bool {
	key := func(m mount.Mount) string {
		rro := m.BindOptions != nil && m.BindOptions.ReadOnlyForceRecursive
		return fmt.Sprintf("%s|%s|%s|%t|%t", m.Type, m.Source, m.Target, m.ReadOnly, rro)
	}
	g, w := make([]string, len(got)), make([]string, len(want))
	for i, m := range got {
		g[i] = key(m)
	}
	for i, m := range want {
		w[i] = key(m)
	}
	return sameSet(g, w)
}

// sameMountPoints compares the mounts the engine says the container has
// (inspect's top-level Mounts) with the requested binds: nothing else may
// be there, in particular no volume for an image's VOLUME.
func sameMountPoints(got []container.MountPoint, want []mount.Mount) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(m container.MountPoint) bool {
			return m.Type == mount.TypeBind && m.Source == w.Source && m.Destination == w.Target && m.RW == !w.ReadOnly
		}) {
			return false
		}
	}
	return true
}

// envMismatch reports names in the container's environment that neither
// the image nor the request put there, and requested pairs that are missing.
// Only names are reported, never values.
func envMismatch(got, image, want []string) []string {
	allowed := map[string]bool{}
	for _, e := range append(slices.Clone(image), want...) {
		allowed[e] = true
	}
	var out []string
	for _, e := range got {
		if !allowed[e] {
			name, _, _ := strings.Cut(e, "=")
			out = append(out, "Env has unexpected "+name)
		}
	}
	have := map[string]bool{}
	for _, e := range got {
		have[e] = true
	}
	for _, e := range want {
		if !have[e] {
			name, _, _ := strings.Cut(e, "=")
			out = append(out, "Env lacks "+name)
		}
	}
	return out
}
