package startcmd

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing/fstest"
)

// This file lays out images the way Nixpacks builds them, for the tests and
// the catalog report: railwayapp/nixpacks base/ubuntu/Dockerfile (Ubuntu,
// Determinate Nix, the profile lines it appends to /root/.profile, its ENV)
// and src/nixpacks/builder/docker/dockerfile_generation.rs (nix-env -if into
// root's profile, each phase's paths as `ENV NIXPACKS_PATH=p:$NIXPACKS_PATH`
// and `printf '\nPATH=p:$PATH' >> /root/.profile`, plan variables as ENV,
// ENTRYPOINT ["/bin/bash","-l","-c"], CMD ["<start cmd>"], WORKDIR /app).

// plan is the part of a Nixpacks build plan that shapes the image.
type plan struct {
	Variables map[string]string `json:"variables"`
	Phases    map[string]phase  `json:"phases"`
	Start     struct {
		Cmd      string `json:"cmd"`
		RunImage string `json:"runImage"`
	} `json:"start"`
}

type phase struct {
	DependsOn []string `json:"dependsOn"`
	Cmds      []string `json:"cmds"`
	Paths     []string `json:"paths"`
	NixPkgs   []string `json:"nixPkgs"`
}

// Files as Ubuntu noble ships them (root's .profile, /etc/profile) and as the
// Determinate Nix installer writes /etc/profile.d/nix.sh.
const (
	ubuntuEtcProfile = `# /etc/profile: system-wide .profile file for the Bourne shell (sh(1))
# and Bourne compatible shells (bash(1), ksh(1), ash(1), ...).

if [ "${PS1-}" ]; then
  if [ "${BASH-}" ] && [ "$BASH" != "/bin/sh" ]; then
    # The file bash.bashrc already sets the default PS1.
    # PS1='\h:\w\$ '
    if [ -f /etc/bash.bashrc ]; then
      . /etc/bash.bashrc
    fi
  else
    if [ "$(id -u)" -eq 0 ]; then
      PS1='# '
    else
      PS1='$ '
    fi
  fi
fi

if [ -d /etc/profile.d ]; then
  for i in /etc/profile.d/*.sh; do
    if [ -r $i ]; then
      . $i
    fi
  done
  unset i
fi
`
	ubuntuRootProfile = `# ~/.profile: executed by Bourne-compatible login shells.

if [ "$BASH" ]; then
  if [ -f ~/.bashrc ]; then
    . ~/.bashrc
  fi
fi

mesg n 2> /dev/null || true
`
	determinateNixSh = `
# Nix
if [ -e '/nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh' ]; then
  . '/nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh'
fi
# End Nix

`
	// nixpacksBaseProfile is what base/ubuntu/Dockerfile's printf appends
	// (no newline at the end: the phases' printf starts with one).
	nixpacksBaseProfile = "if [ -d $HOME/.nix-profile/etc/profile.d ]; then\n for i in $HOME/.nix-profile/etc/profile.d/*.sh; do\n if [ -r $i ]; then\n . $i\n fi\n done\n fi\nPATH=$NIXPACKS_PATH:$PATH"
)

// nixpacksBaseEnv is base/ubuntu/Dockerfile's ENV.
var nixpacksBaseEnv = []string{
	"ENV=/etc/profile", "USER=root",
	"PATH=/nix/var/nix/profiles/default/bin:/nix/var/nix/profiles/default/sbin:/bin:/sbin:/usr/bin:/usr/sbin",
	"GIT_SSL_CAINFO=/etc/ssl/certs/ca-certificates.crt", "NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
	"NIX_PATH=/nix/var/nix/profiles/per-user/root/channels", "NIXPKGS_ALLOW_BROKEN=1", "NIXPKGS_ALLOW_UNFREE=1",
	"NIXPKGS_ALLOW_INSECURE=1", "LD_LIBRARY_PATH=/usr/lib", "CPATH=~/.nix-profile/include:", "LIBRARY_PATH=~/.nix-profile/lib:",
	"QTDIR=~/.nix-profile:",
}

// nixBins are the programs a nixpkgs attribute puts in the profile's bin.
var nixBins = map[string][]string{
	"nodejs": {"node", "npm", "npx", "corepack"}, "npm": {"npm", "npx"}, "pnpm": {"pnpm", "pnpx"},
	"yarn": {"yarn", "yarnpkg"}, "bun": {"bun", "bunx"}, "python3": {"python3", "python"}, "python": {"python3", "python"},
	"deno": {"deno"}, "go": {"go", "gofmt"}, "jdk": {"java", "javac"}, "maven": {"mvn"}, "gcc": {"gcc", "cc"},
	"poetry": {"poetry"}, "uv": {"uv"}, "rust": {"cargo", "rustc"}, "caddy": {"caddy"},
}

func elf() *fstest.MapFile              { return &fstest.MapFile{Data: []byte("\x7fELF\x02\x01\x01"), Mode: 0o555} }
func dir(m fs.FileMode) *fstest.MapFile { return &fstest.MapFile{Mode: fs.ModeDir | m} }
func link(to string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(to), Mode: fs.ModeSymlink | 0o777}
}
func file(s string, m fs.FileMode) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: m} }

// sortedPhases orders phases as get_sorted_phases does: dependencies first
// (ties by name, as the plan's map is ordered).
func sortedPhases(ph map[string]phase) []string {
	var names []string
	for n := range ph {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, d := range ph[n].DependsOn {
			if _, ok := ph[d]; ok {
				visit(d)
			}
		}
		out = append(out, n)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

// nixpacksImage lays out the image Nixpacks builds from p, with app's files
// under /app, and returns it with its config.
func nixpacksImage(p plan, app map[string]*fstest.MapFile) (fstest.MapFS, ImageConfig) {
	m := fstest.MapFS{
		"bin":                    link("usr/bin"),
		"sbin":                   link("usr/sbin"),
		"usr/bin/bash":           elf(),
		"usr/bin/dash":           elf(),
		"usr/bin/sh":             link("dash"),
		"usr/bin/env":            elf(),
		"usr/sbin":               dir(0o755),
		"etc/passwd":             file("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", 0o644),
		"etc/group":              file("root:x:0:\nnogroup:x:65534:\n", 0o644),
		"etc/profile":            file(ubuntuEtcProfile, 0o644),
		"root":                   dir(0o700),
		"root/.bashrc":           file("[ -z \"$PS1\" ] && return\n", 0o644),
		"app":                    dir(0o755),
		"app/node_modules/.keep": nil,
	}
	delete(m, "app/node_modules/.keep")
	cfg := ImageConfig{Entrypoint: []string{"/bin/bash", "-l", "-c"}, WorkingDir: "/app"}
	if p.Start.Cmd != "" {
		cfg.Cmd = []string{p.Start.Cmd}
	}
	if p.Start.RunImage != "" {
		// A separate run image (ubuntu:noble): only /app comes over.
		m["root/.profile"] = file(ubuntuRootProfile, 0o644)
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		for k, v := range app {
			m[k] = v
		}
		return m, cfg
	}
	m["etc/profile.d/nix.sh"] = file(determinateNixSh, 0o644)
	store := "nix/store/"
	nix := store + "0c5kk5v6ngqx-nix-2.28.3"
	m[nix+"/bin/nix"] = elf()
	m[nix+"/bin/nix-env"] = link("nix")
	m[nix+"/etc/profile.d/nix-daemon.sh"] = file("# Only execute this file once per shell.\nif [ -n \"${__ETC_PROFILE_NIX_SOURCED:-}\" ]; then return; fi\n", 0o444)
	m["nix/var/nix/profiles/default"] = link("default-1-link")
	m["nix/var/nix/profiles/default-1-link"] = link("/" + store + "9x2w1h3k-user-environment")
	m[store+"9x2w1h3k-user-environment/bin/nix"] = link("/" + nix + "/bin/nix")
	m[store+"9x2w1h3k-user-environment/bin/nix-env"] = link("/" + nix + "/bin/nix-env")
	m[store+"9x2w1h3k-user-environment/etc/profile.d/nix-daemon.sh"] = link("/" + nix + "/etc/profile.d/nix-daemon.sh")
	// nix-env -if as root: ~/.nix-profile → per-user/root/profile → a
	// generation → a user environment of links into each package.
	m["root/.nix-profile"] = link("/nix/var/nix/profiles/per-user/root/profile")
	m["nix/var/nix/profiles/per-user/root/profile"] = link("profile-2-link")
	m["nix/var/nix/profiles/per-user/root/profile-2-link"] = link("/" + store + "h4pq8m2c-user-environment")
	env := store + "h4pq8m2c-user-environment/bin/"
	m[env+".keep"] = file("", 0o444)
	profile := ubuntuRootProfile + nixpacksBaseProfile
	nixpacksPath := ""
	for i, name := range sortedPhases(p.Phases) {
		ph := p.Phases[name]
		for j, pkg := range ph.NixPkgs {
			pname := strings.TrimRight(strings.SplitN(pkg, "_", 2)[0], "0123456789-")
			bins, ok := nixBins[pname]
			if !ok {
				bins = []string{pname}
			}
			pkgDir := fmt.Sprintf("%s%02d%02dzz-%s", store, i, j, pkg)
			for k, b := range bins {
				if k == 0 {
					m[pkgDir+"/bin/"+b] = elf()
				} else if _, done := m[pkgDir+"/bin/"+b]; !done {
					m[pkgDir+"/bin/"+b] = link(bins[0])
				}
				if _, taken := m[env+b]; !taken {
					m[env+b] = link("/" + pkgDir + "/bin/" + b)
				}
			}
		}
		if len(ph.Paths) > 0 {
			joined := strings.Join(ph.Paths, ":")
			profile += "\nPATH=" + joined + ":$PATH"
			nixpacksPath = joined + ":" + nixpacksPath
		}
	}
	m["root/.profile"] = file(profile, 0o644)
	cfg.Env = append([]string{}, nixpacksBaseEnv...)
	if nixpacksPath != "" {
		cfg.Env = append(cfg.Env, "NIXPACKS_PATH="+nixpacksPath)
	}
	var vars []string
	for k, v := range p.Variables {
		vars = append(vars, k+"="+v)
	}
	sort.Strings(vars)
	cfg.Env = append(cfg.Env, vars...)
	for k, v := range app {
		m[k] = v
	}
	return m, cfg
}

// venv lays out `python -m venv --copies /opt/venv` plus console scripts,
// which pip and uv write with the venv's python on the #! line.
func venv(scripts ...string) map[string]*fstest.MapFile {
	m := map[string]*fstest.MapFile{
		"opt/venv/bin/python":  elf(),
		"opt/venv/bin/python3": elf(),
		"opt/venv/pyvenv.cfg":  file("home = /nix/store/0000zz-python3-3.11.12/bin\ninclude-system-site-packages = false\n", 0o644),
	}
	for _, s := range scripts {
		mod := strings.ReplaceAll(s, "-", "_")
		m["opt/venv/bin/"+s] = file("#!/opt/venv/bin/python\n# -*- coding: utf-8 -*-\nimport sys\nfrom "+mod+" import main\nif __name__ == \"__main__\":\n    sys.exit(main())\n", 0o755)
	}
	return m
}
