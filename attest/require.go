package attest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Attestation kinds an image can be required to carry (drydock verify
// --require, the floor's require.attestations).
const (
	KindSLSA = "slsa"
	KindSBOM = "sbom"
	KindVuln = "vuln"
	KindVEX  = "openvex"
)

// kindTypes maps each kind to the predicate types that satisfy it, the
// preferred one first.
var kindTypes = map[string][]string{
	KindSLSA: {PredicateSLSAProvenanceV1},
	KindSBOM: {PredicateSPDX, PredicateCycloneDX},
	KindVuln: {PredicateVuln},
	KindVEX:  {PredicateOpenVEX},
}

// Kinds lists the attestation kinds Require knows, in a fixed order.
func Kinds() []string { return []string{KindSLSA, KindSBOM, KindVuln, KindVEX} }

const checkSeverity = "severity"

// Requirements are what an image must carry besides its signature.
type Requirements struct {
	// Attestations are the kinds (KindSLSA, KindSBOM, KindVuln, KindVEX)
	// that must each be present, signed by the same key, naming the image.
	Attestations []string
	// MaxSeverity, when set, is the most severe unsuppressed finding the
	// image's newest signed vulnerability result may hold; one above it is
	// refused. Setting it requires a vuln attestation.
	MaxSeverity *Severity
}

// Evidence is what Require or Inspect found on an image.
type Evidence struct {
	// Found maps each kind that verified to the predicate type that did.
	Found map[string]string
	// Vuln is the newest verified vulnerability scan (nil without one).
	Vuln *VulnPredicate
}

// Require verifies d's signature (as Verify, with v and opts) and every
// attestation req names, and refuses (a *RefusalError wrapping
// ErrRefused) an image that lacks one or whose newest signed vulnerability
// result holds an unsuppressed finding above req.MaxSeverity. The
// evidence gathered so far is returned with a refusal.
func Require(ctx context.Context, d name.Digest, v signature.Verifier, req Requirements, opts ...Option) (*Evidence, error) {
	kinds := slices.Clone(req.Attestations)
	if req.MaxSeverity != nil && !slices.Contains(kinds, KindVuln) {
		kinds = append(kinds, KindVuln)
	}
	ev := &Evidence{Found: map[string]string{}}
	for _, k := range kinds {
		if _, ok := kindTypes[k]; !ok {
			return ev, fmt.Errorf("unknown attestation kind %q: use %s", k, strings.Join(Kinds(), ", "))
		}
	}
	if len(kinds) == 0 {
		// Nothing but the signature: still verified, as documented.
		_, err := Verify(ctx, d, v, opts...)
		return ev, err
	}
	for _, k := range kinds {
		if err := ev.collect(ctx, d, v, k, opts); err != nil {
			return ev, fmt.Errorf("required %s attestation: %w", k, err)
		}
	}
	if req.MaxSeverity != nil {
		if f := ev.Vuln.Scanner.Result.Worst(); f != nil && f.Severity > *req.MaxSeverity {
			return ev, refuseSeverity(d.String(), *f, *req.MaxSeverity)
		}
	}
	return ev, nil
}

// Inspect verifies d's signature and reports which attestation kinds
// verify on it, without requiring any (drydock policy explain). A kind
// that does not verify is left out of Found; registry errors and a
// refused signature are returned.
func Inspect(ctx context.Context, d name.Digest, v signature.Verifier, opts ...Option) (*Evidence, error) {
	if _, err := Verify(ctx, d, v, opts...); err != nil {
		return nil, err
	}
	ev := &Evidence{Found: map[string]string{}}
	for _, k := range Kinds() {
		err := ev.collect(ctx, d, v, k, opts)
		var r *RefusalError
		if err != nil && !errors.As(err, &r) {
			return nil, err
		}
	}
	return ev, nil
}

// collect verifies the attestations of kind k and records them; it
// returns the refusal of the kind's first predicate type when none of its
// types verifies.
func (ev *Evidence) collect(ctx context.Context, d name.Digest, v signature.Verifier, k string, opts []Option) error {
	var first error
	for _, pt := range kindTypes[k] {
		res, err := Verify(ctx, d, v, append(slices.Clone(opts), WithAttestation(pt))...)
		if err != nil {
			var r *RefusalError
			if !errors.As(err, &r) {
				return err
			}
			if first == nil {
				first = err
			}
			continue
		}
		ev.Found[k] = pt
		if k == KindVuln {
			p, err := newestScan(d.String(), res.Attestations)
			if err != nil {
				return err
			}
			ev.Vuln = p
		}
		return nil
	}
	return first
}

// newestScan returns the vulnerability predicate that finished last: a
// rescan supersedes an older (perhaps cleaner) result.
func newestScan(image string, sts []Statement) (*VulnPredicate, error) {
	var newest *VulnPredicate
	for _, st := range sts {
		p, err := ParseVulnPredicate(st.Predicate)
		if err != nil {
			return nil, withHint(image, checkAttestation, fmt.Sprintf("its signed vulnerability attestation cannot be read (%v)", err), func(n func(string) string) string {
				return "rescan it with " + n(FieldScan)
			})
		}
		if newest == nil || p.Metadata.ScanFinishedOn.After(newest.Metadata.ScanFinishedOn) {
			newest = p
		}
	}
	return newest, nil
}

func refuseSeverity(image string, f VulnFinding, limit Severity) *RefusalError {
	return &RefusalError{Image: image, Check: checkSeverity,
		Reason: fmt.Sprintf("its signed vulnerability scan lists %s (%s) in %s %s, above the allowed %s", f.ID, f.Severity, f.Package, f.Version, limit),
		hint:   "rebuild it without the package, upgrade past the fix, or suppress the finding with a VEX statement and rescan"}
}
