package attest

import (
	"encoding/json"
	"fmt"
)

// HardenParameters are the inputs a drydock provenance statement records
// for a hardening run: enough to decide whether the same run would give
// the same image (drydock mirror skips an entry when they all match).
type HardenParameters struct {
	// Source is the upstream image, repository@sha256:...
	Source string
	// Base is the hardened base, repository@sha256:... ("" for inplace).
	Base string
	// OldBase is the upstream's own base, repository@sha256:..., when known.
	OldBase string
	// Strategy is rebuild, rebase or inplace ("unknown" when signed after the fact).
	Strategy string
	// PolicyDigest is the sha256 of the canonical policy label.
	PolicyDigest string
	// SourceDateEpoch is the source date every timestamp came from, in
	// seconds; nil when the statement predates its recording.
	SourceDateEpoch *int64
	// Carry are the executables carried from the upstream, sorted.
	Carry []string
	// Smoke is the recorded smoke result (any JSON value), nil when no
	// smoke test ran.
	Smoke json.RawMessage
}

// HardenParameters reads the external parameters of a drydock SLSA
// provenance statement. Call it only on statements Verify returned: the
// values are as trustworthy as the signature that covered them.
func (s *Statement) HardenParameters() (HardenParameters, error) {
	if s.PredicateType != PredicateSLSAProvenanceV1 {
		return HardenParameters{}, fmt.Errorf("reading provenance: predicate type is %q, want %q", s.PredicateType, PredicateSLSAProvenanceV1)
	}
	var pred slsaPredicate
	if err := json.Unmarshal(s.Predicate, &pred); err != nil {
		return HardenParameters{}, fmt.Errorf("reading provenance predicate: %w", err)
	}
	if pred.BuildDefinition.BuildType != BuildTypeHarden {
		return HardenParameters{}, fmt.Errorf("reading provenance: build type is %q, want %q", pred.BuildDefinition.BuildType, BuildTypeHarden)
	}
	ext := pred.BuildDefinition.ExternalParameters
	hp := HardenParameters{
		Source: ext.Source, Base: ext.Base, OldBase: ext.OldBase,
		Strategy: ext.Strategy, PolicyDigest: ext.PolicyDigest, SourceDateEpoch: ext.SourceDateEpoch,
		Carry: ext.Carry,
	}
	for _, bp := range pred.RunDetails.Byproducts {
		if bp.Name == "smoke" {
			hp.Smoke = bp.Annotations["summary"]
		}
	}
	return hp, nil
}
