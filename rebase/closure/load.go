package closure

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// mapped is one object in a simulated process: glibc's struct link_map,
// reduced to what the search needs.
type mapped struct {
	obj    *object
	opened string   // image path as opened (l_name); "" for the executable
	origin string   // $ORIGIN
	names  []string // names it answers to besides its soname
	loader *mapped  // the object whose DT_NEEDED loaded it (l_loader)
}

// process simulates ld.so loading one executable.
type process struct {
	c      *collector
	exe    string // image path, for errors
	lay    layout
	main   *mapped
	loaded []*mapped
}

// load carries the interpreter and the libraries of the ELF executable at
// image path p (fs name name).
func (c *collector) load(p, name string, obj *object) error {
	// The kernel starts the executable by its resolved path, and
	// /proc/self/exe (the executable's $ORIGIN) is that path.
	main := &mapped{obj: obj, origin: path.Dir(abs(name))}
	if obj.interp == "" && len(obj.needed) == 0 {
		return nil // static
	}
	lay, err := layoutFor(obj.class, obj.machine, obj.interp)
	if err != nil {
		return fmt.Errorf("executable %s: %w", p, err)
	}
	if obj.hasRun {
		// The executable's RPATH is dropped when it has a RUNPATH
		// (_dl_init_paths). A library's RPATH is only skipped while it
		// is the loader: it still serves the libraries it loads.
		obj.rpath = nil
	}
	pr := &process{c: c, exe: p, lay: lay, main: main, loaded: []*mapped{main}}
	if obj.interp != "" {
		if err := pr.interpreter(); err != nil {
			return err
		}
	}
	// Breadth first, as _dl_map_object_deps does: the first object to
	// need a name decides where it comes from.
	for i := 0; i < len(pr.loaded); i++ {
		m := pr.loaded[i]
		for _, n := range m.obj.needed {
			if pr.lookup(n) {
				continue
			}
			if err := pr.mapNew(n, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// interpreter maps PT_INTERP; it is loaded before any library and answers
// for its soname (libc's DT_NEEDED ld-linux-x86-64.so.2 is this object).
func (pr *process) interpreter() error {
	ip := pr.main.obj.interp
	name, links, err := pr.c.r.regular(ip)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("executable %s: ELF interpreter %s: %w", pr.exe, ip, ErrMissing)
		}
		return fmt.Errorf("executable %s: reading ELF interpreter %s: %w", pr.exe, ip, err)
	}
	obj, err := readObject(pr.c.r.fsys, name)
	if err != nil {
		return fmt.Errorf("executable %s: ELF interpreter %s: %w", pr.exe, ip, err)
	}
	if obj.class != pr.main.obj.class || obj.machine != pr.main.obj.machine {
		return fmt.Errorf("executable %s: ELF interpreter %s is %s %s, not %s %s", pr.exe, ip, obj.class, obj.machine, pr.main.obj.class, pr.main.obj.machine)
	}
	pr.c.add(name, links)
	// The interpreter's own DT_NEEDED (none for glibc's) is not walked:
	// it is relocated by itself, before the search paths exist.
	obj.needed = nil
	pr.loaded = append(pr.loaded, &mapped{obj: obj, opened: ip, origin: path.Dir(ip), names: []string{ip}})
	return nil
}

// lookup reports whether name answers for an object already mapped
// (_dl_lookup_map: the names it was opened as, or its soname).
func (pr *process) lookup(name string) bool {
	for _, m := range pr.loaded {
		if slices.Contains(m.names, name) || (m.obj.soname != "" && m.obj.soname == name) {
			if !slices.Contains(m.names, name) {
				m.names = append(m.names, name)
			}
			return true
		}
	}
	return false
}

// mapNew finds name for loader and maps it.
func (pr *process) mapNew(name string, loader *mapped) error {
	var hits []hit
	var searched []string
	var err error
	if strings.Contains(name, "/") {
		p := expand(name, loader.origin, pr.lay)
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("executable %s: %s needs %s, a path relative to the working directory, which cannot be resolved in the image", pr.exe, pr.who(loader), name)
		}
		searched = []string{p}
		hits, err = pr.try(p, name, loader)
	} else {
		hits, searched, err = pr.search(name, loader)
	}
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		return fmt.Errorf("executable %s: library %s needed by %s %w (searched %s); add it to the image or stop carrying %s",
			pr.exe, name, pr.who(loader), ErrMissing, strings.Join(searched, ", "), pr.exe)
	}
	for i, h := range hits {
		pr.c.add(h.name, h.links)
		m := &mapped{obj: h.obj, opened: h.opened, origin: path.Dir(h.opened), loader: loader}
		if i == 0 {
			// the first hit is the object ld.so maps by this name; other
			// hwcaps variants are carried and walked, answering to no name
			m.names = []string{name}
		}
		pr.loaded = append(pr.loaded, m)
	}
	return nil
}

// who names an object in an error.
func (pr *process) who(m *mapped) string {
	if m.opened == "" {
		return pr.exe
	}
	return m.opened
}
