package scan_test

import (
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/stretchr/testify/require"
)

const vexHead = `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://drydock.dev/vex/test","author":"drydock tests","timestamp":"2026-11-01T00:00:00Z","version":1,"statements":[`

func findings() *attest.VulnResult {
	return &attest.VulnResult{Packages: 2, Findings: []attest.VulnFinding{
		{ID: "GHSA-test-fs01", Aliases: []string{"CVE-2099-0002"}, Severity: attest.SeverityHigh, Package: "@modelcontextprotocol/server-filesystem", Version: "2026.8.31", PURL: "pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31", Ecosystem: "npm"},
		{ID: "GHSA-test-pip01", Severity: attest.SeverityMedium, Package: "pip", Version: "23.0.1", PURL: "pkg:pypi/pip@23.0.1", Ecosystem: "PyPI"},
	}, Suppressed: []attest.VulnFinding{}}
}

func TestSuppress(t *testing.T) {
	for _, tc := range []struct {
		name, statements string
		kept, suppressed []string
		justification    string
	}{
		{"not_affected by id, product is the package",
			`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}`,
			[]string{"GHSA-test-pip01"}, []string{"GHSA-test-fs01"}, "vulnerable_code_not_in_execute_path"},
		{"by alias, package as an image's subcomponent",
			`{"vulnerability":{"name":"CVE-2099-0002"},"products":[{"@id":"pkg:oci/mcp-node-filesystem","subcomponents":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}]}],"status":"not_affected","justification":"component_not_present"}`,
			[]string{"GHSA-test-pip01"}, []string{"GHSA-test-fs01"}, "component_not_present"},
		{"versionless purl covers every version",
			`{"vulnerability":{"name":"GHSA-test-pip01"},"products":[{"@id":"pkg:pypi/pip"}],"status":"not_affected","justification":"inline_mitigations_already_exist"}`,
			[]string{"GHSA-test-fs01"}, []string{"GHSA-test-pip01"}, "inline_mitigations_already_exist"},
		{"affected keeps the finding",
			`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}],"status":"affected","action_statement":"upgrade"}`,
			[]string{"GHSA-test-fs01", "GHSA-test-pip01"}, []string{}, ""},
		{"another package's statement does not apply",
			`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/left-pad@1.0.0"}],"status":"not_affected","justification":"component_not_present"}`,
			[]string{"GHSA-test-fs01", "GHSA-test-pip01"}, []string{}, ""},
		{"another version's statement does not apply",
			`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.9.1"}],"status":"not_affected","justification":"component_not_present"}`,
			[]string{"GHSA-test-fs01", "GHSA-test-pip01"}, []string{}, ""},
		{"an image product without the package as subcomponent does not apply",
			`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:oci/mcp-node-filesystem","subcomponents":[{"@id":"pkg:pypi/pip@23.0.1"}]}],"status":"not_affected","justification":"component_not_present"}`,
			[]string{"GHSA-test-fs01", "GHSA-test-pip01"}, []string{}, ""},
		{"a newer under_investigation overrides an older not_affected",
			`{"vulnerability":{"name":"GHSA-test-fs01"},"timestamp":"2026-11-02T00:00:00Z","products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}],"status":"not_affected","justification":"component_not_present"},
			 {"vulnerability":{"name":"GHSA-test-fs01"},"timestamp":"2026-11-03T00:00:00Z","products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}],"status":"under_investigation"}`,
			[]string{"GHSA-test-fs01", "GHSA-test-pip01"}, []string{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := scan.ParseVEX([]byte(vexHead+tc.statements+`]}`), "test")
			require.NoError(t, err)
			res := findings()
			scan.Suppress(res, doc)
			ids := func(fs []attest.VulnFinding) []string {
				out := []string{}
				for _, f := range fs {
					out = append(out, f.ID)
				}
				return out
			}
			require.Equal(t, tc.kept, ids(res.Findings))
			require.Equal(t, tc.suppressed, ids(res.Suppressed))
			if len(res.Suppressed) > 0 {
				require.Equal(t, "not_affected", res.Suppressed[0].Status)
				require.Equal(t, tc.justification, res.Suppressed[0].Justification)
			}
			require.Equal(t, 2, len(res.Findings)+len(res.Suppressed), "nothing is dropped")
		})
	}
}

func TestParseVEXRefusesNotAffectedWithoutJustification(t *testing.T) {
	_, err := scan.ParseVEX([]byte(vexHead+`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:pypi/pip"}],"status":"not_affected"}]}`), "vex.json")
	require.ErrorContains(t, err, "vex.json")
	require.ErrorContains(t, err, "statements[0]")
	_, err = scan.ParseVEX([]byte(`{not json`), "vex.json")
	require.ErrorContains(t, err, "vex.json")
}

// Statements without their own timestamp take their document's: an older
// document's undated not_affected never outlives a newer document's
// undated affected, in whichever order the documents come.
func TestSuppressAcrossDocuments(t *testing.T) {
	doc := func(at, status, extra string) string {
		return `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://drydock.dev/vex/` + at + `","author":"drydock tests","timestamp":"` + at + `","version":1,"statements":[` +
			`{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}],"status":"` + status + `"` + extra + `}]}`
	}
	older, err := scan.ParseVEX([]byte(doc("2026-01-01T00:00:00Z", "not_affected", `,"justification":"component_not_present"`)), "older.vex.json")
	require.NoError(t, err)
	newer, err := scan.ParseVEX([]byte(doc("2026-06-01T00:00:00Z", "affected", `,"action_statement":"upgrade"`)), "newer.vex.json")
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		docs []*vex.VEX
	}{
		{"older first", []*vex.VEX{older, newer}},
		{"newer first", []*vex.VEX{newer, older}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := findings()
			scan.Suppress(res, tc.docs...)
			require.Len(t, res.Findings, 2, "the newer affected statement keeps GHSA-test-fs01")
			require.Empty(t, res.Suppressed)
		})
	}
	// And the other way round: a newer not_affected does suppress.
	res := findings()
	later, err := scan.ParseVEX([]byte(doc("2026-09-01T00:00:00Z", "not_affected", `,"justification":"component_not_present"`)), "later.vex.json")
	require.NoError(t, err)
	scan.Suppress(res, later, newer)
	require.Len(t, res.Suppressed, 1)
	require.Equal(t, "GHSA-test-fs01", res.Suppressed[0].ID)
}
