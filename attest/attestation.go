package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

// Attest signs an in-toto statement with a SLSA provenance v1 predicate
// describing how d was hardened, whose only subject is d, and writes it to
// d's sha256-<hex>.att tag in cosign's format (a DSSE envelope), next to any
// attestations already there. When d is an image index, every child image
// gets its own statement (with itself as subject) as well, since the
// digest that runs is a child's. Nothing is uploaded to a transparency log.
//
// Source, Base, Policy and Strategy left empty in p are filled, per image,
// from what drydock harden records on it: the dev.drydock.source and
// dev.drydock.policy labels and the org.opencontainers.image.base.*
// manifest annotations (drydock sign --attest relies on this).
func Attest(ctx context.Context, d name.Digest, signer signature.Signer, p *Provenance, opts ...Option) error {
	if p == nil {
		return errors.New("attesting: no provenance given")
	}
	return forEachTarget(ctx, d, opts, func(o *options, t name.Digest) error {
		if err := o.checkCertKey(signer); err != nil {
			return fmt.Errorf("attesting %s: %w", t, err)
		}
		tp, err := p.completeFrom(t, o)
		if err != nil {
			return fmt.Errorf("attesting %s: %w", t, err)
		}
		st, err := tp.statement(t)
		if err != nil {
			return fmt.Errorf("attesting %s: %w", t, err)
		}
		return attestOne(t, signer, PredicateSLSAProvenanceV1, st, o)
	})
}

// AttestPredicate signs an in-toto statement with subject d and the given
// predicate type and predicate (a JSON value), and writes it to d's .att
// tag. Use it for predicates other than drydock's provenance; unlike
// Attest, it does not descend into an index.
func AttestPredicate(ctx context.Context, d name.Digest, signer signature.Signer, predicateType string, predicate json.RawMessage, opts ...Option) error {
	if !json.Valid(predicate) {
		return fmt.Errorf("attesting %s: the %s predicate is not JSON", d, predicateType)
	}
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return err
	}
	if err := o.checkCertKey(signer); err != nil {
		return fmt.Errorf("attesting %s: %w", d, err)
	}
	st, err := newStatement(d, predicateType, predicate)
	if err != nil {
		return fmt.Errorf("attesting %s: %w", d, err)
	}
	return attestOne(d, signer, predicateType, st, o)
}

func attestOne(d name.Digest, signer signature.Signer, predicateType string, statement []byte, o *options) error {
	if signer == nil {
		return errors.New("attesting: no signing key given")
	}
	se, err := signedEntity(d, o)
	if err != nil {
		return fmt.Errorf("attesting %s: %w", d, err)
	}
	env, err := dsse.WrapSigner(signer, types.IntotoPayloadType).SignMessage(bytes.NewReader(statement))
	if err != nil {
		return fmt.Errorf("attesting %s: signing the statement: %w", d, err)
	}
	// The predicateType annotation is only a hint for other tools (the
	// cosign CLI reads it); Verify reads the type from the signed statement.
	att, err := static.NewAttestation(env, append(o.staticOptions(),
		static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": predicateType}))...)
	if err != nil {
		return fmt.Errorf("attesting %s: %w", d, err)
	}
	se, err = mutate.AttachAttestationToEntity(se, att)
	if err != nil {
		return fmt.Errorf("attesting %s: attaching attestation: %w", d, err)
	}
	if err := ociremote.WriteAttestations(d.Repository, se, o.ociOptions()...); err != nil {
		return fmt.Errorf("attesting %s: writing attestation: %w", d, err)
	}
	return nil
}

// Labels and annotations drydock harden writes (the policies and build
// packages own them; attest only reads them back).
const (
	labelPolicy          = "dev.drydock.policy"
	labelSource          = "dev.drydock.source"
	annotationBaseName   = "org.opencontainers.image.base.name"
	annotationBaseDigest = "org.opencontainers.image.base.digest"
)

// completeFrom returns a copy of p with its empty fields filled from the
// image d's labels and annotations. An index has neither: it is returned
// as is.
func (p *Provenance) completeFrom(d name.Digest, o *options) (*Provenance, error) {
	q := *p
	if q.Source != "" && q.Base != "" && len(q.Policy) > 0 && q.Strategy != "" {
		return &q, nil
	}
	desc, err := remote.Get(d, o.remote...)
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	if !desc.MediaType.IsImage() {
		return &q, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if q.Source == "" {
		q.Source = cfg.Config.Labels[labelSource]
	}
	if len(q.Policy) == 0 && cfg.Config.Labels[labelPolicy] != "" {
		q.Policy = []byte(cfg.Config.Labels[labelPolicy])
	}
	if bn, bd := m.Annotations[annotationBaseName], m.Annotations[annotationBaseDigest]; q.Base == "" && bn != "" && bd != "" {
		if ref, err := name.ParseReference(bn); err == nil {
			q.Base = ref.Context().Digest(bd).String()
		}
	}
	if q.Strategy == "" {
		q.Strategy = "unknown" // signed after the fact: how it was built is not recorded on the image
	}
	return &q, nil
}
