package closure

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// maxConfDepth stops include cycles (ldconfig has none and would loop).
const maxConfDepth = 16

// confDirs reads /etc/ld.so.conf and the files it includes, as ldconfig's
// parse_conf does, and returns the directories in the order ldconfig scans
// them. ldconfig puts the first directory's copy of a soname first in
// /etc/ld.so.cache, so this order is the cache's order. A missing file is
// no error (ldconfig ignores it too).
func (r root) confDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	r.parseConf("/etc/ld.so.conf", 0, func(d string) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	})
	return dirs
}

func (r root) parseConf(file string, depth int, add func(string)) {
	if depth > maxConfDepth {
		return
	}
	name, _, err := r.regular(file)
	if err != nil {
		return
	}
	data, err := fs.ReadFile(r.fsys, name)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimLeft(line, " \t\r\v\f")
		switch {
		case line == "":
		case strings.HasPrefix(line, "include") && len(line) > 7 && (line[7] == ' ' || line[7] == '\t'):
			for _, pat := range strings.FieldsFunc(line[8:], func(c rune) bool { return c == ' ' || c == '\t' }) {
				if !strings.HasPrefix(pat, "/") {
					pat = path.Join(path.Dir(file), pat)
				}
				for _, f := range r.glob(pat) {
					r.parseConf(f, depth+1, add)
				}
			}
		case len(line) > 5 && strings.EqualFold(line[:5], "hwcap") && (line[5] == ' ' || line[5] == '\t'):
			// ldconfig ignores hwcap directives
		default:
			d := strings.TrimRight(strings.TrimRight(line, " \t\r\v\f"), "/")
			if d != "" {
				add(d)
			}
		}
	}
}

// glob expands an absolute pattern inside the image, sorted as glob(3)
// sorts. Directories are resolved through the image's own symlinks.
func (r root) glob(pat string) []string {
	dir, base := path.Split(pat)
	dname, _, err := r.resolve(dir)
	if err != nil {
		return nil
	}
	ents, err := fs.ReadDir(r.fsys, dname)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if ok, _ := path.Match(base, e.Name()); ok && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}
