package hardening

import (
	"archive/tar"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Audit reads the filesystem layers make and lists every path that breaks
// the hardening rules: setuid/setgid bits, file capabilities, world-writable
// paths other than sticky tmp directories, device nodes, and relative
// symlinks climbing above the root. It is independent of any Report, so
// tests and reviewers can check a pushed image rather than trust the pass.
func Audit(layers []v1.Layer, tmpPaths []string) ([]string, error) {
	t := newTree(1 << 30)
	t.keepNothing = true
	if err := t.applyLayers(layers); err != nil {
		return nil, err
	}
	p := &planner{o: Options{TmpPaths: tmpPaths}}
	var bad []string
	for name, n := range t.nodes {
		h := n.hdr
		switch {
		case h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock:
			bad = append(bad, "/"+name+": device node")
		case h.Typeflag == tar.TypeSymlink:
			if escapes(dirOf(name), h.Linkname) {
				bad = append(bad, "/"+name+": symlink climbs above the root")
			}
		default:
			if h.Mode&(modeSetuid|modeSetgid) != 0 {
				bad = append(bad, fmt.Sprintf("/%s: mode %#o has setuid/setgid", name, h.Mode))
			}
			if hasFileCaps(h) {
				bad = append(bad, "/"+name+": file capabilities")
			}
			if h.Mode&0o002 != 0 && !(h.Typeflag == tar.TypeDir && h.Mode&modeSticky != 0 && p.isTmp(name)) {
				bad = append(bad, fmt.Sprintf("/%s: mode %#o is world-writable", name, h.Mode))
			}
		}
	}
	sort.Strings(bad)
	return bad, nil
}

func dirOf(name string) string {
	if d := parentDir(name); d != "" {
		return d
	}
	return "."
}
