package attest

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PredicateCosignSign is the predicate type of an image signature in
// cosign's new bundle format: a DSSE in-toto statement whose subject is the
// signed digest.
const PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"

// bundleStatements returns the in-toto statements of the Sigstore bundles
// attached to d as OCI 1.1 referrers (cosign --new-bundle-format, the
// default of cosign v3) that verify with v and name d as their subject.
// found reports whether d has any bundle at all.
//
// Unlike the .sig scheme, a bundle carries no docker-reference, so the
// repository cannot be bound: a bundle is only ever looked up in d's own
// repository, and a mirror copy verifies like the original.
func bundleStatements(ctx context.Context, d name.Digest, h v1.Hash, v signature.Verifier, o *options) (sts []Statement, found bool, err error) {
	co := &cosign.CheckOpts{
		SigVerifier:        v,
		IgnoreTlog:         true,
		NewBundleFormat:    true,
		ClaimVerifier:      cosign.IntotoSubjectClaimVerifier,
		RegistryClientOpts: o.ociOptions(),
		// cosign v2.6 demands trusted material even for a key (fixed in
		// v3.0.4, sigstore/cosign#4613); an empty root trusts no CA or log,
		// so only the key can verify.
		TrustedMaterial: &root.TrustedRoot{},
	}
	if _, _, err := cosign.GetBundles(ctx, d, co); err != nil {
		var none *cosign.ErrNoMatchingAttestations
		if errors.As(err, &none) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("verifying %s: reading Sigstore bundles: %w", d, err)
	}
	atts, _, err := cosign.VerifyImageAttestations(ctx, d, co)
	if err != nil {
		var none *cosign.ErrNoMatchingAttestations
		if errors.As(err, &none) {
			return nil, true, nil // bundles there, none verified with this key
		}
		return nil, true, fmt.Errorf("verifying %s: verifying Sigstore bundles: %w", d, err)
	}
	for _, att := range atts {
		env, err := att.Payload()
		if err != nil {
			continue
		}
		// The artifact digest was checked by sigstore-go; the subject is
		// checked again here so the rule does not depend on it.
		if st, ok := parseStatement(env); ok && st.names(h) {
			sts = append(sts, *st)
		}
	}
	return sts, true, nil
}

func refuseBundleKey(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkSignature,
		Reason: "no Sigstore bundle signature (OCI referrer) was made by the given public key",
		hint:   "check that --key is the cosign.pub of the key that signed it, or " + hintSign}
}
