package closure

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// errNotELF marks a file without the ELF magic.
var errNotELF = errors.New("not an ELF file")

// object is what the loader reads from an ELF file: its identity (class,
// machine) and its dynamic section.
type object struct {
	class   elf.Class
	machine elf.Machine
	interp  string // PT_INTERP, "" for a static executable or a library
	needed  []string
	rpath   []string // DT_RPATH, split at ':'
	runpath []string // DT_RUNPATH, split at ':'
	hasRun  bool     // DT_RUNPATH present (even empty): RPATH is then ignored
	soname  string
	nodef   bool // DF_1_NODEFLIB: neither the cache nor the default dirs
}

// readObject parses the ELF file at name. A file that is not ELF reports
// errNotELF.
func readObject(fsys fs.FS, name string) (*object, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(f)
		if err != nil {
			return nil, err
		}
		ra = bytes.NewReader(data)
	}
	var magic [4]byte
	if _, err := ra.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, errNotELF
	}
	ef, err := elf.NewFile(ra)
	if err != nil {
		return nil, fmt.Errorf("reading ELF headers of %s: %w", abs(name), err)
	}
	o := &object{class: ef.Class, machine: ef.Machine}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, fmt.Errorf("reading PT_INTERP of %s: %w", abs(name), err)
			}
			o.interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if ef.SectionByType(elf.SHT_DYNAMIC) == nil {
		if hasDynamic(ef) {
			// debug/elf reads the dynamic section through the section
			// headers; stripped of them (sstrip), the file would look
			// like it needs nothing, so refuse instead of carrying too
			// little.
			return nil, fmt.Errorf("%s has a dynamic segment but no section headers: its libraries cannot be read; carry it with its libraries by path instead", abs(name))
		}
		return o, nil
	}
	if o.needed, err = ef.DynString(elf.DT_NEEDED); err != nil {
		return nil, fmt.Errorf("reading DT_NEEDED of %s: %w", abs(name), err)
	}
	rpath, _ := ef.DynString(elf.DT_RPATH)
	runpath, _ := ef.DynString(elf.DT_RUNPATH)
	o.rpath = splitPath(rpath)
	o.runpath = splitPath(runpath)
	o.hasRun = len(runpath) > 0
	if s, _ := ef.DynString(elf.DT_SONAME); len(s) > 0 {
		o.soname = s[0]
	}
	if v, err := ef.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 {
		o.nodef = elf.DynFlag1(v[0])&elf.DF_1_NODEFLIB != 0
	}
	return o, nil
}

func hasDynamic(ef *elf.File) bool {
	for _, p := range ef.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}

// splitPath splits DT_RPATH/DT_RUNPATH strings at ':' (a binary may carry
// more than one entry, the loader uses the first; so do we).
func splitPath(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return strings.Split(s[0], ":")
}
