package attest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Result describes a successful verification.
type Result struct {
	// Digest is the verified image.
	Digest name.Digest
	// Verified is how many signatures passed every check (at least one).
	Verified int
	// Attestations are the verified statements of the required predicate
	// type (WithAttestation, WithSourceDigest); nil when none was required.
	Attestations []Statement
	// Bundle is true when the signature came from a Sigstore bundle (OCI
	// 1.1 referrer, cosign's new bundle format) rather than the .sig tag.
	// Its repository was bound by the statement's subject name, or, for a
	// bundle naming none, by the caller's WithUnboundBundles.
	Bundle bool
}

// Verify verifies the signatures at the .sig tag of the digest d (never a
// tag: Resolve first) with the public key v (or, when v is a
// *KeylessVerifier, with the certificates the signatures carry), offline.
// A signature counts only if cosign verifies it with its claim verifier
// (the payload names exactly d's digest) and its payload's
// docker-reference names d's repository (alone: a tag or digest there is
// refused) or one allowed by WithAllowedRepositories. Verify succeeds if at least one signature
// counts; otherwise it returns a *RefusalError wrapping ErrRefused.
// Registry errors are returned as they are, not as refusals.
//
// With WithAttestation or WithSourceDigest, Verify also requires an
// attestation signed by v whose signed statement has the predicate type,
// names d as its subject and, if pinned, records the upstream digest.
func Verify(ctx context.Context, d name.Digest, v signature.Verifier, opts ...Option) (*Result, error) {
	if v == nil {
		return nil, errors.New("verifying: no public key given")
	}
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("verifying %q: not a digest reference; resolve the image to its digest first: %w", d.String(), err)
	}
	tags := &tagSource{d: d, h: h, v: v, o: o}
	srcs := []sigSource{tags}
	var bundles *bundleSource
	// Bundles (new format) are read for keys only: a keyless bundle is
	// verified by sigstore-go, which wants a signed time (tlog or TSA).
	if _, keyless := v.(*KeylessVerifier); !keyless {
		bundles = &bundleSource{d: d, h: h, v: v, o: o}
		srcs = append(srcs, bundles)
	}
	var atts *fetched[[]oci.Signature]
	// No signature read outlives Verify, so one started needlessly shows
	// in tests. (The attestation read, when required, is waited for on
	// every path but a refusal of the signatures.)
	defer func() {
		for _, s := range srcs {
			s.settle()
		}
	}()
	if o.predicateType != "" {
		atts = readTogether(ctx, d, o, srcs)
	}
	res, err := decide(ctx, d, srcs)
	if err != nil {
		return nil, err
	}
	if o.predicateType != "" {
		var bundled []Statement
		if bundles != nil {
			if bundled, _, err = bundles.statements(ctx); err != nil {
				return nil, err
			}
		}
		list, err := atts.get()
		if err != nil {
			return nil, err
		}
		if res.Attestations, err = verifyAttestations(ctx, d, h, v, bundled, list, o); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// readTogether starts reading every signature source and the .att tag at
// once: with an attestation required every scheme is needed, so they are
// not read one after another. It returns the attestations being read.
func readTogether(ctx context.Context, d name.Digest, o *options, srcs []sigSource) *fetched[[]oci.Signature] {
	atts := fetch(func() ([]oci.Signature, error) { return fetchAttestations(d, o) })
	for _, s := range srcs {
		s.prefetch(ctx)
	}
	return atts
}

// sigSource is one scheme an image's signatures are stored in: cosign's
// .sig tag, or Sigstore bundles attached as OCI 1.1 referrers.
type sigSource interface {
	// prefetch starts reading the source's signatures (once).
	prefetch(ctx context.Context)
	// check verifies the signatures the source holds for the image.
	check(ctx context.Context) (verdict, error)
	// settle waits for a read that prefetch started.
	settle()
}

// verdict is what one source says.
type verdict struct {
	// verified is how many signatures passed every check.
	verified int
	// refusal is the furthest refusal of a signature that was read.
	refusal *RefusalError
	// none is said when the source held signatures, none counted and
	// nothing got further (a bundle by another key).
	none *RefusalError
	// bundle marks the bundle scheme.
	bundle bool
}

// decide asks the sources in order and stops at the first that verified a
// signature, so a later scheme is read only when an earlier one settles
// nothing. With none, it refuses with the furthest refusal (between
// sources, a later scheme's wins a tie), else what a source said of
// signatures it held, else "unsigned".
func decide(ctx context.Context, d name.Digest, srcs []sigSource) (*Result, error) {
	var refusal, none *RefusalError
	for _, s := range srcs {
		vd, err := s.check(ctx)
		if err != nil {
			return nil, err
		}
		if vd.verified > 0 {
			return &Result{Digest: d, Verified: vd.verified, Bundle: vd.bundle}, nil
		}
		if vd.refusal != nil && (refusal == nil || refusalRank[vd.refusal.Check] >= refusalRank[refusal.Check]) {
			refusal = vd.refusal
		}
		none = cmp.Or(vd.none, none)
	}
	if refusal != nil {
		return nil, refusal
	}
	if none != nil {
		return nil, none
	}
	return nil, refuseUnsigned(d.String())
}

// tagSource is the signatures at d's .sig tag.
type tagSource struct {
	d    name.Digest
	h    v1.Hash
	v    signature.Verifier
	o    *options
	sigs *fetched[[]oci.Signature]
	once sync.Once
}

// prefetch starts reading the signatures, once.
func (t *tagSource) prefetch(context.Context) {
	t.once.Do(func() {
		t.sigs = fetch(func() ([]oci.Signature, error) { return fetchSignatures(t.d, t.o) })
	})
}

func (t *tagSource) settle() {
	if t.sigs != nil {
		t.sigs.get()
	}
}

func (t *tagSource) check(ctx context.Context) (verdict, error) {
	t.prefetch(ctx)
	sigs, err := t.sigs.get()
	if err != nil {
		return verdict{}, err
	}
	// A nil claim verifier would accept another digest's signature.
	co := t.o.checkOpts(t.v, cosign.SimpleClaimVerifier)
	var vd verdict
	for _, s := range sigs {
		// A static copy reads the payload once, so every check sees the same bytes.
		sig, err := static.Copy(s)
		if err != nil {
			return verdict{}, fmt.Errorf("verifying %s: reading signature: %w", t.d, err)
		}
		if r := checkOne(ctx, t.d, t.h, sig, co, t.o.allowed); r != nil {
			vd.refusal = further(vd.refusal, r)
			continue
		}
		vd.verified++
	}
	return vd, nil
}

// fetched is a registry read started ahead of its use.
type fetched[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func fetch[T any](f func() (T, error)) *fetched[T] {
	r := &fetched[T]{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.val, r.err = f()
	}()
	return r
}

func (r *fetched[T]) get() (T, error) {
	<-r.done
	return r.val, r.err
}

func fetchSignatures(d name.Digest, o *options) ([]oci.Signature, error) {
	return fetchTagged(d, o, ociremote.SignatureTag, "signatures")
}

// fetchTagged reads the signatures or attestations stored at d's cosign tag
// (sha256-<hex>.sig or .att); both are the same kind of OCI image.
func fetchTagged(d name.Digest, o *options, tagFor func(name.Reference, ...ociremote.Option) (name.Tag, error), what string) ([]oci.Signature, error) {
	tag, err := tagFor(d, o.ociOptions()...)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", d, err)
	}
	sigs, err := ociremote.Signatures(tag, o.ociOptions()...)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: fetching %s: %w", d, what, err)
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, fmt.Errorf("verifying %s: reading %s: %w", d, what, err)
	}
	return list, nil
}

// checkOne runs every check on one signature and returns nil if it
// passes. The decision is cosign's (with the claim verifier) plus the
// repository binding; the other steps only explain a refusal.
func checkOne(ctx context.Context, d name.Digest, h v1.Hash, sig oci.Signature, co *cosign.CheckOpts, allowed []string) *RefusalError {
	image := d.String()
	p, err := sig.Payload()
	if err != nil {
		return refusePayload(image)
	}
	sci, ok := parsePayload(p)
	if !ok {
		return refusePayload(image)
	}
	if _, err := cosign.VerifyImageSignature(ctx, sig, h, co); err != nil {
		if co.SigVerifier == nil { // keyless
			if r := explainCertificate(image, sig, co, time.Now()); r != nil {
				return r
			}
		}
		switch {
		case co.SigVerifier != nil && verifyRaw(co.SigVerifier, sig, p) != nil:
			return refuseOtherKey(image)
		case sci.Critical.Image.DockerManifestDigest != h.String():
			return refuseClaim(image, sci.Critical.Image.DockerManifestDigest)
		default:
			return refuseRejected(image, err)
		}
	}
	claimed := sci.Critical.Identity.DockerReference
	want := d.Context().Name()
	// Anything but exactly this repository (or an allowed one) is refused;
	// what does not parse as a repository names none.
	if repo, err := name.NewRepository(claimed); err != nil {
		if _, err := name.ParseReference(claimed); err == nil {
			// A tag is a claim about which tag names the digest, which a
			// verification by digest cannot check (a signature for :debug
			// would pass for :v1); drydock and cosign sign the repository alone.
			return refuseTaggedReference(image, claimed)
		}
	} else if r := repo.Name(); r == want || slices.Contains(allowed, r) {
		return nil
	}
	return refuseRepository(image, claimed, want)
}

// parsePayload decodes a cosign simple-signing payload and requires the
// fields Verify relies on.
func parsePayload(p []byte) (payload.SimpleContainerImage, bool) {
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(p, &sci); err != nil {
		return sci, false
	}
	c := sci.Critical
	ok := c.Type == payload.CosignSignatureType &&
		c.Image.DockerManifestDigest != "" &&
		c.Identity.DockerReference != ""
	return sci, ok
}

// verifyRaw checks the cryptographic signature over p alone, as cosign does.
func verifyRaw(v signature.Verifier, sig oci.Signature, p []byte) error {
	b64, err := sig.Base64Signature()
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	return v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(p))
}

// further returns the refusal that got further through the checks, worst
// on a tie: the first of equally far refusals is the one reported.
func further(worst, r *RefusalError) *RefusalError {
	if worst == nil || refusalRank[r.Check] > refusalRank[worst.Check] {
		return r
	}
	return worst
}
