package sbom

import (
	"context"
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Attest signs an in-toto statement whose subject is d and whose predicate
// is s encoded in format (FormatSPDX: predicate type PredicateSPDX, what
// `cosign verify-attestation --type spdxjson` checks; FormatCycloneDX:
// PredicateCycloneDX, `--type cyclonedx`), and writes it to d's .att tag.
func Attest(ctx context.Context, d name.Digest, signer signature.Signer, s *SBOM, format string, opts ...attest.Option) error {
	if s == nil {
		return fmt.Errorf("attesting the SBOM of %s: no SBOM was generated", d)
	}
	pt, doc, err := s.Encode(format)
	if err != nil {
		return fmt.Errorf("attesting the SBOM of %s: %w", d, err)
	}
	return attest.AttestPredicate(ctx, d, signer, pt, doc, opts...)
}

// AttestImage generates the SBOM of the image at d and attests it (see
// Attest). For an image index every platform image gets its own SBOM
// attestation, with itself as subject, since the digest that runs is a
// platform's; the index itself gets none (it holds no files). ro adds to
// the default registry options (the Docker config keychain).
func AttestImage(ctx context.Context, d name.Digest, signer signature.Signer, format string, ro []remote.Option, opts ...attest.Option) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	ro = append(append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, ro...), remote.WithContext(ctx))
	desc, err := remote.Get(d, ro...)
	if err != nil {
		return fmt.Errorf("reading %s for its SBOM: %w", d, err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return fmt.Errorf("reading %s for its SBOM: %w", d, err)
		}
		return attestOne(ctx, d, img, signer, format, opts)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return fmt.Errorf("reading index %s for its SBOMs: %w", d, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index %s for its SBOMs: %w", d, err)
	}
	for _, c := range m.Manifests {
		if !c.MediaType.IsImage() {
			continue
		}
		cd := d.Context().Digest(c.Digest.String())
		img, err := idx.Image(c.Digest)
		if err != nil {
			return fmt.Errorf("reading %s (in index %s) for its SBOM: %w", cd, d, err)
		}
		if err := attestOne(ctx, cd, img, signer, format, opts); err != nil {
			return err
		}
	}
	return nil
}

func attestOne(ctx context.Context, d name.Digest, img v1.Image, signer signature.Signer, format string, opts []attest.Option) error {
	s, err := Generate(ctx, img, WithName(d.String()))
	if err != nil {
		return err
	}
	return Attest(ctx, d, signer, s, format, opts...)
}
