package scan

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Image scans the image d by its signed SBOM: it verifies d's signature
// and SBOM attestation with v (attest.Verify, the rules of drydock
// verify), matches the SBOM's packages against db and applies
// docs. A missing or unverifiable SBOM is a refusal (wrapping
// attest.ErrRefused), never an empty result.
func Image(ctx context.Context, d name.Digest, v signature.Verifier, db *DB, docs []*vex.VEX, opts ...attest.Option) (*attest.VulnResult, error) {
	var (
		res   *attest.Result
		first error
	)
	for _, pt := range []string{attest.PredicateSPDX, attest.PredicateCycloneDX} {
		r, err := attest.Verify(ctx, d, v, append(slices.Clone(opts), attest.WithAttestation(pt))...)
		if err == nil {
			res = r
			break
		}
		if !errors.Is(err, attest.ErrRefused) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	if res == nil {
		return nil, fmt.Errorf("scanning needs a signed SBOM: %w", first)
	}
	// Several SBOMs (a re-sign): the union of their packages is matched,
	// so none can hide a package another lists.
	var pkgs []Package
	for _, st := range res.Attestations {
		p, err := PackagesFromSBOM(st.PredicateType, st.Predicate)
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", d, err)
		}
		pkgs = append(pkgs, p...)
	}
	r, err := Match(db, dedupe(pkgs))
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", d, err)
	}
	Suppress(r, docs...)
	return r, nil
}

func dedupe(pkgs []Package) []Package {
	seen := map[Package]bool{}
	var out []Package
	for _, p := range pkgs {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
