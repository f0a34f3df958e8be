package attest_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

const spdxPredicate = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"x","packages":[]}`

// vulnPredicate is a cosign vuln predicate finished at finished whose one
// unsuppressed finding has severity sev ("" for none).
func vulnPredicate(t *testing.T, sev string, finished time.Time) json.RawMessage {
	t.Helper()
	findings := `[]`
	if sev != "" {
		findings = `[{"id":"GHSA-test-fs01","severity":"` + sev + `","package":"@modelcontextprotocol/server-filesystem","version":"2026.8.31","ecosystem":"npm"}]`
	}
	return json.RawMessage(`{"invocation":{"parameters":null,"uri":"","event_id":"","builder.id":""},
		"scanner":{"uri":"https://github.com/drydock-dev/drydock","version":"test","db":{"uri":"file:///db","version":"1"},
		"result":{"packages":3,"findings":` + findings + `,"suppressed":[{"id":"GHSA-test-pip01","severity":"critical","package":"pip","version":"23.0.1","ecosystem":"PyPI","status":"not_affected","justification":"component_not_present"}]}},
		"metadata":{"scanStartedOn":"2026-11-01T00:00:00Z","scanFinishedOn":"` + finished.UTC().Format(time.RFC3339) + `"}}`)
}

func sev(s attest.Severity) *attest.Severity { return &s }

func TestRequire(t *testing.T) {
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	type att struct {
		predicateType string
		predicate     json.RawMessage
		byOther       bool
	}
	for _, tc := range []struct {
		name      string
		atts      []att
		req       attest.Requirements
		wantCheck string // "" when accepted
		wantFound []string
	}{
		{"no requirement", nil, attest.Requirements{}, "", nil},
		{"sbom missing", nil, attest.Requirements{Attestations: []string{"sbom"}}, "attestation", nil},
		{"sbom present", []att{{attest.PredicateSPDX, json.RawMessage(spdxPredicate), false}},
			attest.Requirements{Attestations: []string{"sbom"}}, "", []string{"sbom"}},
		{"cyclonedx counts as sbom", []att{{attest.PredicateCycloneDX, json.RawMessage(`{"bomFormat":"CycloneDX","specVersion":"1.5"}`), false}},
			attest.Requirements{Attestations: []string{"sbom"}}, "", []string{"sbom"}},
		{"sbom signed by another key", []att{{attest.PredicateSPDX, json.RawMessage(spdxPredicate), true}},
			attest.Requirements{Attestations: []string{"sbom"}}, "attestation", nil},
		{"vuln missing for maxSeverity", []att{{attest.PredicateSPDX, json.RawMessage(spdxPredicate), false}},
			attest.Requirements{Attestations: []string{"sbom"}, MaxSeverity: sev(attest.SeverityHigh)}, "predicate-type", []string{"sbom"}},
		{"high finding within maxSeverity high", []att{{attest.PredicateVuln, vulnPredicate(t, "high", day1), false}},
			attest.Requirements{Attestations: []string{"vuln"}, MaxSeverity: sev(attest.SeverityHigh)}, "", []string{"vuln"}},
		{"high finding over maxSeverity medium", []att{{attest.PredicateVuln, vulnPredicate(t, "high", day1), false}},
			attest.Requirements{MaxSeverity: sev(attest.SeverityMedium)}, "severity", []string{"vuln"}},
		{"suppressed critical does not count", []att{{attest.PredicateVuln, vulnPredicate(t, "", day1), false}},
			attest.Requirements{MaxSeverity: sev(attest.SeverityNone)}, "", []string{"vuln"}},
		{"newest scan decides: older clean, newer critical", []att{
			{attest.PredicateVuln, vulnPredicate(t, "", day1), false},
			{attest.PredicateVuln, vulnPredicate(t, "critical", day2), false}},
			attest.Requirements{MaxSeverity: sev(attest.SeverityHigh)}, "severity", []string{"vuln"}},
		{"newest scan decides: older critical, newer clean", []att{
			{attest.PredicateVuln, vulnPredicate(t, "critical", day1), false},
			{attest.PredicateVuln, vulnPredicate(t, "", day2), false}},
			attest.Requirements{MaxSeverity: sev(attest.SeverityHigh)}, "", []string{"vuln"}},
		{"a newer scan by another key is ignored", []att{
			{attest.PredicateVuln, vulnPredicate(t, "", day1), false},
			{attest.PredicateVuln, vulnPredicate(t, "low", day2), true}},
			attest.Requirements{MaxSeverity: sev(attest.SeverityNone)}, "", []string{"vuln"}},
		{"slsa required, only sbom", []att{{attest.PredicateSPDX, json.RawMessage(spdxPredicate), false}},
			attest.Requirements{Attestations: []string{"sbom", "slsa"}}, "predicate-type", []string{"sbom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			key, other := newKey(t), newKey(t)
			require.NoError(t, attest.Sign(ctx, f.a, key))
			for _, a := range tc.atts {
				s := signature.Signer(key)
				if a.byOther {
					s = other
				}
				require.NoError(t, attest.AttestPredicate(ctx, f.a, s, a.predicateType, a.predicate))
			}

			ev, err := attest.Require(ctx, f.a, key, tc.req)

			var got []string
			for _, k := range attest.Kinds() {
				if ev.Found[k] != "" {
					got = append(got, k)
				}
			}
			require.Equal(t, tc.wantFound, got)
			if tc.wantCheck == "" {
				require.NoError(t, err)
				return
			}
			var r *attest.RefusalError
			require.ErrorAs(t, err, &r)
			require.ErrorIs(t, err, attest.ErrRefused)
			require.Equal(t, tc.wantCheck, r.Check)
			require.Equal(t, f.a.String(), r.Image)
		})
	}
}

func TestRequireSeverityMessage(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, key))
	require.NoError(t, attest.AttestPredicate(ctx, f.a, key, attest.PredicateVuln, vulnPredicate(t, "critical", time.Now())))
	_, err := attest.Require(ctx, f.a, key, attest.Requirements{MaxSeverity: sev(attest.SeverityHigh)})
	require.EqualError(t, err, f.a.String()+`: its signed vulnerability scan lists GHSA-test-fs01 (critical) in @modelcontextprotocol/server-filesystem 2026.8.31, above the allowed high (check "severity"); rebuild it without the package, upgrade past the fix, or suppress the finding with a VEX statement and rescan`)
}

func TestRequireRefusesUnsignedAndUnknownKinds(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	_, err := attest.Require(ctx, f.a, key, attest.Requirements{Attestations: []string{"sbom"}})
	require.ErrorIs(t, err, attest.ErrRefused, "no signature at all")
	_, err = attest.Require(ctx, f.a, key, attest.Requirements{})
	require.ErrorIs(t, err, attest.ErrRefused, "no requirement still verifies the signature")
	_, err = attest.Require(ctx, f.a, key, attest.Requirements{Attestations: []string{"spdx"}})
	require.ErrorContains(t, err, `unknown attestation kind "spdx"`)
	require.False(t, errors.Is(err, attest.ErrRefused), "a typo is a usage error, not a refusal")
}

func TestInspect(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, key))
	require.NoError(t, attest.AttestPredicate(ctx, f.a, key, attest.PredicateSPDX, json.RawMessage(spdxPredicate)))
	require.NoError(t, attest.AttestPredicate(ctx, f.a, key, attest.PredicateVuln, vulnPredicate(t, "high", time.Now())))
	ev, err := attest.Inspect(ctx, f.a, key)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"sbom": attest.PredicateSPDX, "vuln": attest.PredicateVuln}, ev.Found)
	require.Equal(t, map[string]int{"high": 1}, ev.Vuln.Scanner.Result.Counts())
	require.Len(t, ev.Vuln.Scanner.Result.Suppressed, 1)
	_, err = attest.Inspect(ctx, f.b, key)
	require.ErrorIs(t, err, attest.ErrRefused, "an unsigned image is refused, not inspected")
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]attest.Severity{
		"none": attest.SeverityNone, "unknown": attest.SeverityUnknown, "LOW": attest.SeverityLow,
		"moderate": attest.SeverityMedium, "Medium": attest.SeverityMedium, "high": attest.SeverityHigh, "CRITICAL": attest.SeverityCritical,
	} {
		got, err := attest.ParseSeverity(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := attest.ParseSeverity("severe")
	require.ErrorContains(t, err, `unknown severity "severe"`)
	require.True(t, attest.SeverityUnknown < attest.SeverityLow, "an unstated severity ranks below low")
	require.True(t, attest.SeverityHigh.AtLeast(attest.SeverityHigh))
	require.False(t, attest.SeverityMedium.AtLeast(attest.SeverityHigh))
}

// The floor (policies) names kinds and severities without importing
// attest; both must read the same names.
func TestFloorNamesAgree(t *testing.T) {
	require.Equal(t, attest.Kinds(), policies.RequireKinds)
	for _, s := range policies.Severities {
		got, err := attest.ParseSeverity(s)
		require.NoError(t, err, s)
		require.Equal(t, s, got.String())
	}
}
