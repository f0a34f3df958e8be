package launch

import (
	"context"
	"fmt"
	"slices"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
)

// WithRequirements adds attestation requirements to the floor's
// (drydock verify --require): both apply.
//
// Default: only the floor's require section.
func WithRequirements(r attest.Requirements) Option {
	return func(o *options) error {
		o.require = r
		return nil
	}
}

// requirements merges the floor's require section with WithRequirements:
// every kind either names, and the lower severity limit.
func (o *options) requirements() (attest.Requirements, error) {
	r := attest.Requirements{Attestations: slices.Clone(o.require.Attestations), MaxSeverity: o.require.MaxSeverity}
	for _, k := range o.floor.Require.Attestations {
		if !slices.Contains(r.Attestations, k) {
			r.Attestations = append(r.Attestations, k)
		}
	}
	if s := o.floor.Require.MaxSeverity; s != "" {
		limit, err := attest.ParseSeverity(s)
		if err != nil {
			return r, fmt.Errorf("floor require.maxSeverity: %w", err)
		}
		if r.MaxSeverity != nil {
			limit = min(limit, *r.MaxSeverity)
		}
		r.MaxSeverity = &limit
	}
	return r, nil
}

// checkRequirements refuses d when it lacks a required attestation or its
// signed scan is over the limit; it returns nil evidence when nothing is
// required.
func checkRequirements(ctx context.Context, d name.Digest, o *options, ao []attest.Option) (*attest.Evidence, error) {
	r, err := o.requirements()
	if err != nil {
		return nil, err
	}
	if len(r.Attestations) == 0 && r.MaxSeverity == nil {
		return nil, nil
	}
	return attest.Require(ctx, d, o.verifier, r, ao...)
}
