package attest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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
// A bundle carries no docker-reference: bindBundle binds its repository
// through the statement's subject name, when it has one.
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

// bundleSource is the Sigstore bundles attached to d (see bundleStatements).
type bundleSource struct {
	d    name.Digest
	h    v1.Hash
	v    signature.Verifier
	o    *options
	sts  *fetched[bundleRead]
	once sync.Once
}

type bundleRead struct {
	sts   []Statement
	found bool
}

// prefetch starts reading and verifying the bundles now.
func (b *bundleSource) prefetch(ctx context.Context) {
	b.once.Do(func() {
		b.sts = fetch(func() (bundleRead, error) {
			sts, found, err := bundleStatements(ctx, b.d, b.h, b.v, b.o)
			return bundleRead{sts, found}, err
		})
	})
}

func (b *bundleSource) settle() {
	if b.sts != nil {
		b.sts.get()
	}
}

// statements returns the verified statements (read once) and whether d
// has any bundle at all.
func (b *bundleSource) statements(ctx context.Context) ([]Statement, bool, error) {
	b.prefetch(ctx)
	r, err := b.sts.get()
	return r.sts, r.found, err
}

func (b *bundleSource) check(ctx context.Context) (verdict, error) {
	sts, found, err := b.statements(ctx)
	if err != nil {
		return verdict{}, err
	}
	n, unbound := countBundleSignatures(b.d, b.h, sts, b.o)
	vd := verdict{verified: n, refusal: unbound, bundle: true}
	if found {
		vd.none = refuseBundleKey(b.d.String())
	}
	return vd, nil
}

// bindBundle checks that a bundle signature's statement is for d's
// repository, as checkOne does with a .sig's docker-reference: a subject
// naming d's digest must name d's repository (alone) or an allowed one. A
// statement that names no repository (cosign's own bundles) cannot be
// bound and passes only with WithUnboundBundles.
func bindBundle(d name.Digest, h v1.Hash, st *Statement, o *options) *RefusalError {
	want := d.Context().Name()
	var named []string
	for _, sub := range st.Subject {
		if sub.Digest[h.Algorithm] == h.Hex && sub.Name != "" {
			named = append(named, sub.Name)
		}
	}
	if len(named) == 0 {
		if o.unboundBundles {
			return nil
		}
		return refuseUnboundBundle(d.String(), want)
	}
	for _, n := range named {
		// NewRepository refuses a tag or digest, which cannot be checked here.
		if repo, err := name.NewRepository(n); err == nil && (repo.Name() == want || slices.Contains(o.allowed, repo.Name())) {
			return nil
		}
	}
	return refuseRepository(d.String(), named[0], want)
}

// countBundleSignatures counts the image signatures among verified bundle
// statements that bind d's repository; when none does, it returns the
// refusal of one that verified but did not bind.
func countBundleSignatures(d name.Digest, h v1.Hash, sts []Statement, o *options) (int, *RefusalError) {
	n := 0
	var refused *RefusalError
	for i := range sts {
		if sts[i].PredicateType != PredicateCosignSign {
			continue
		}
		if r := bindBundle(d, h, &sts[i], o); r != nil {
			refused = r
			continue
		}
		n++
	}
	if n > 0 {
		return n, nil
	}
	return 0, refused
}

func refuseUnboundBundle(image, want string) *RefusalError {
	reason := fmt.Sprintf("the Sigstore bundle signature names no repository, so it cannot be bound to %q (a copy of the image and its bundle in any repository would verify alike)", want)
	return withHint(image, checkRepository, reason, func(n func(string) string) string {
		// --new-bundle-format is cosign's own flag, not one of the caller's.
		return "sign it with " + n(FieldSign) + " or cosign sign without --new-bundle-format (both name the repository), or, if this key signs this repository alone, accept it with " + n(FieldUnboundBundles)
	})
}

func refuseBundleKey(image string) *RefusalError {
	return withHint(image, checkSignature, "no Sigstore bundle signature (OCI referrer) was made by the given public key", func(n func(string) string) string {
		return "check that " + n(FieldVerifier) + " is the cosign.pub of the key that signed it, or " + hintSign(n)
	})
}
