package scan

import (
	"encoding/json"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// severityOf reads an advisory's severity for one affected entry: the
// database's own rating first (GitHub's database_specific.severity,
// "MODERATE" and all), then the highest CVSS v3.1/v4.0 base score in
// severity[] (the entry's, then the advisory's), else unknown.
func severityOf(a *Advisory, af *osvAffected) attest.Severity {
	for _, raw := range []json.RawMessage{af.DatabaseSpecific, af.EcosystemSpecific, a.DatabaseSpecific} {
		var ds struct {
			Severity string `json:"severity"`
		}
		if json.Unmarshal(raw, &ds) == nil && ds.Severity != "" {
			if s, err := attest.ParseSeverity(ds.Severity); err == nil && s != attest.SeverityUnknown {
				return s
			}
		}
	}
	best := attest.SeverityUnknown
	for _, list := range [][]osvSeverity{af.Severity, a.Severity} {
		for _, s := range list {
			if v := cvssSeverity(s); v > best {
				best = v
			}
		}
	}
	return best
}

// cvssSeverity rates one CVSS vector with its base score and the CVSS
// qualitative scale (0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0+
// critical). Unreadable vectors rate unknown.
func cvssSeverity(s osvSeverity) attest.Severity {
	var score float64
	switch {
	case s.Type == "CVSS_V3" && strings.HasPrefix(s.Score, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(s.Score)
		if err != nil {
			return attest.SeverityUnknown
		}
		score = c.BaseScore()
	case s.Type == "CVSS_V3" && strings.HasPrefix(s.Score, "CVSS:3.0/"):
		// 3.0 and 3.1 share the base metrics and, but for rounding, the formula.
		c, err := gocvss31.ParseVector("CVSS:3.1/" + strings.TrimPrefix(s.Score, "CVSS:3.0/"))
		if err != nil {
			return attest.SeverityUnknown
		}
		score = c.BaseScore()
	case s.Type == "CVSS_V4":
		c, err := gocvss40.ParseVector(s.Score)
		if err != nil {
			return attest.SeverityUnknown
		}
		score = c.Score()
	default:
		return attest.SeverityUnknown
	}
	switch {
	case score >= 9.0:
		return attest.SeverityCritical
	case score >= 7.0:
		return attest.SeverityHigh
	case score >= 4.0:
		return attest.SeverityMedium
	case score > 0:
		return attest.SeverityLow
	}
	return attest.SeverityNone
}
