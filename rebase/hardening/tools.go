package hardening

import (
	"archive/tar"
	"path"
	"regexp"
	"slices"
)

// binDirs are where shells, package managers and compilers live.
var binDirs = []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"}

// toolPattern matches the basenames RemoveTools whites out: shells, package
// managers (apt, dpkg, apk, rpm family, language package managers) and
// compilers/linkers, including versioned names such as gcc-12.
var toolPattern = regexp.MustCompile(`^(` +
	`sh|bash|rbash|dash|ash|zsh|ksh|mksh|csh|tcsh|fish|busybox|toybox|` +
	`apt|apt-get|apt-cache|apt-key|apt-mark|apt-config|aptitude|dpkg|dpkg-deb|dpkg-query|dpkg-divert|` +
	`apk|yum|dnf|microdnf|rpm|zypper|pacman|` +
	`npm|npx|yarn|yarnpkg|pnpm|corepack|pip|pip3|pip3\.\d+|pipx|gem|bundle|cargo|` +
	`gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|tcc|ld|ld\.bfd|ld\.gold|as|make|` +
	`(x86_64|aarch64)-linux-gnu-(gcc|g\+\+|cpp|ld|as)` +
	`)(-\d+(\.\d+)*)?$`)

// removals is the set of paths RemoveTools whites out.
func (p *planner) removals() map[string]bool {
	out := map[string]bool{}
	if !p.o.RemoveTools {
		return out
	}
	for name, n := range p.t.nodes {
		dir, base := path.Split(name)
		if !slices.Contains(binDirs, path.Clean(dir)) || !toolPattern.MatchString(base) {
			continue
		}
		if slices.Contains(p.o.Keep, base) || n.hdr.Typeflag == tar.TypeDir {
			continue
		}
		out[name] = true
	}
	return out
}
