package closure

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// maxHops bounds symlink chains the way the kernel does (ELOOP after 40).
const maxHops = 40

// root is an image root file system that is walked by hand: every path
// component is looked up with Lstat and links are re-rooted at the image
// root, so an absolute link target never reaches the host (os.DirFS would
// follow it there) and every link on the way is recorded for carrying.
type root struct {
	fsys fs.ReadLinkFS
}

// rel turns an absolute image path into an fs.FS name ("/usr/bin/git" →
// "usr/bin/git", "/" → ".").
func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// abs is the inverse of rel.
func abs(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

// resolve follows p (absolute, in the image) to the file it names and
// returns that file's fs name and every symlink passed on the way, in a
// parent directory or at the end.
func (r root) resolve(p string) (name string, links []string, err error) {
	// not rel(p): path.Clean would take "link/.." lexically, while the
	// kernel goes up from where the link points
	rest := strings.Split(p, "/")
	cur := "."
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".", "":
			continue
		case "..":
			cur = path.Dir(cur) // the root's parent is the root
			continue
		}
		next := path.Join(cur, c)
		fi, err := r.fsys.Lstat(next)
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > maxHops {
				return "", nil, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
			}
			target, err := r.fsys.ReadLink(next)
			if err != nil {
				return "", nil, err
			}
			links = append(links, next)
			if strings.HasPrefix(target, "/") {
				cur = "."
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		if len(rest) > 0 && !fi.IsDir() {
			return "", nil, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ENOTDIR}
		}
		cur = next
	}
	return cur, links, nil
}

// regular resolves p and checks that it names a regular file; a path that
// is missing or names a directory reports fs.ErrNotExist so that a search
// moves on to the next directory, as ld.so's open does.
func (r root) regular(p string) (name string, links []string, err error) {
	name, links, err = r.resolve(p)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return "", nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		return "", nil, err
	}
	fi, err := r.fsys.Lstat(name)
	if err != nil {
		return "", nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s is not a regular file: %w", p, fs.ErrNotExist)
	}
	return name, links, nil
}
