package scan

import (
	"fmt"
	"strings"

	"github.com/package-url/packageurl-go"
)

// Package is one package of an image, as its SBOM lists it.
type Package struct {
	Name    string
	Version string
	// PURL identifies the package and its ecosystem
	// (pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12,
	// pkg:npm/%40scope/name@1.2.3, pkg:pypi/requests@2.31.0,
	// pkg:golang/golang.org/x/net@v0.17.0).
	PURL string
}

// osvPackage is a package as OSV names it.
type osvPackage struct {
	ecosystem string // base ecosystem: Debian, npm, PyPI, Go
	release   string // Debian release ("12"), empty when unknown
	names     []string
	version   string
}

// fromPURL maps a purl to OSV's ecosystem, name and version. ok is false
// for types drydock does not match (the package is counted, not matched).
func fromPURL(p string) (osvPackage, bool, error) {
	u, err := packageurl.FromString(p)
	if err != nil {
		return osvPackage{}, false, fmt.Errorf("parsing purl %q: %w", p, err)
	}
	q := u.Qualifiers.Map()
	o := osvPackage{version: u.Version}
	switch u.Type {
	case packageurl.TypeDebian:
		o.ecosystem = "Debian"
		// OSV's Debian advisories name the source package; syft records it
		// as the upstream qualifier ("openssl" for libssl3).
		o.names = []string{u.Name}
		if src, _, _ := strings.Cut(q["upstream"], "@"); src != "" && src != u.Name {
			o.names = append(o.names, src)
		}
		if e := q["epoch"]; e != "" && e != "0" {
			o.version = e + ":" + o.version
		}
		if d, ok := strings.CutPrefix(q["distro"], "debian-"); ok {
			o.release, _, _ = strings.Cut(d, ".")
		}
	case packageurl.TypeNPM:
		o.ecosystem = "npm"
		o.names = []string{joinNS(u.Namespace, u.Name)}
	case packageurl.TypePyPi:
		o.ecosystem = "PyPI"
		o.names = []string{u.Name}
	case packageurl.TypeGolang:
		o.ecosystem = "Go"
		o.names = []string{joinNS(u.Namespace, u.Name)}
		o.version = strings.TrimPrefix(o.version, "v")
	default:
		return o, false, nil
	}
	for i, n := range o.names {
		o.names[i] = normalizeName(o.ecosystem, n)
	}
	return o, o.version != "", nil
}

func joinNS(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
