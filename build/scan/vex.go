package scan

import (
	"fmt"
	"os"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/openvex/go-vex/pkg/vex"
)

// ParseVEX reads an OpenVEX document (JSON) and checks every statement
// (a not_affected one must carry a justification or an impact statement).
func ParseVEX(b []byte, where string) (*vex.VEX, error) {
	doc, err := vex.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenVEX document %s: %w", where, err)
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			return nil, fmt.Errorf("reading the OpenVEX document %s: statements[%d]: %w", where, i, err)
		}
	}
	return doc, nil
}

// LoadVEX reads an OpenVEX document from a file (--vex FILE).
func LoadVEX(path string) (*vex.VEX, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenVEX document: %w", err)
	}
	return ParseVEX(b, path)
}

// Suppress moves every finding that a VEX statement declares not_affected
// or fixed into res.Suppressed, with the statement's status and
// justification. A statement applies when it names the finding's id or
// one of its aliases and names the package's purl as a product or as a
// subcomponent of one; the newest applicable statement decides, so a
// later "affected" or "under_investigation" statement keeps the finding.
// Nothing is dropped: suppressed findings stay listed and counted.
func Suppress(res *attest.VulnResult, docs ...*vex.VEX) {
	var keep []attest.VulnFinding
	for _, f := range res.Findings {
		if st := decidingStatement(f, docs); st != nil &&
			(st.Status == vex.StatusNotAffected || st.Status == vex.StatusFixed) {
			f.Status = string(st.Status)
			f.Justification = string(st.Justification)
			if f.Justification == "" {
				f.Justification = st.ImpactStatement
			}
			res.Suppressed = append(res.Suppressed, f)
			continue
		}
		keep = append(keep, f)
	}
	if keep == nil {
		keep = []attest.VulnFinding{}
	}
	res.Findings = keep
	sortFindings(res.Suppressed)
}

// decidingStatement returns the newest statement of docs that applies to
// f, or nil. A statement without a timestamp has its document's: the time
// is taken when the statement is read, so one from another document is
// never compared with this document's time.
func decidingStatement(f attest.VulnFinding, docs []*vex.VEX) *vex.Statement {
	var best *vex.Statement
	var bestAt *time.Time
	consider := func(doc *vex.VEX, st vex.Statement) {
		at := when(doc, &st)
		if best == nil || newer(at, bestAt) {
			best, bestAt = &st, at
		}
	}
	for _, doc := range docs {
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			for _, st := range doc.Matches(id, f.PURL, nil) {
				if namesPackage(&st, f.PURL) {
					consider(doc, st)
				}
			}
			for _, st := range subcomponentMatches(doc, id, f.PURL) {
				consider(doc, st)
			}
		}
	}
	return best
}

// namesPackage rejects a product that matched only because it has
// subcomponents we did not ask about: the package itself must be the
// product.
func namesPackage(st *vex.Statement, purl string) bool {
	for _, p := range st.Products {
		if p.Component.Matches(purl) {
			return true
		}
	}
	return false
}

// subcomponentMatches returns the statements of doc for vulnerability id
// that list purl as a subcomponent of a product (an image product, whose
// identity the statement's author chose).
func subcomponentMatches(doc *vex.VEX, id, purl string) []vex.Statement {
	var out []vex.Statement
	for _, st := range doc.Statements {
		if !st.Vulnerability.Matches(id) {
			continue
		}
		for _, p := range st.Products {
			for _, sc := range p.Subcomponents {
				if sc.Matches(purl) {
					out = append(out, st)
				}
			}
		}
	}
	return out
}

// when is st's time: its own timestamp, else its document's.
func when(doc *vex.VEX, st *vex.Statement) *time.Time {
	if st.Timestamp != nil {
		return st.Timestamp
	}
	return doc.Timestamp
}

// newer reports whether time a is after b; an unknown time is never newer,
// and any known time is newer than an unknown one.
func newer(a, b *time.Time) bool {
	return a != nil && (b == nil || a.After(*b))
}
