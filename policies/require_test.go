package policies

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFloorRequire(t *testing.T) {
	const head = "apiVersion: drydock.dev/v1\nkind: Floor\n"
	for _, tc := range []struct {
		name, doc string
		want      FloorRequire
		wantErr   string
	}{
		{"issue example", "require: {attestations: [slsa, sbom, vuln], maxSeverity: high}\n",
			FloorRequire{Attestations: []string{"slsa", "sbom", "vuln"}, MaxSeverity: "high"}, ""},
		{"omitted: nothing required", "", FloorRequire{}, ""},
		{"openvex kind", "require: {attestations: [openvex]}\n", FloorRequire{Attestations: []string{"openvex"}}, ""},
		{"unknown kind", "require: {attestations: [sbom, spdx]}\n", FloorRequire{},
			`require.attestations[1]: "spdx" is not one of [slsa sbom vuln openvex]`},
		{"unknown severity", "require: {maxSeverity: severe}\n", FloorRequire{},
			`require.maxSeverity: "severe" is not one of [none unknown low medium high critical]`},
		{"severity case matters", "require: {maxSeverity: HIGH}\n", FloorRequire{}, `require.maxSeverity: "HIGH"`},
		{"unknown field", "require: {attestation: [sbom]}\n", FloorRequire{}, "require.attestation: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFloor([]byte(head+tc.doc), "floor.yaml", "/home/dev")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, "floor.yaml")
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, f.Require)
			require.Equal(t, tc.want.Attestations != nil || tc.want.MaxSeverity != "", f.Require.Any())
		})
	}
}

func TestStrictFloorRequiresNothing(t *testing.T) {
	require.False(t, StrictFloor().Require.Any(), "a machine without a floor file keeps launching signed images without attestations")
}
