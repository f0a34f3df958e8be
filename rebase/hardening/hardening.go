// Package hardening is drydock's one hardening pass. It reads an image's
// merged filesystem from its layers and produces a single deterministic
// layer that, put on top, leaves a filesystem with no setuid/setgid bits, no
// file capabilities, no world-writable paths outside tmpfs targets, no device
// nodes, no symlink climbing out of the root, optionally no shells, package
// managers or compilers, and a passwd/group entry plus home directory for the
// numeric non-root user. It also returns a Report of every change.
//
// Every strategy (rebuild, inplace, rebase) puts this same layer on top of
// its layer stack, so the hardened filesystem does not depend on the path
// taken. The package uses only go-containerregistry and the standard library.
package hardening

import (
	"archive/tar"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000

	passwdPath = "etc/passwd"
	groupPath  = "etc/group"
	capXattr   = "SCHILY.xattr.security.capability"
)

// Options say what the pass produces. The zero value is not usable; start
// from DefaultOptions.
type Options struct {
	// UID and GID the image will run as; they get passwd/group entries.
	UID, GID int
	// UserName is used for the new passwd/group entries (default "nonroot").
	UserName string
	// Home is the user's home directory, created owned by UID:GID.
	Home string
	// TmpPaths are directories that are tmpfs at run time (the policy's
	// tmpfs targets): they may stay world-writable when sticky.
	TmpPaths []string
	// RemoveTools whites out shells, package managers and compilers.
	RemoveTools bool
	// Keep names programs RemoveTools must not remove because the image's
	// entrypoint needs them (basenames, e.g. "node", "npx").
	Keep []string
	// MaxRewriteBytes bounds the content held in memory for rewritten files.
	MaxRewriteBytes int64
	// SourceDate stamps the entries the pass creates and caps the times of
	// the entries it rewrites, so the layer's bytes depend only on the
	// input filesystem and this date. Zero means the Unix epoch.
	SourceDate time.Time
	// LayerCache is a directory where the entries read from each layer are
	// kept by layer digest, so the next pass over the same layer (a shared
	// base across a mirror, a re-run) does not download and inflate it
	// again. "" disables it. Audit never uses it: a check reads the layers.
	LayerCache string
}

// DefaultOptions runs as 65532:65532 with /tmp as the only tmpfs.
func DefaultOptions() Options {
	return Options{
		UID: 65532, GID: 65532, UserName: "nonroot", Home: "/home/nonroot",
		TmpPaths:        []string{"/tmp"},
		MaxRewriteBytes: 256 << 20,
	}
}

// ParseUser reads a policy user "UID[:GID]" into opts.
func (o *Options) ParseUser(user string) error {
	u, g, found := strings.Cut(user, ":")
	uid, err := strconv.Atoi(u)
	if err != nil || uid <= 0 {
		return fmt.Errorf("user %q: want a numeric non-root UID[:GID]", user)
	}
	gid := uid
	if found {
		if gid, err = strconv.Atoi(g); err != nil || gid < 0 {
			return fmt.Errorf("user %q: want a numeric GID after the colon", user)
		}
	}
	o.UID, o.GID = uid, gid
	return nil
}

// Result is the hardening layer and what it changes.
type Result struct {
	Layer  v1.Layer
	Report *Report
}

// Harden computes the hardening layer for the filesystem that layers make
// when applied in order (bottom first).
func Harden(layers []v1.Layer, o Options) (*Result, error) {
	if o.UID <= 0 {
		return nil, fmt.Errorf("hardening needs a non-root UID, got %d", o.UID)
	}
	if o.MaxRewriteBytes == 0 {
		o.MaxRewriteBytes = DefaultOptions().MaxRewriteBytes
	}
	t := newTree(o.MaxRewriteBytes)
	t.cache = o.LayerCache
	if err := t.applyLayers(layers); err != nil {
		return nil, err
	}
	p := plan(t, o)
	layer, err := p.layer()
	if err != nil {
		return nil, fmt.Errorf("writing hardening layer: %w", err)
	}
	return &Result{Layer: layer, Report: p.report}, nil
}

// out is one entry of the hardening layer.
type out struct {
	hdr  *tar.Header
	data []byte
}

type planner struct {
	t      *tree
	o      Options
	report *Report
	outs   map[string]out
}

func plan(t *tree, o Options) *planner {
	p := &planner{t: t, o: o, report: &Report{User: fmt.Sprintf("%d:%d", o.UID, o.GID)}, outs: map[string]out{}}
	p.report.Entries = len(t.nodes)
	names := make([]string, 0, len(t.nodes))
	for n := range t.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	removals := p.removals()
	for _, name := range names {
		n := t.nodes[name]
		if removals[name] {
			p.whiteout(name)
			p.report.Removed = append(p.report.Removed, "/"+name)
			continue
		}
		p.check(name, n)
	}
	p.user()
	p.report.finish(MaxReportPaths)
	return p
}

// check fixes one entry of the merged filesystem.
func (p *planner) check(name string, n *node) {
	h := n.hdr
	switch h.Typeflag {
	case tar.TypeChar, tar.TypeBlock:
		p.whiteout(name)
		p.report.DevicesRemoved = append(p.report.DevicesRemoved, "/"+name)
		return
	case tar.TypeSymlink:
		p.symlink(name, h)
		return
	}
	mode := h.Mode
	if mode&(modeSetuid|modeSetgid) != 0 {
		mode &^= modeSetuid | modeSetgid
		label := "/" + name
		if n.link {
			label += " (hard link)"
		}
		p.report.SetuidCleared = append(p.report.SetuidCleared, label)
	}
	if mode&0o002 != 0 {
		if h.Typeflag == tar.TypeDir && p.isTmp(name) {
			mode |= modeSticky // a shared tmp dir, but nobody may delete others' files
		} else {
			mode &^= 0o002
			p.report.WorldWritableFixed = append(p.report.WorldWritableFixed, "/"+name)
		}
	}
	caps := hasFileCaps(h)
	if caps {
		p.report.CapabilitiesDropped = append(p.report.CapabilitiesDropped, "/"+name)
	}
	if mode == h.Mode && !caps {
		return
	}
	nh := copyHeader(h)
	nh.Mode = mode
	delete(nh.PAXRecords, capXattr)
	// Every name of the inode gets its own fixed copy: a hard link left in
	// place would still reach the old inode.
	p.outs[name] = out{hdr: nh, data: n.content()}
}

// symlink neutralises links that climb above the root by pointing them at
// the path the runtime would resolve anyway (".." at the root stays at the
// root), and reports absolute links, which resolve inside the container but
// not on a host that unpacks the image.
func (p *planner) symlink(name string, h *tar.Header) {
	target := h.Linkname
	if path.IsAbs(target) {
		p.report.AbsoluteSymlinks = append(p.report.AbsoluteSymlinks, "/"+name)
		return
	}
	joined := path.Join(path.Dir("/"+name), target)
	if !escapes(dirOf(name), target) {
		return
	}
	rel, _ := relPath(path.Dir("/"+name), joined)
	nh := copyHeader(h)
	nh.Linkname = rel
	p.outs[name] = out{hdr: nh}
	p.report.SymlinksNeutralised = append(p.report.SymlinksNeutralised, "/"+name+" -> "+target)
}

func (p *planner) whiteout(name string) {
	dir, base := path.Split(name)
	p.outs[dir+whiteoutPrefix+base] = out{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: dir + whiteoutPrefix + base, Mode: 0o644}}
}

func (p *planner) isTmp(name string) bool {
	for _, t := range p.o.TmpPaths {
		if strings.Trim(t, "/") == name {
			return true
		}
	}
	return false
}

// escapes says whether a relative symlink target climbs above the root when
// resolved from dir.
func escapes(dir, target string) bool {
	depth := 0
	if dir != "." && dir != "" {
		depth = len(strings.Split(dir, "/"))
	}
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// relPath is the relative path from dir to target (both absolute, clean).
func relPath(dir, target string) (string, error) {
	d := strings.Split(strings.Trim(dir, "/"), "/")
	t := strings.Split(strings.Trim(target, "/"), "/")
	if d[0] == "" {
		d = nil
	}
	if t[0] == "" {
		t = nil
	}
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(d)-i+len(t)-i)
	for range d[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

func hasFileCaps(h *tar.Header) bool {
	_, ok := h.PAXRecords[capXattr]
	return ok
}

// copyHeader keeps what matters for the filesystem and drops what would make
// the layer depend on the machine that wrote it (user names, access times).
func copyHeader(h *tar.Header) *tar.Header {
	nh := &tar.Header{
		Typeflag: h.Typeflag, Name: h.Name, Linkname: h.Linkname, Size: h.Size,
		Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime,
		Devmajor: h.Devmajor, Devminor: h.Devminor,
		PAXRecords: withXattrs(nil, h.PAXRecords),
	}
	return nh
}
