package scan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/osv-scalibr/semantic"
)

// Match returns the findings of db for pkgs: one per advisory and
// package whose version an affected range or version list covers.
// Packages whose purl type drydock does not match (rpm, apk, binaries)
// are counted in Packages but never matched. Findings come sorted worst
// first, then by package and id.
func Match(db *DB, pkgs []Package) (*attest.VulnResult, error) {
	res := &attest.VulnResult{Packages: len(pkgs), Findings: []attest.VulnFinding{}, Suppressed: []attest.VulnFinding{}}
	type seenKey struct{ id, purl string }
	seen := map[seenKey]bool{}
	for _, p := range pkgs {
		if p.PURL == "" {
			continue
		}
		op, ok, err := fromPURL(p.PURL)
		if err != nil {
			return nil, fmt.Errorf("matching %s: %w", p.Name, err)
		}
		if !ok {
			continue
		}
		for _, n := range op.names {
			for _, a := range db.byPackage[key{op.ecosystem, n}] {
				af, fixed, hit, err := affects(a, op, n)
				if err != nil {
					return nil, fmt.Errorf("matching %s %s against %s: %w", p.PURL, op.version, a.ID, err)
				}
				if !hit || seen[seenKey{a.ID, p.PURL}] {
					continue
				}
				seen[seenKey{a.ID, p.PURL}] = true
				res.Findings = append(res.Findings, attest.VulnFinding{
					ID: a.ID, Aliases: a.Aliases, Summary: a.Summary,
					Severity: severityOf(a, af), Package: p.Name, Version: p.Version,
					PURL: p.PURL, Ecosystem: op.ecosystem, FixedIn: fixed,
				})
			}
		}
	}
	sortFindings(res.Findings)
	return res, nil
}

func sortFindings(fs []attest.VulnFinding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.ID < b.ID
	})
}

// affects reports whether advisory a covers package p (named n), and
// returns the affected entry that does and the first fixed version it
// names.
func affects(a *Advisory, p osvPackage, n string) (*osvAffected, string, bool, error) {
	for i := range a.Affected {
		af := &a.Affected[i]
		eco, rel, _ := strings.Cut(af.Package.Ecosystem, ":")
		if eco != p.ecosystem || normalizeName(eco, af.Package.Name) != n {
			continue
		}
		// A Debian advisory for another release says nothing about this one.
		if rel != "" && p.release != "" && rel != p.release {
			continue
		}
		hit, fixed, err := affectedVersion(af, eco, p.version)
		if err != nil {
			return nil, "", false, err
		}
		if hit {
			return af, fixed, true, nil
		}
	}
	return nil, "", false, nil
}

// affectedVersion applies OSV's evaluation: a version is affected if it
// is listed in versions, or if, walking a SEMVER or ECOSYSTEM range's
// events in version order, the last event at or below it is an
// introduced one (fixed and last_affected close the range). GIT ranges
// name commits, not versions, and are skipped.
func affectedVersion(af *osvAffected, ecosystem, version string) (bool, string, error) {
	if slices.Contains(af.Versions, version) {
		return true, firstFixed(af), nil
	}
	v, err := semantic.Parse(version, ecosystem)
	if err != nil {
		if errors.Is(err, semantic.ErrUnsupportedEcosystem) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("reading version %q: %w", version, err)
	}
	for _, r := range af.Ranges {
		if r.Type != "SEMVER" && r.Type != "ECOSYSTEM" {
			continue
		}
		hit, fixed, err := inRange(v, ecosystem, r.Events)
		if err != nil {
			return false, "", err
		}
		if hit {
			return true, fixed, nil
		}
	}
	return false, "", nil
}

// inRange walks a range's events in version order (introduced "0"
// first; at equal versions, as listed) and reports whether v is inside,
// with the fixed version that closes its stretch of the range.
func inRange(v semantic.Version, ecosystem string, events []osvEvent) (bool, string, error) {
	type ev struct {
		at   string
		kind int // 0 introduced, 1 fixed, 2 last_affected
		c    int // v compared with at
	}
	var evs []ev
	for _, e := range events {
		var x ev
		switch {
		case e.Introduced != "":
			x = ev{at: e.Introduced, kind: 0}
		case e.Fixed != "":
			x = ev{at: e.Fixed, kind: 1}
		case e.LastAffected != "":
			x = ev{at: e.LastAffected, kind: 2}
		default:
			continue // limit: a bound on commits, for GIT ranges
		}
		if x.kind == 0 && x.at == "0" {
			x.c = 1
		} else {
			c, err := v.CompareStr(x.at)
			if err != nil {
				return false, "", fmt.Errorf("reading range version %q: %w", x.at, err)
			}
			x.c = c
		}
		evs = append(evs, x)
	}
	// Events below v come first; among those, the highest last. Their
	// order relative to each other decides, so sort them by version.
	var sortErr error
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.kind == 0 && a.at == "0" {
			return !(b.kind == 0 && b.at == "0")
		}
		if b.kind == 0 && b.at == "0" {
			return false
		}
		va, err := semantic.Parse(a.at, ecosystem)
		if err != nil {
			sortErr = err
			return false
		}
		c, err := va.CompareStr(b.at)
		if err != nil {
			sortErr = err
			return false
		}
		return c < 0
	})
	if sortErr != nil {
		return false, "", fmt.Errorf("reading range versions: %w", sortErr)
	}
	affected, fixed := false, ""
	for _, e := range evs {
		switch e.kind {
		case 0:
			if e.c >= 0 {
				affected = true
			}
		case 1:
			if e.c >= 0 {
				affected = false
			} else if affected && fixed == "" {
				fixed = e.at
			}
		case 2:
			if e.c > 0 {
				affected = false
			}
		}
	}
	if !affected {
		fixed = ""
	}
	return affected, fixed, nil
}

func firstFixed(af *osvAffected) string {
	for _, r := range af.Ranges {
		for _, e := range r.Events {
			if e.Fixed != "" {
				return e.Fixed
			}
		}
	}
	return ""
}
