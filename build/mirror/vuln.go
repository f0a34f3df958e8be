package mirror

import (
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/openvex/go-vex/pkg/vex"
)

// vulnGate is the mirror's vulnerability gate (WithVulnGate).
type vulnGate struct {
	db       *scan.DB
	failOn   *attest.Severity
	packages scan.PackagesFunc
	vex      []*vex.VEX
}

// WithVulnGate scans every hardened image before it is signed: its
// packages (listed by packages, the SBOM step) are matched against db,
// with the catalog entry's VEX document and docs applied; a finding at or
// above failOn (nil: never) fails the entry with nothing signed or tagged.
// The result is attested (cosign's vuln predicate, and OpenVEX for the
// documents applied) and reported per entry.
//
// Default: no scan.
func WithVulnGate(db *scan.DB, failOn *attest.Severity, packages scan.PackagesFunc, docs ...*vex.VEX) Option {
	return func(o *options) error {
		if db == nil || packages == nil {
			return fmt.Errorf("the vulnerability gate needs a database and the SBOM step's package lister")
		}
		o.vuln = &vulnGate{db: db, failOn: failOn, packages: packages, vex: docs}
		return nil
	}
}

// gate wraps sign with the vulnerability gate for this entry (sign itself
// when there is none) and remembers it for the report.
func (e *entry) gate(sign build.SignFunc) build.SignFunc {
	g := e.m.o.vuln
	if g == nil {
		return sign
	}
	docs := g.vex
	if d := e.m.c.vex[e.pos]; d != nil {
		docs = append(append([]*vex.VEX(nil), docs...), d)
	}
	e.scan = &scan.Gate{DB: g.db, VEX: docs, FailOn: g.failOn, Packages: g.packages,
		Signer: e.m.o.signer, AttestOptions: e.m.o.signOptions()}
	return e.scan.Wrap(sign)
}

// recordScan copies the entry's scan into its report line.
func (e *entry) recordScan(res *EntryResult) {
	if e.scan == nil || e.scan.Result == nil {
		return
	}
	r := e.scan.Result
	res.Packages, res.Findings, res.Suppressed = r.Packages, r.Counts(), len(r.Suppressed)
}

// loadVEX reads the OpenVEX documents the servers name (servers[i].vex,
// relative to the catalog).
func (c *Catalog) loadVEX() error {
	c.vex = map[int]*vex.VEX{}
	for i, s := range c.Servers {
		if s.VEX == "" {
			continue
		}
		d, err := scan.LoadVEX(c.path(s.VEX))
		if err != nil {
			return fmt.Errorf("servers[%d].vex: %w", i, err)
		}
		c.vex[i] = d
	}
	return nil
}

// vulnCell says what the scan found: "high 1, medium 2 (+1 VEX)".
func vulnCell(e EntryResult) string {
	if e.Findings == nil && e.Suppressed == 0 {
		return "-"
	}
	s := ""
	for sev := attest.SeverityCritical; sev >= attest.SeverityUnknown; sev-- {
		if n := e.Findings[sev.String()]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", sev, n)
		}
	}
	if s == "" {
		s = "none"
	}
	if e.Suppressed > 0 {
		s += fmt.Sprintf(" (+%d VEX)", e.Suppressed)
	}
	return s
}
