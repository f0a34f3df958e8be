package closure

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// hit is one file that answers a search.
type hit struct {
	obj    *object
	opened string   // image path as opened
	name   string   // fs name of the file
	links  []string // symlinks on the way
}

// search runs ld.so's search order for name needed by loader (see the
// package documentation) and returns the first directory's hits and the
// directories searched.
func (pr *process) search(name string, loader *mapped) ([]hit, []string, error) {
	var searched []string
	seen := map[string]bool{}
	// origin is nil for the cache and default dirs: ldconfig and the
	// built-in list take their directories literally.
	tryDirs := func(dirs []string, origin *string) ([]hit, error) {
		for _, d := range dirs {
			if origin != nil {
				d = expand(d, *origin, pr.lay)
			}
			if !strings.HasPrefix(d, "/") {
				continue // relative to the working directory (or empty)
			}
			// not path.Clean: "bin/.." is the parent of where the link
			// bin points, which the walk resolves; ld.so only drops
			// trailing slashes (fillin_rpath)
			if d = strings.TrimRight(d, "/"); d == "" {
				d = "/"
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			searched = append(searched, d)
			if hits, err := pr.tryDir(d, name, loader); err != nil || len(hits) > 0 {
				return hits, err
			}
		}
		return nil, nil
	}
	try := func(dirs []string, origin *string) ([]hit, []string, error, bool) {
		hits, err := tryDirs(dirs, origin)
		return hits, searched, err, err != nil || len(hits) > 0
	}

	if !loader.obj.hasRun {
		didMain := false
		for l := loader; l != nil; l = l.loader {
			if hits, s, err, done := try(l.obj.rpath, &l.origin); done {
				return hits, s, err
			}
			didMain = didMain || l == pr.main
		}
		if !didMain {
			if hits, s, err, done := try(pr.main.obj.rpath, &pr.main.origin); done {
				return hits, s, err
			}
		}
	}
	if hits, s, err, done := try(loader.obj.runpath, &loader.origin); done {
		return hits, s, err
	}
	if hits, s, err, done := try(pr.cacheDirs(loader.obj.nodef), nil); done {
		return hits, s, err
	}
	if !loader.obj.nodef {
		if hits, s, err, done := try(pr.lay.system, nil); done {
			return hits, s, err
		}
	}
	return nil, searched, nil
}

// cacheDirs are the directories /etc/ld.so.cache would be built from.
// With DF_1_NODEFLIB, ld.so drops cache entries under a system directory
// (a prefix match, so subdirectories too).
func (pr *process) cacheDirs(nodef bool) []string {
	var dirs []string
	if pr.lay.conf {
		if !pr.c.read {
			pr.c.conf, pr.c.read = pr.c.r.confDirs(), true
		}
		dirs = append(dirs, pr.c.conf...)
	}
	dirs = append(dirs, pr.lay.trusted...)
	if !nodef {
		return dirs
	}
	var keep []string
	for _, d := range dirs {
		under := false
		for _, s := range pr.lay.system {
			under = under || strings.HasPrefix(d+"/", strings.TrimSuffix(s, "/")+"/")
		}
		if !under {
			keep = append(keep, d)
		}
	}
	return keep
}

// tryDir looks for name in one search directory: its glibc-hwcaps
// subdirectories (highest level first), the legacy hwcap subdirectories
// glibc up to 2.36 searches, then the directory itself. All variants found
// are returned: which one loads depends on the CPU that runs the image.
func (pr *process) tryDir(dir, name string, loader *mapped) ([]hit, error) {
	var cands []string
	if hw, _, err := pr.c.r.resolve(dir + "/glibc-hwcaps"); err == nil {
		if ents, err := fs.ReadDir(pr.c.r.fsys, hw); err == nil {
			var subs []string
			for _, e := range ents {
				subs = append(subs, e.Name())
			}
			sort.Sort(sort.Reverse(sort.StringSlice(subs)))
			for _, s := range subs {
				cands = append(cands, dir+"/glibc-hwcaps/"+s+"/"+name)
			}
		}
	}
	p := pr.lay.platform
	for _, s := range []string{"tls/" + p + "/" + p, "tls/" + p, "tls", p + "/" + p, p} {
		cands = append(cands, dir+"/"+s+"/"+name)
	}
	cands = append(cands, dir+"/"+name)
	var hits []hit
	for _, c := range cands {
		h, err := pr.try(c, name, loader)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	return hits, nil
}

// try opens one candidate the way open_verify does: a missing file, or an
// ELF file of another class or machine, is passed over; a file that is not
// ELF at all stops ld.so ("invalid ELF header"), so it stops the closure.
func (pr *process) try(p, name string, loader *mapped) ([]hit, error) {
	fname, links, err := pr.c.r.regular(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("executable %s: looking for %s at %s: %w", pr.exe, name, p, err)
	}
	obj, err := readObject(pr.c.r.fsys, fname)
	if errors.Is(err, errNotELF) {
		return nil, fmt.Errorf("executable %s: %s (needed by %s) is not an ELF file, and ld.so stops there; remove it or stop carrying %s", pr.exe, p, pr.who(loader), pr.exe)
	}
	if err != nil {
		return nil, fmt.Errorf("executable %s: %w", pr.exe, err)
	}
	if obj.class != pr.main.obj.class || obj.machine != pr.main.obj.machine {
		return nil, nil
	}
	return []hit{{obj: obj, opened: p, name: fname, links: links}}, nil
}
