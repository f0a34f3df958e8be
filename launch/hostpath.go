package launch

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The engine, not drydock, resolves a bind's source path again when the
// container starts. Binding an open descriptor (/proc/PID/fd/N) instead is
// not possible: runc mounts from the container's new mount namespace and
// the kernel refuses to bind a mount of another namespace (EINVAL; tried
// with dockerd 20.10/runc and podman 4.3). So drydock makes sure nobody but
// root and the launching user can change what the resolved path names:
// no directory on the way to it may be writable by anyone else, and in
// particular not by the server's user through another container's mount.

// checkHostPath refuses a resolved, absolute source path src that another
// user, or the server's user uid:gid, could redirect before the engine
// resolves it again.
func checkHostPath(src string, serverUID, serverGID int) error {
	me, myGroup := os.Getuid(), os.Getgid()
	trusted := func(uid int) bool { return (uid == 0 || uid == me) && uid != serverUID }
	dir := "/"
	for _, name := range strings.Split(strings.TrimPrefix(src, "/"), "/") {
		d, err := lstat(dir)
		if err != nil {
			return err
		}
		child := filepath.Join(dir, name)
		c, err := lstat(child)
		if err != nil {
			return err
		}
		if c.mode&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s became a symbolic link while it was checked", child)
		}
		if !trusted(d.uid) {
			return fmt.Errorf("%s is owned by uid %d, who could replace %s before the engine mounts it", dir, d.uid, child)
		}
		others := d.mode.Perm()&0o002 != 0 || (d.mode.Perm()&0o020 != 0 && d.gid != 0 && (d.gid != myGroup || d.gid == serverGID))
		// In a sticky directory (/tmp) only an entry's owner may rename it.
		if others && (d.mode&fs.ModeSticky == 0 || !trusted(c.uid)) {
			return fmt.Errorf("%s is writable by other users, who could replace %s before the engine mounts it", dir, child)
		}
		dir = child
	}
	return nil
}

type owner struct {
	uid, gid int
	mode     fs.FileMode
}

func lstat(p string) (owner, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return owner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, fmt.Errorf("reading the owner of %s: not supported on this system", p)
	}
	return owner{uid: int(st.Uid), gid: int(st.Gid), mode: fi.Mode()}, nil
}

// submounts lists the mount points strictly below dir, from mountinfo
// (/proc/self/mountinfo).
func submounts(mountinfo, dir string) ([]string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("listing mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if strings.HasPrefix(mp, strings.TrimSuffix(dir, "/")+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
