package hardening

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"
)

// The unpackers (containerd's archive.Apply, moby's UnpackLayer) do two
// things a by-name view gets wrong, and this file models both:
//
//   - A hard link entry binds its name to the target's inode, then applies
//     the link entry's own owner, xattrs and mode to that inode, so every
//     name of the inode changes. A later entry at one name replaces that
//     name only; the other names keep the old inode.
//   - An entry's parent path is resolved through symlinks (fs.RootPath),
//     and missing parents are created 0755. Overlay appliers (dockerd
//     overlay2, containerd's overlay snapshotter) resolve only within the
//     layer being applied; naive appliers (BuildKit's native snapshotter,
//     vfs) resolve in the merged tree. They agree for symlinks the same
//     layer wrote and disagree for symlinks of lower layers, so such
//     entries are refused.

// maxSymlinkHops bounds parent resolution, as fs.RootPath does.
const maxSymlinkHops = 255

// inode is a regular file's metadata and content, shared by all the names
// hard links bind to it.
type inode struct {
	hdr  *tar.Header // mode, owner and xattrs as last applied
	data []byte
	held bool // data is the content (or the file is empty)
	// layer and ord locate the entry that wrote the content, so content a
	// later link makes worth rewriting can be read again (fetchContent).
	layer, ord int
	names      int // names bound to it in the tree
}

// content is a node's file content, when held.
func (n *node) content() []byte {
	if n.ino == nil {
		return nil
	}
	return n.ino.data
}

// resolveDir is the path the unpackers write entries of dir into: symlinks
// of this layer are followed, a symlink of a lower layer is refused, and
// with create missing directories are added the way mkparent adds them.
func (t *tree) resolveDir(dir string, layer int, entry string, create bool) (string, error) {
	var cur []string
	parts := splitPath(dir)
	hops := 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 { // ".." at the root stays at the root
				cur = cur[:len(cur)-1]
			}
			continue
		}
		p := strings.Join(append(cur[:len(cur):len(cur)], c), "/")
		n, ok := t.nodes[p]
		switch {
		case !ok:
			if create {
				t.nodes[p] = &node{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: 0o755}, layer: layer}
			}
		case n.hdr.Typeflag == tar.TypeSymlink:
			if n.layer < layer {
				return "", fmt.Errorf("%w: /%s is written through /%s, a symlink from a lower layer; container engines disagree on where it lands (overlay keeps it under a new directory, others follow the link), so rebuild the layer with the real path", ErrUnsafeLayer, entry, p)
			}
			if hops++; hops > maxSymlinkHops {
				return "", fmt.Errorf("%w: /%s: too many levels of symlinks in its parent path", ErrUnsafeLayer, entry)
			}
			if path.IsAbs(n.hdr.Linkname) {
				cur = nil
			}
			parts = append(splitPath(n.hdr.Linkname), parts...)
			continue
		case n.hdr.Typeflag != tar.TypeDir:
			return "", fmt.Errorf("%w: /%s is written under /%s, which is not a directory", ErrUnsafeLayer, entry, p)
		}
		cur = append(cur, c)
	}
	return strings.Join(cur, "/"), nil
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// resolve is the path an entry named name lands at: its parent resolved,
// its last element kept (the unpackers replace a symlink there, never
// follow it).
func (t *tree) resolve(name string, layer int, create bool) (string, error) {
	dir, base := path.Split(name)
	rdir, err := t.resolveDir(strings.TrimSuffix(dir, "/"), layer, name, create)
	if err != nil {
		return "", err
	}
	return path.Join(rdir, base), nil
}

// link merges a hard link entry named name (already resolved): it binds
// name to the target's inode and applies the entry's metadata to it.
func (t *tree) link(layer int, name string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link %s: %w", name, err)
	}
	if target, err = t.resolve(target, layer, false); err != nil {
		return err
	}
	tn, ok := t.nodes[target]
	if !ok || target == name {
		return fmt.Errorf("%w: hard link /%s points to /%s, which does not exist; engines cannot unpack it", ErrUnsafeLayer, name, target)
	}
	switch tn.hdr.Typeflag {
	case tar.TypeDir:
		return fmt.Errorf("%w: hard link /%s points to the directory /%s", ErrUnsafeLayer, name, target)
	case tar.TypeReg:
		ino := tn.ino
		// The link's mode replaces the inode's; keeping the old setuid,
		// setgid and world-writable bits as well covers unpackers that skip
		// the chmod (older moby), at the cost of a rewrite too many.
		ino.hdr.Mode = hdr.Mode | ino.hdr.Mode&(modeSetuid|modeSetgid|0o002)
		ino.hdr.Uid, ino.hdr.Gid = hdr.Uid, hdr.Gid
		ino.hdr.PAXRecords = withXattrs(ino.hdr.PAXRecords, hdr.PAXRecords)
		t.bind(name, &node{hdr: ino.hdr, layer: layer, ino: ino, link: true})
	default: // a link to a symlink, device or fifo is another such entry
		nh := copyHeader(tn.hdr)
		nh.Name, nh.Uid, nh.Gid = name, hdr.Uid, hdr.Gid
		if nh.Typeflag != tar.TypeSymlink {
			nh.Mode = hdr.Mode
		}
		t.bind(name, &node{hdr: nh, layer: layer})
	}
	return nil
}

// bind puts n at name, replacing what was there the way the unpackers do:
// a directory over a directory merges, anything else removes the old path
// (with its contents).
func (t *tree) bind(name string, n *node) {
	if old, ok := t.nodes[name]; ok {
		if old.hdr.Typeflag == tar.TypeDir && n.hdr.Typeflag != tar.TypeDir {
			t.remove(name) // a file replacing a directory removes its contents
		} else {
			t.unlink(old)
		}
	}
	if n.ino != nil {
		n.ino.names++
	}
	t.nodes[name] = n
}

// unlink drops one name of a node's inode; content no name reaches any
// more stops counting against the memory bound.
func (t *tree) unlink(n *node) {
	if n.ino == nil {
		return
	}
	if n.ino.names--; n.ino.names == 0 {
		t.kept -= int64(len(n.ino.data))
	}
}

// mustRewrite says whether the pass may rewrite the file: a bad mode or
// capability, or a file the pass edits.
func mustRewrite(name string, h *tar.Header) bool {
	return h.Mode&(modeSetuid|modeSetgid|0o002) != 0 || hasFileCaps(h) ||
		name == passwdPath || name == groupPath
}

// withXattrs adds src's xattr records to dst (allocated when nil) and
// returns it: xattrs are the only PAX records the unpackers apply to a file,
// and the others (times, names) would make the layer depend on its writer.
func withXattrs(dst, src map[string]string) map[string]string {
	for k, v := range src {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			if dst == nil {
				dst = map[string]string{}
			}
			dst[k] = v
		}
	}
	return dst
}
