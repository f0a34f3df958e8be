package policies

import (
	"fmt"
	"slices"
)

// FloorRequire is what a launching machine requires an image to carry
// besides its signature: signed attestations of these kinds, and, with
// MaxSeverity, a signed vulnerability scan whose worst unsuppressed
// finding is at most that severity.
//
//	require: {attestations: [slsa, sbom, vuln], maxSeverity: high}
type FloorRequire struct {
	// Attestations are kinds: slsa (SLSA provenance v1), sbom (SPDX or
	// CycloneDX), vuln (cosign's vuln predicate), openvex.
	Attestations []string `json:"attestations"`
	// MaxSeverity is the most severe finding allowed: none, unknown, low,
	// medium, high or critical. Empty means no limit.
	MaxSeverity string `json:"maxSeverity"`
}

// Attestation kinds and severity names a floor may name; attest reads the
// same names (its tests check that they agree).
var (
	RequireKinds = []string{"slsa", "sbom", "vuln", "openvex"}
	Severities   = []string{"none", "unknown", "low", "medium", "high", "critical"}
)

// Any reports whether the floor requires anything.
func (r FloorRequire) Any() bool { return len(r.Attestations) > 0 || r.MaxSeverity != "" }

func (r *FloorRequire) validate() []error {
	var errs []error
	for i, k := range r.Attestations {
		if !slices.Contains(RequireKinds, k) {
			errs = append(errs, fmt.Errorf("require.attestations[%d]: %q is not one of %v", i, k, RequireKinds))
		}
	}
	if r.MaxSeverity != "" && !slices.Contains(Severities, r.MaxSeverity) {
		errs = append(errs, fmt.Errorf("require.maxSeverity: %q is not one of %v", r.MaxSeverity, Severities))
	}
	return errs
}
