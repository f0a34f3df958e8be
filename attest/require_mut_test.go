package attest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// failingOnce fails the first request whose path contains s; the rest go
// to the registry.
type failingOnce struct {
	s    string
	mu   sync.Mutex
	done bool
}

func (f *failingOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := !f.done && strings.Contains(r.URL.Path, f.s)
	if fail {
		f.done = true
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestRequireEdges pins what the table of TestRequire leaves open: which
// scan decides when attestations come in another order or another kind is
// read after the vuln one, an unreadable scan, which predicate type a
// refusal names, and registry errors that are neither refusals nor passes.
func TestRequireEdges(t *testing.T) {
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	type att struct {
		predicateType string
		predicate     json.RawMessage
	}
	for _, tc := range []struct {
		name      string
		atts      []att
		req       attest.Requirements
		failOnce  string   // the first request whose path contains it fails
		inspect   bool     // Inspect instead of Require
		wantErr   []string // each in the error; none: accepted
		wantCheck string   // the refusal's check; "": not a refusal
		notIn     string   // not in the error
	}{
		{name: "newest scan decides: newer critical attached first", atts: []att{
			{attest.PredicateVuln, vulnPredicate(t, "critical", day2)}, {attest.PredicateVuln, vulnPredicate(t, "", day1)}},
			req:     attest.Requirements{MaxSeverity: sev(attest.SeverityHigh)},
			wantErr: []string{"GHSA-test-fs01 (critical)"}, wantCheck: "severity"},
		{name: "an sbom read after the scan does not replace it", atts: []att{
			{attest.PredicateVuln, vulnPredicate(t, "high", day1)}, {attest.PredicateSPDX, json.RawMessage(spdxPredicate)}},
			req:     attest.Requirements{Attestations: []string{"vuln", "sbom"}, MaxSeverity: sev(attest.SeverityMedium)},
			wantErr: []string{"GHSA-test-fs01 (high)"}, wantCheck: "severity"},
		{name: "unreadable scan", atts: []att{{attest.PredicateVuln, json.RawMessage(`{"scanner":{"result":{"findings":"none"}}}`)}},
			req:     attest.Requirements{Attestations: []string{"vuln"}},
			wantErr: []string{"required vuln attestation: ", "its signed vulnerability attestation cannot be read"}, wantCheck: "attestation"},
		{name: "a missing sbom names the preferred type", req: attest.Requirements{Attestations: []string{"sbom"}},
			wantErr: []string{"required sbom attestation: ", attest.PredicateSPDX}, notIn: attest.PredicateCycloneDX, wantCheck: "attestation"},
		{name: "registry error on the first sbom type, the second present", atts: []att{
			{attest.PredicateCycloneDX, json.RawMessage(`{"bomFormat":"CycloneDX","specVersion":"1.5"}`)}},
			req: attest.Requirements{Attestations: []string{"sbom"}}, failOnce: ".att",
			wantErr: []string{"required sbom attestation: ", "connection reset by peer"}},
		{name: "inspect: registry error reading attestations", atts: []att{{attest.PredicateSPDX, json.RawMessage(spdxPredicate)}},
			inspect: true, failOnce: ".att", wantErr: []string{"connection reset by peer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			key := newKey(t)
			require.NoError(t, attest.Sign(ctx, f.a, key))
			for _, a := range tc.atts {
				require.NoError(t, attest.AttestPredicate(ctx, f.a, key, a.predicateType, a.predicate))
			}
			var opts []attest.Option
			if tc.failOnce != "" {
				opts = append(opts, attest.WithRemoteOptions(remote.WithTransport(&failingOnce{s: tc.failOnce})))
			}
			var ev *attest.Evidence
			var err error
			if tc.inspect {
				ev, err = attest.Inspect(ctx, f.a, key, opts...)
			} else {
				ev, err = attest.Require(ctx, f.a, key, tc.req, opts...)
			}
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.wantErr {
				require.ErrorContains(t, err, w)
			}
			if tc.notIn != "" {
				require.NotContains(t, err.Error(), tc.notIn)
			}
			var r *attest.RefusalError
			if tc.wantCheck == "" {
				require.NotErrorIs(t, err, attest.ErrRefused)
				if tc.inspect {
					require.Nil(t, ev)
				}
				return
			}
			require.ErrorAs(t, err, &r)
			require.Equal(t, tc.wantCheck, r.Check)
		})
	}
}
