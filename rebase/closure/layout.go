package closure

import (
	"debug/elf"
	"fmt"
	"path"
	"strings"
)

// layout is what a glibc build fixes at configure time and ld.so needs to
// search: the $LIB and $PLATFORM expansions, the trusted directories that
// ldconfig adds to /etc/ld.so.cache after the ld.so.conf ones, and the
// default ("system") directories searched last.
type layout struct {
	lib, platform string
	trusted       []string // SLIBDIR, LIBDIR: cached after ld.so.conf dirs
	system        []string // searched after the cache, in this order
	conf          bool     // /etc/ld.so.conf feeds the cache
}

// triplet returns the multiarch triplet and AT_PLATFORM value of a
// machine Debian and Ubuntu ship.
func triplet(m elf.Machine) (triplet, platform string, ok bool) {
	switch m {
	case elf.EM_X86_64:
		return "x86_64-linux-gnu", "x86_64", true
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu", "aarch64", true
	case elf.EM_386:
		return "i386-linux-gnu", "i686", true
	}
	return "", "", false
}

// layoutFor picks the layout of the loader an executable names. Debian and
// Ubuntu's glibc (what the upstream images are built on) is configured with
// slibdir=/lib/<triplet>, so `ld.so --help` on Debian 12 lists the system
// search path /lib/<triplet>, /usr/lib/<triplet>, /lib, /usr/lib and $LIB
// expands to lib/<triplet> (checked with LD_DEBUG=libs). /lib64 and
// /usr/lib64 are upstream glibc's x86_64 defaults (Fedora), not Debian's:
// Debian's /lib64 holds only the loader. A Nix loader
// (/nix/store/<hash>-glibc-<v>/lib/ld-linux-*.so.2) has its own lib dir as
// its only default and reads no /etc/ld.so.conf.
func layoutFor(class elf.Class, machine elf.Machine, interp string) (layout, error) {
	trip, platform, ok := triplet(machine)
	if !ok || (machine == elf.EM_386) != (class == elf.ELFCLASS32) {
		return layout{}, fmt.Errorf("%s %s executables are not supported (only x86_64, aarch64 and i386 glibc)", class, machine)
	}
	if strings.HasPrefix(interp, "/nix/store/") {
		return layout{lib: "lib", platform: platform, system: []string{path.Dir(interp)}}, nil
	}
	multi := []string{"/lib/" + trip, "/usr/lib/" + trip}
	return layout{
		lib:      "lib/" + trip,
		platform: platform,
		trusted:  multi,
		system:   append(append([]string{}, multi...), "/lib", "/usr/lib"),
		conf:     true,
	}, nil
}

// expand replaces the dynamic string tokens ld.so knows ($ORIGIN, $LIB,
// $PLATFORM, also in ${...} form) in one path element, the way
// _dl_dst_substitute does: a token must not run on into an identifier
// character, and an unknown $NAME stays as it is.
func expand(s, origin string, lay layout) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		matched := false
		for _, tok := range []struct{ name, repl string }{
			{"ORIGIN", origin}, {"PLATFORM", lay.platform}, {"LIB", lay.lib},
		} {
			if n := dst(rest, tok.name); n > 0 {
				b.WriteString(tok.repl)
				i += n
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte('$')
		}
	}
	return b.String()
}

// dst returns how many bytes of s (after the '$') the token name takes, 0
// when s does not start with it.
func dst(s, name string) int {
	curly := strings.HasPrefix(s, "{")
	if curly {
		if strings.HasPrefix(s[1:], name+"}") {
			return len(name) + 2
		}
		return 0
	}
	if !strings.HasPrefix(s, name) {
		return 0
	}
	if len(s) > len(name) {
		c := s[len(name)]
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return 0
		}
	}
	return len(name)
}
