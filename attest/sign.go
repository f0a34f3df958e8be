package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Sign signs exactly the digest d and writes the signature to d's
// sha256-<hex>.sig tag, next to any signatures already there. The payload is
// cosign's simple-signing document, whose docker-reference is d's repository.
// When d is an image index, every child manifest is signed as well (as
// cosign sign --recursive does): the digest Verify checks is the one of the
// platform that runs. Nothing is uploaded to a transparency log. Signing a
// digest again with the same key is a no-op.
func Sign(ctx context.Context, d name.Digest, signer signature.Signer, opts ...Option) error {
	if signer == nil {
		return errors.New("signing: no signing key given")
	}
	return forEachTarget(ctx, d, opts, func(o *options, t name.Digest) error {
		if err := o.checkCertKey(signer); err != nil {
			return fmt.Errorf("signing %s: %w", t, err)
		}
		return signOne(t, signer, o)
	})
}

func signOne(d name.Digest, signer signature.Signer, o *options) error {
	se, err := signedEntity(d, o)
	if err != nil {
		return fmt.Errorf("signing %s: %w", d, err)
	}
	p, err := payload.Cosign{Image: d}.MarshalJSON()
	if err != nil {
		return fmt.Errorf("signing %s: encoding payload: %w", d, err)
	}
	done, err := alreadySigned(se, p, signer, o.cert)
	if err != nil {
		return fmt.Errorf("signing %s: reading existing signatures: %w", d, err)
	}
	if done {
		return nil
	}
	raw, err := signer.SignMessage(bytes.NewReader(p))
	if err != nil {
		return fmt.Errorf("signing %s: %w", d, err)
	}
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(raw), o.staticOptions()...)
	if err != nil {
		return fmt.Errorf("signing %s: %w", d, err)
	}
	se, err = mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		return fmt.Errorf("signing %s: attaching signature: %w", d, err)
	}
	if err := ociremote.WriteSignatures(d.Repository, se, o.ociOptions()...); err != nil {
		return fmt.Errorf("signing %s: writing signature: %w", d, err)
	}
	return nil
}

// signedEntity reads d with its signatures and attestations.
func signedEntity(d name.Digest, o *options) (oci.SignedEntity, error) {
	se, err := ociremote.SignedEntity(d, o.ociOptions()...)
	if err != nil {
		var nf *ociremote.EntityNotFoundError
		if errors.As(err, &nf) {
			return nil, errors.New("the image was not found in the registry; push it by digest first")
		}
		return nil, fmt.Errorf("reading image: %w", err)
	}
	return se, nil
}

// forEachTarget calls fn for d and, when d is an image index, for each of
// its children (depth first, children before the index, so an index never
// looks signed while a child is not).
func forEachTarget(ctx context.Context, d name.Digest, opts []Option, fn func(*options, name.Digest) error) error {
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return err
	}
	return walk(d, o, fn, 0)
}

// maxIndexDepth bounds index nesting so a hostile registry cannot loop us.
const maxIndexDepth = 4

func walk(d name.Digest, o *options, fn func(*options, name.Digest) error, depth int) error {
	desc, err := remote.Get(d, o.remote...)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("%s: the image was not found in the registry; push it by digest first", d)
		}
		return fmt.Errorf("reading %s: %w", d, err)
	}
	if desc.MediaType.IsIndex() {
		if depth >= maxIndexDepth {
			return fmt.Errorf("reading %s: image indexes nested deeper than %d", d, maxIndexDepth)
		}
		idx, err := desc.ImageIndex()
		if err != nil {
			return fmt.Errorf("reading index %s: %w", d, err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return fmt.Errorf("reading index %s: %w", d, err)
		}
		for _, child := range m.Manifests {
			if !child.MediaType.IsImage() && !child.MediaType.IsIndex() {
				continue // attestation manifests and other artifacts
			}
			if err := walk(d.Context().Digest(child.Digest.String()), o, fn, depth+1); err != nil {
				return err
			}
		}
	}
	return fn(o, d)
}

// alreadySigned reports whether se already carries a signature of exactly p
// made by signer's key and, when cert is set, carrying that certificate.
func alreadySigned(se oci.SignedEntity, p []byte, signer signature.Signer, cert *Certificate) (bool, error) {
	v, ok := signer.(signature.Verifier)
	if !ok {
		return false, nil
	}
	sigs, err := se.Signatures()
	if err != nil {
		return false, err
	}
	list, err := sigs.Get()
	if err != nil {
		return false, err
	}
	for _, s := range list {
		sp, err := s.Payload()
		if err != nil {
			return false, err
		}
		if !bytes.Equal(sp, p) || verifyRaw(v, s, sp) != nil {
			continue
		}
		if cert != nil {
			if c, err := s.Cert(); err != nil || c == nil || !c.Equal(cert.cert) {
				continue
			}
		}
		return true, nil
	}
	return false, nil
}
