package scan_test

import (
	"encoding/json"
	"testing"

	"github.com/drydock-dev/drydock/build/scan"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/stretchr/testify/require"
)

const (
	stFS  = `"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}]`
	stPip = `"vulnerability":{"name":"GHSA-test-pip01"},"products":[{"@id":"pkg:pypi/pip"}]`
)

// TestSuppressEdges pins what TestSuppress leaves open: fixed suppresses
// too, an impact statement stands in for a missing justification, the
// newest statement decides whatever their order (within a document and
// across documents, each statement with its own time), and a result whose findings are all suppressed keeps
// an empty list (JSON [], not null) with the suppressed ones sorted.
func TestSuppressEdges(t *testing.T) {
	doc := func(statements string) *vex.VEX {
		d, err := scan.ParseVEX([]byte(vexHead+statements+`]}`), "test")
		require.NoError(t, err)
		return d
	}
	type sup struct{ id, status, justification string }
	for _, tc := range []struct {
		name       string
		docs       []*vex.VEX
		kept       []string
		suppressed []sup
		reversed   bool // the findings listed least severe first
	}{
		{name: "fixed suppresses", docs: []*vex.VEX{doc(`{` + stFS + `,"status":"fixed"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "fixed", ""}}},
		{name: "an impact statement stands in for the justification",
			docs: []*vex.VEX{doc(`{` + stFS + `,"status":"not_affected","impact_statement":"the tool never reads that file"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "not_affected", "the tool never reads that file"}}},
		{name: "a justification wins over the impact statement",
			docs: []*vex.VEX{doc(`{` + stFS + `,"status":"not_affected","justification":"component_not_present","impact_statement":"gone"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "not_affected", "component_not_present"}}},
		{name: "the newer statement first still decides",
			docs: []*vex.VEX{doc(`{` + stFS + `,"timestamp":"2026-11-03T00:00:00Z","status":"not_affected","justification":"component_not_present"},
				{` + stFS + `,"timestamp":"2026-11-02T00:00:00Z","status":"under_investigation"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "not_affected", "component_not_present"}}},
		{name: "a statement with its own time beats the document's older one",
			docs: []*vex.VEX{doc(`{` + stFS + `,"status":"under_investigation"},
				{` + stFS + `,"timestamp":"2026-11-05T00:00:00Z","status":"not_affected","justification":"component_not_present"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "not_affected", "component_not_present"}}},
		{name: "a newer statement in a second document overrides",
			docs: []*vex.VEX{
				doc(`{` + stFS + `,"timestamp":"2026-11-02T00:00:00Z","status":"not_affected","justification":"component_not_present"}`),
				docAt(t, "2026-11-09T00:00:00Z", `{`+stFS+`,"timestamp":"2026-11-04T00:00:00Z","status":"affected","action_statement":"upgrade"}`)},
			kept: []string{"GHSA-test-fs01", "GHSA-test-pip01"}},
		{name: "an older statement in a second document does not override",
			docs: []*vex.VEX{
				docAt(t, "2026-11-09T00:00:00Z", `{`+stFS+`,"timestamp":"2026-11-04T00:00:00Z","status":"not_affected","justification":"component_not_present"}`),
				doc(`{` + stFS + `,"timestamp":"2026-11-02T00:00:00Z","status":"affected","action_statement":"upgrade"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "not_affected", "component_not_present"}}},
		{name: "a statement without a time is its document's, newer than an older dated one",
			docs: []*vex.VEX{doc(`{` + stFS + `,"timestamp":"2026-10-30T00:00:00Z","status":"not_affected","justification":"component_not_present"},
				{` + stFS + `,"status":"affected","action_statement":"upgrade"}`)},
			kept: []string{"GHSA-test-fs01", "GHSA-test-pip01"}},
		{name: "subcomponent statements: the newer first still decides",
			docs: []*vex.VEX{doc(`{"vulnerability":{"name":"GHSA-test-fs01"},"timestamp":"2026-11-04T00:00:00Z","products":[{"@id":"pkg:oci/mcp-node-filesystem","subcomponents":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}]}],"status":"not_affected","justification":"component_not_present"},
				{"vulnerability":{"name":"GHSA-test-fs01"},"timestamp":"2026-11-02T00:00:00Z","products":[{"@id":"pkg:oci/mcp-node-filesystem","subcomponents":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"}]}],"status":"under_investigation"}`)},
			kept: []string{"GHSA-test-pip01"}, suppressed: []sup{{"GHSA-test-fs01", "not_affected", "component_not_present"}}},
		{name: "all suppressed, most severe first",
			docs: []*vex.VEX{doc(`{` + stPip + `,"status":"not_affected","justification":"inline_mitigations_already_exist"},
				{` + stFS + `,"status":"fixed"}`)},
			kept: []string{}, suppressed: []sup{{"GHSA-test-fs01", "fixed", ""}, {"GHSA-test-pip01", "not_affected", "inline_mitigations_already_exist"}}, reversed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := findings()
			if tc.reversed {
				// The less severe finding first: suppression must sort.
				res.Findings[0], res.Findings[1] = res.Findings[1], res.Findings[0]
			}
			scan.Suppress(res, tc.docs...)
			var kept []string
			for _, f := range res.Findings {
				kept = append(kept, f.ID)
			}
			if len(tc.kept) == 0 {
				require.NotNil(t, res.Findings)
				b, err := json.Marshal(res)
				require.NoError(t, err)
				require.Contains(t, string(b), `"findings":[]`)
			} else {
				require.Equal(t, tc.kept, kept)
			}
			var got []sup
			for _, f := range res.Suppressed {
				got = append(got, sup{f.ID, f.Status, f.Justification})
			}
			require.Equal(t, tc.suppressed, got)
			require.Equal(t, 2, len(res.Findings)+len(res.Suppressed), "nothing is dropped")
		})
	}
}

// docAt is a VEX document made at ts.
func docAt(t *testing.T, ts, statements string) *vex.VEX {
	t.Helper()
	head := `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://drydock.dev/vex/test2","author":"drydock tests","timestamp":"` + ts + `","version":1,"statements":[`
	d, err := scan.ParseVEX([]byte(head+statements+`]}`), "test2")
	require.NoError(t, err)
	return d
}
