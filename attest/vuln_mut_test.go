package attest_test

import (
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/stretchr/testify/require"
)

// TestVulnResultWorstAndOver pins which finding decides a limit: the most
// severe unsuppressed one, the first listed among equals, and a limit is
// reached at its own severity.
func TestVulnResultWorstAndOver(t *testing.T) {
	finding := func(id string, s attest.Severity) attest.VulnFinding {
		return attest.VulnFinding{ID: id, Severity: s, Package: "pkg", Version: "1.0.0", Ecosystem: "npm"}
	}
	for _, tc := range []struct {
		name   string
		result attest.VulnResult
		worst  string // ID, "" for none
		limit  attest.Severity
		over   string // ID Over(limit) returns, "" for none
	}{
		{name: "no findings", result: attest.VulnResult{}, limit: attest.SeverityNone},
		{name: "suppressed findings do not count",
			result: attest.VulnResult{Suppressed: []attest.VulnFinding{finding("GHSA-s", attest.SeverityCritical)}},
			limit:  attest.SeverityNone},
		{name: "one finding at the limit",
			result: attest.VulnResult{Findings: []attest.VulnFinding{finding("GHSA-a", attest.SeverityHigh)}},
			worst:  "GHSA-a", limit: attest.SeverityHigh, over: "GHSA-a"},
		{name: "one finding below the limit",
			result: attest.VulnResult{Findings: []attest.VulnFinding{finding("GHSA-a", attest.SeverityMedium)}},
			worst:  "GHSA-a", limit: attest.SeverityHigh},
		{name: "the worst is last",
			result: attest.VulnResult{Findings: []attest.VulnFinding{finding("GHSA-low", attest.SeverityLow), finding("GHSA-crit", attest.SeverityCritical)}},
			worst:  "GHSA-crit", limit: attest.SeverityCritical, over: "GHSA-crit"},
		{name: "the worst is first",
			result: attest.VulnResult{Findings: []attest.VulnFinding{finding("GHSA-crit", attest.SeverityCritical), finding("GHSA-low", attest.SeverityLow)}},
			worst:  "GHSA-crit", limit: attest.SeverityHigh, over: "GHSA-crit"},
		{name: "equals: the first listed",
			result: attest.VulnResult{Findings: []attest.VulnFinding{finding("GHSA-1", attest.SeverityHigh), finding("GHSA-2", attest.SeverityHigh), finding("GHSA-0", attest.SeverityLow)}},
			worst:  "GHSA-1", limit: attest.SeverityMedium, over: "GHSA-1"},
		{name: "unknown is below low",
			result: attest.VulnResult{Findings: []attest.VulnFinding{finding("OSV-u", attest.SeverityUnknown)}},
			worst:  "OSV-u", limit: attest.SeverityLow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := func(f *attest.VulnFinding) string {
				if f == nil {
					return ""
				}
				return f.ID
			}
			require.Equal(t, tc.worst, id(tc.result.Worst()), "Worst()")
			require.Equal(t, tc.over, id(tc.result.Over(tc.limit)), "Over(%s)", tc.limit)
		})
	}
}
