// Package closure computes which files of an image must be carried over for
// some of its executables to run: the executable (through its symlinks),
// its ELF interpreter and every shared library the interpreter would load,
// found the way glibc's ld.so finds them, without running anything (no
// ldd). A script's #! interpreter is carried the same way.
//
// The search for one DT_NEEDED name of an object (the loader) follows
// _dl_map_object in glibc's elf/dl-load.c:
//
//  1. a name that already answers for a loaded object (the name it was
//     asked for, or its DT_SONAME; the interpreter is loaded first) is
//     that object; a name with a '/' is a path;
//  2. unless the loader has DT_RUNPATH: the DT_RPATH of the loader, of the
//     object that loaded it, and so on up, then the executable's (the
//     executable's own RPATH is ignored when it has a RUNPATH);
//  3. LD_LIBRARY_PATH is ignored: the hardened image's environment decides
//     it, not the upstream's;
//  4. the loader's DT_RUNPATH;
//  5. /etc/ld.so.cache, modelled as ldconfig builds it: the directories of
//     /etc/ld.so.conf and its include files, then the trusted directories;
//  6. the default directories, for Debian/Ubuntu /lib/<triplet>,
//     /usr/lib/<triplet>, /lib, /usr/lib (5 and 6 skipped for
//     DF_1_NODEFLIB, which keeps only cache entries outside them).
//
// $ORIGIN, $LIB and $PLATFORM are expanded; a directory's glibc-hwcaps and
// legacy hwcap subdirectories are searched first, and every variant found
// there is carried, since the CPU that will run the image picks one. A
// file of the wrong ELF class or machine is skipped, as ld.so skips it.
// Objects load breadth first, so the first object to need a name decides
// where it is found.
//
// Paths in and out are image paths; the result is sorted fs.FS names (no
// leading slash) so that the carry list can be matched against tar entries.
//
// How harden is meant to use it, given the upstream image and the carry
// list of a catalog entry:
//
//	fsys, err := closure.FromImage(upstream)
//	if err != nil { ... }
//	defer fsys.Close()
//	files, err := closure.Of(fsys, entry.Carry, closure.WithPath(imagePATH))
//	if err != nil {
//		return fmt.Errorf("carrying %v from %s: %w", entry.Carry, src, err)
//	}
//	// files go into the app layer on top of the hardened base, before the
//	// hardening pass runs over the result.
package closure

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// ErrMissing is wrapped by the error for a library, interpreter or
// executable that is not in the image.
var ErrMissing = errors.New("not found in the image")

// maxScriptDepth is the kernel's limit on #! interpreters of interpreters
// (binfmt_script, 5 levels with the script itself).
const maxScriptDepth = 4

// defaultPATH is the PATH docker gives a container whose image sets none.
const defaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

type options struct {
	path []string
}

// Option configures Of.
type Option func(*options) error

// WithPath sets the PATH (colon separated, absolute directories) used for
// bare executable names and for `#!/usr/bin/env NAME` scripts. The default
// is Docker's default PATH; pass the image config's PATH when it has one.
func WithPath(p string) Option {
	return func(o *options) error {
		o.path = nil
		for _, d := range strings.Split(p, ":") {
			if !strings.HasPrefix(d, "/") {
				// a relative PATH entry depends on the working
				// directory, which the closure cannot know
				continue
			}
			o.path = append(o.path, d)
		}
		return nil
	}
}

// Of returns every file and symlink that must be carried for the given
// executables to run (see the package documentation). paths are absolute
// image paths or bare names looked up in PATH. fsys is the image root and
// must implement fs.ReadLinkFS so that symlinks are seen as links.
func Of(fsys fs.FS, paths []string, opts ...Option) ([]string, error) {
	o := options{}
	if err := WithPath(defaultPATH)(&o); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	rl, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		return nil, fmt.Errorf("the image file system (%T) does not implement fs.ReadLinkFS: symlinks would be followed instead of carried", fsys)
	}
	c := &collector{r: root{rl}, opts: o, carry: map[string]bool{}}
	for _, p := range paths {
		if err := c.executable(p, 0); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(c.carry))
	for name := range c.carry {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// collector gathers the carry set over all executables.
type collector struct {
	r     root
	opts  options
	carry map[string]bool
	conf  []string // ld.so.conf dirs, read once
	read  bool
}

func (c *collector) add(name string, links []string) {
	c.carry[name] = true
	for _, l := range links {
		c.carry[l] = true
	}
}

// lookPath finds a bare name in PATH the way execvp does (first regular
// file wins).
func (c *collector) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			return "", fmt.Errorf("executable %q is relative: name it by absolute path or bare name", name)
		}
		return name, nil
	}
	for _, d := range c.opts.path {
		p := d + "/" + name
		if _, _, err := c.r.regular(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %s is not in PATH %s: %w", name, strings.Join(c.opts.path, ":"), ErrMissing)
}

// executable carries one executable: an ELF file with its loader and
// libraries, or a #! script with its interpreter, recursively.
func (c *collector) executable(p string, depth int) error {
	p, err := c.lookPath(p)
	if err != nil {
		return err
	}
	name, links, err := c.r.regular(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("executable %s: %w", p, ErrMissing)
		}
		return fmt.Errorf("reading executable %s: %w", p, err)
	}
	c.add(name, links)
	obj, err := readObject(c.r.fsys, name)
	if errors.Is(err, errNotELF) {
		return c.script(p, name, depth)
	}
	if err != nil {
		return err
	}
	return c.load(p, name, obj)
}
