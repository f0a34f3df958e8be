package provenance

import (
	"context"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Sign is drydock sign: it resolves ref once to its manifest digest and
// signs exactly that digest (an index together with every image it lists).
// With an sbomFormat it also attests the SLSA provenance of what harden
// recorded on the image and a signed SBOM (in that format) of each platform
// image; "" signs only. It returns the signed digest.
func Sign(ctx context.Context, ref name.Reference, signer signature.Signer, sbomFormat string, opts ...attest.Option) (name.Digest, error) {
	d, err := attest.ResolveManifest(ctx, ref)
	if err != nil {
		return name.Digest{}, err
	}
	if err := attest.Sign(ctx, d, signer, opts...); err != nil {
		return name.Digest{}, err
	}
	if sbomFormat == "" {
		return d, nil
	}
	prov := &attest.Provenance{BuilderID: BuilderID(), Version: Version(), FinishedOn: time.Now()}
	if err := attest.Attest(ctx, d, signer, prov, opts...); err != nil {
		return name.Digest{}, err
	}
	if err := sbom.AttestImage(ctx, d, signer, sbomFormat, nil, opts...); err != nil {
		return name.Digest{}, err
	}
	return d, nil
}
