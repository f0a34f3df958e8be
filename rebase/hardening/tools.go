package hardening

import (
	"archive/tar"
	"path"
	"regexp"
	"slices"
	"strings"
)

// binDirs are where shells, package managers and compilers live.
var binDirs = []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"}

// nixBinDir matches a Nix store package's bin directory
// (/nix/store/<hash>-<name>/bin), where Nixpacks images keep their tools.
var nixBinDir = regexp.MustCompile(`^nix/store/[^/]+/(bin|sbin)$`)

// npmEntryPoints matches the entry points of the npm and corepack packages
// node distributions bundle (/usr/local/lib/node_modules/npm/bin/npm-cli.js,
// the nodejs store path's lib/node_modules/npm/bin/npx, ...): with the bin
// links gone, `node …/npm-cli.js` would still be a package manager.
var npmEntryPoints = regexp.MustCompile(`^(usr/lib|usr/local/lib|nix/store/[^/]+/lib)/node_modules/(npm|corepack)/bin/`)

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
		dir = path.Clean(dir)
		entry := npmEntryPoints.MatchString(name)
		if !entry && (!slices.Contains(binDirs, dir) && !nixBinDir.MatchString(dir) && !p.venvBin(dir) || !toolPattern.MatchString(base)) {
			continue
		}
		if kept(p.o.Keep, name, base) || n.hdr.Typeflag == tar.TypeDir {
			continue
		}
		out[name] = true
	}
	return out
}

// venvBin says whether dir is a Python venv's bin directory (its parent
// holds pyvenv.cfg), where pip installs itself: Nixpacks' /opt/venv/bin
// carries pip and pip3 next to the server's console script.
func (p *planner) venvBin(dir string) bool {
	if path.Base(dir) != "bin" {
		return false
	}
	n, ok := p.t.nodes[path.Join(path.Dir(dir), "pyvenv.cfg")]
	return ok && n.hdr.Typeflag == tar.TypeReg
}

// kept says whether Keep names this path: an entry with a slash names one
// path (the start command's resolved program), a bare name every program
// of that name.
func kept(keep []string, name, base string) bool {
	for _, k := range keep {
		if k == base || strings.Contains(k, "/") && strings.TrimPrefix(path.Clean(k), "/") == name {
			return true
		}
	}
	return false
}
