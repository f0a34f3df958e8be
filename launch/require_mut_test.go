package launch

import (
	"context"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/require"
)

// TestVerifyRequirementsMerge pins how the floor's require section and
// --require combine: every kind once, the lower severity limit, and a
// floor severity that does not parse (a floor built without ParseFloor)
// is an error.
func TestVerifyRequirementsMerge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		floor   policies.FloorRequire
		flag    attest.Requirements
		want    attest.Requirements
		wantErr string
	}{
		{name: "nothing", want: attest.Requirements{}},
		{name: "a kind both name is listed once",
			floor: policies.FloorRequire{Attestations: []string{"vuln", "sbom"}}, flag: attest.Requirements{Attestations: []string{"slsa", "vuln"}},
			want: attest.Requirements{Attestations: []string{"slsa", "vuln", "sbom"}}},
		{name: "floor only", floor: policies.FloorRequire{Attestations: []string{"sbom"}, MaxSeverity: "high"},
			want: attest.Requirements{Attestations: []string{"sbom"}, MaxSeverity: sevPtr(attest.SeverityHigh)}},
		{name: "flag only", flag: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityLow)},
			want: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityLow)}},
		{name: "the floor's limit is lower", floor: policies.FloorRequire{MaxSeverity: "medium"}, flag: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityCritical)},
			want: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityMedium)}},
		{name: "the flag's limit is lower", floor: policies.FloorRequire{MaxSeverity: "critical"}, flag: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityUnknown)},
			want: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityUnknown)}},
		{name: "equal limits", floor: policies.FloorRequire{MaxSeverity: "high"}, flag: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityHigh)},
			want: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityHigh)}},
		{name: "floor severity misspelt", floor: policies.FloorRequire{MaxSeverity: "severe"}, flag: attest.Requirements{MaxSeverity: sevPtr(attest.SeverityHigh)},
			wantErr: `floor require.maxSeverity: unknown severity "severe": use low, medium, high or critical`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			floor := policies.StrictFloor()
			floor.Require = tc.floor
			o, err := makeOptions(WithVerifier(ecKey(t)), WithFloor(floor), WithRequirements(tc.flag))
			require.NoError(t, err)
			got, err := o.requirements()
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestVerifyRequirementsNone: with nothing required no attestation is read
// (the digest's registry does not exist) and there is no evidence; a floor
// severity that does not parse stops the check before any read too.
func TestVerifyRequirementsNone(t *testing.T) {
	d, err := name.NewDigest("127.0.0.1:1/mcp/none@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	o, err := makeOptions(WithVerifier(ecKey(t)), WithFloor(policies.StrictFloor()))
	require.NoError(t, err)
	ev, err := checkRequirements(context.Background(), d, o, nil)
	require.NoError(t, err)
	require.Nil(t, ev)

	floor := policies.StrictFloor()
	floor.Require = policies.FloorRequire{Attestations: []string{"sbom"}, MaxSeverity: "severe"}
	o, err = makeOptions(WithVerifier(ecKey(t)), WithFloor(floor))
	require.NoError(t, err)
	ev, err = checkRequirements(context.Background(), d, o, nil)
	require.EqualError(t, err, `floor require.maxSeverity: unknown severity "severe": use low, medium, high or critical`)
	require.Nil(t, ev)
}
