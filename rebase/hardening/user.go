package hardening

import (
	"archive/tar"
	"fmt"
	"strconv"
	"strings"
)

// user makes sure the numeric user has passwd and group entries (so tools
// and runtimes that look names up work) and an existing home directory it
// owns, creating only what is missing.
func (p *planner) user() {
	o := p.o
	name := o.UserName
	if name == "" {
		name = "nonroot"
	}
	home := strings.Trim(o.Home, "/")
	passwd := p.content(passwdPath)
	if !hasID(passwd, 2, o.UID) {
		n := freeName(passwd, name)
		line := fmt.Sprintf("%s:x:%d:%d:%s:/%s:/sbin/nologin\n", n, o.UID, o.GID, n, home)
		p.writeFile(passwdPath, withLine(passwd, line))
		p.report.UserAdded = true
	}
	group := p.content(groupPath)
	if !hasID(group, 2, o.GID) {
		n := freeName(group, name)
		p.writeFile(groupPath, withLine(group, fmt.Sprintf("%s:x:%d:\n", n, o.GID)))
		p.report.GroupAdded = true
	}
	if home == "" {
		return
	}
	if n, ok := p.t.nodes[home]; ok && n.hdr.Typeflag == tar.TypeDir && n.hdr.Uid == o.UID {
		return
	}
	// Parents that do not exist yet are created root-owned 0755.
	for dir := parentDir(home); dir != ""; dir = parentDir(dir) {
		if _, ok := p.t.nodes[dir]; !ok {
			p.outs[dir] = out{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}}
		}
	}
	if n, ok := p.t.nodes[home]; ok && n.hdr.Typeflag != tar.TypeDir {
		// A file or link where home should be: replace it.
		p.whiteout(home)
	}
	p.outs[home] = out{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: home, Mode: 0o755, Uid: o.UID, Gid: o.GID}}
	p.report.HomeCreated = "/" + home
}

// content is a regular file's content in the merged filesystem; a missing
// file, or a link or other non-file where one is expected, reads as empty
// and is then replaced by a regular file.
func (p *planner) content(name string) string {
	if o, ok := p.outs[name]; ok {
		return string(o.data)
	}
	n, ok := p.t.nodes[name]
	if !ok || n.hdr.Typeflag != tar.TypeReg {
		return ""
	}
	return string(n.content())
}

func (p *planner) writeFile(name, data string) {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}
	if n, ok := p.t.nodes[name]; ok && n.hdr.Typeflag == tar.TypeReg {
		hdr = copyHeader(n.hdr)
		hdr.Mode &^= modeSetuid | modeSetgid | 0o022
	}
	hdr.Size = int64(len(data))
	p.outs[name] = out{hdr: hdr, data: []byte(data)}
}

// hasID says whether a colon-separated database has an entry whose field
// (0-based) is id.
func hasID(db string, field, id int) bool {
	want := strconv.Itoa(id)
	for _, line := range strings.Split(db, "\n") {
		f := strings.Split(line, ":")
		if len(f) > field && f[field] == want {
			return true
		}
	}
	return false
}

// freeName returns name, or "drydock-"+name when name is taken by another id.
func freeName(db, name string) string {
	for _, line := range strings.Split(db, "\n") {
		if strings.HasPrefix(line, name+":") {
			return "drydock-" + name
		}
	}
	return name
}

func withLine(db, line string) string {
	if db != "" && !strings.HasSuffix(db, "\n") {
		db += "\n"
	}
	return db + line
}

func parentDir(p string) string {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return ""
	}
	return p[:i]
}
