package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
// Nothing is uploaded to a transparency log. Signing a digest again with the
// same key is a no-op.
func Sign(ctx context.Context, d name.Digest, signer signature.Signer, opts ...Option) error {
	if signer == nil {
		return errors.New("signing: no signing key given")
	}
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return err
	}
	se, err := ociremote.SignedEntity(d, o.ociOptions()...)
	if err != nil {
		var nf *ociremote.EntityNotFoundError
		if errors.As(err, &nf) {
			return fmt.Errorf("signing %s: the image was not found in the registry; push it by digest first", d)
		}
		return fmt.Errorf("signing %s: reading image: %w", d, err)
	}
	p, err := payload.Cosign{Image: d}.MarshalJSON()
	if err != nil {
		return fmt.Errorf("signing %s: encoding payload: %w", d, err)
	}
	done, err := alreadySigned(se, p, signer)
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
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(raw))
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

// alreadySigned reports whether se already carries a signature of exactly p
// made by signer's key.
func alreadySigned(se oci.SignedEntity, p []byte, signer signature.Signer) (bool, error) {
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
		if bytes.Equal(sp, p) && verifyRaw(v, s, sp) == nil {
			return true, nil
		}
	}
	return false, nil
}

// Resolve resolves ref once to a digest. A name.Digest is returned unchanged
// after checking that it exists. An image that is not there is refused
// (check "resolve"); other registry errors are not refusals.
func Resolve(ctx context.Context, ref name.Reference, opts ...Option) (name.Digest, error) {
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := remote.Head(ref, o.remote...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return name.Digest{}, refuseNotFound(ref.String())
		}
		return name.Digest{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	if d, ok := ref.(name.Digest); ok {
		if d.DigestStr() != desc.Digest.String() {
			return name.Digest{}, fmt.Errorf("resolving %s: the registry answered with digest %s", ref, desc.Digest)
		}
		return d, nil
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}
