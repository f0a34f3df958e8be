package startcmd

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// maxLinks bounds symlink hops, as the kernel's ELOOP does.
const maxLinks = 40

// fsName turns an absolute image path into an fs.FS name.
func fsName(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// user is the numeric identity permissions are checked for.
type user struct{ uid, gid int }

func (u user) String() string { return fmt.Sprintf("%d:%d", u.uid, u.gid) }

// ownerOf reads a file's owner from what the image adapter (or a test) put
// in Sys: a *tar.Header. Without one the file counts as root's, as nearly
// every file in an image is.
func ownerOf(fi fs.FileInfo) (uid, gid int) {
	if h, ok := fi.Sys().(*tar.Header); ok {
		return h.Uid, h.Gid
	}
	return 0, 0
}

// may reports whether u has all of want (4 read, 2 write, 1 execute/search).
func (u user) may(fi fs.FileInfo, want fs.FileMode) bool {
	perm := fi.Mode().Perm()
	if u.uid == 0 {
		// root reads anything and searches any directory, but executes a
		// file only when some execute bit is set.
		return want&1 == 0 || fi.IsDir() || perm&0o111 != 0
	}
	uid, gid := ownerOf(fi)
	switch {
	case uid == u.uid:
		perm >>= 6
	case gid == u.gid:
		perm >>= 3
	}
	return perm&want == want
}

// walk follows p (absolute) through every symlink, as the kernel's path
// lookup does, and returns the real path and its (non-link) info. blocked is
// the first directory on the way that u may not search ("" if none).
func walk(fsys fs.FS, p string, u user) (real string, fi fs.FileInfo, blocked string, err error) {
	queue := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
	links := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		dir, err := fs.Stat(fsys, fsName(cur))
		if err != nil {
			return "", nil, "", err
		}
		if !dir.IsDir() {
			return "", nil, "", fmt.Errorf("%s is not a directory", cur)
		}
		if blocked == "" && !u.may(dir, 1) {
			blocked = cur
		}
		next := path.Join(cur, c)
		li, err := fs.Lstat(fsys, fsName(next))
		if err != nil {
			return "", nil, "", err
		}
		if li.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", nil, "", fmt.Errorf("%s: more than %d symbolic links", p, maxLinks)
		}
		target, err := fs.ReadLink(fsys, fsName(next))
		if err != nil {
			return "", nil, "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		queue = append(strings.Split(target, "/"), queue...)
	}
	fi, err = fs.Lstat(fsys, fsName(cur))
	if err != nil {
		return "", nil, "", err
	}
	return cur, fi, blocked, nil
}

// readHead returns the first bytes of a regular file at a real path.
func readHead(fsys fs.FS, real string, n int) ([]byte, error) {
	f, err := fsys.Open(fsName(real))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:m], nil
}

// lookupUser turns "uid[:gid]" or "name[:group]" into numbers, reading
// names from the image's /etc/passwd and /etc/group. It also returns the
// user's home directory when passwd names one.
func lookupUser(fsys fs.FS, spec string) (user, string, error) {
	if spec == "" {
		spec = "0"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	var u user
	home := ""
	uidKnown := false
	if n, err := strconv.Atoi(name); err == nil {
		u.uid, uidKnown = n, true
	}
	for _, f := range readColonFile(fsys, "etc/passwd") {
		if len(f) < 6 {
			continue
		}
		if f[0] == name || (uidKnown && f[2] == name) {
			u.uid, _ = strconv.Atoi(f[2])
			u.gid, _ = strconv.Atoi(f[3])
			home = f[5]
			uidKnown = true
			break
		}
	}
	if !uidKnown {
		return u, "", fmt.Errorf("user %q is not numeric and not in the image's /etc/passwd; use a numeric uid:gid", name)
	}
	if hasGroup {
		if n, err := strconv.Atoi(group); err == nil {
			u.gid = n
		} else if g, ok := groupID(fsys, group); ok {
			u.gid = g
		} else {
			return u, "", fmt.Errorf("group %q is not numeric and not in the image's /etc/group; use a numeric uid:gid", group)
		}
	}
	return u, home, nil
}

func groupID(fsys fs.FS, name string) (int, bool) {
	for _, f := range readColonFile(fsys, "etc/group") {
		if len(f) >= 3 && f[0] == name {
			n, err := strconv.Atoi(f[2])
			return n, err == nil
		}
	}
	return 0, false
}

func readColonFile(fsys fs.FS, name string) [][]string {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil
	}
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		out = append(out, strings.Split(sc.Text(), ":"))
	}
	return out
}
