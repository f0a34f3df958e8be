package build

import (
	"context"
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// SBOMHook receives the hardened image's SBOM after it is generated and
// before anything is signed or tagged (a vulnerability gate, say); an
// error refuses signing and tagging.
type SBOMHook func(ctx context.Context, d name.Digest, s *sbom.SBOM) error

// WithSBOM generates an SBOM of the pushed hardened image (what it holds,
// read back from the registry by digest) after the start check and before
// signing, keeps it in Result.SBOM for the SignFunc to attest, and runs
// hooks in order. A failure refuses signing and tagging. Default: no SBOM.
func WithSBOM(hooks ...SBOMHook) Option {
	return func(o *options) error {
		o.sbom = true
		o.sbomHooks = append(o.sbomHooks, hooks...)
		return nil
	}
}

// sbomStep generates out's SBOM into res and runs the hooks.
func (o *options) sbomStep(ctx context.Context, out name.Digest, res *Result) error {
	if !o.sbom {
		return nil
	}
	img, err := remote.Image(out, append(o.remote, remote.WithContext(ctx))...)
	if err != nil {
		return fmt.Errorf("reading %s for its SBOM: %w", out, err)
	}
	// Cataloguing unpacks every layer: through the spool, the layers the
	// hardening pass read are not inflated again, and the others with
	// klauspost (the standard library's inflater was most of a mirror
	// entry's CPU here).
	s, err := sbom.Generate(ctx, o.spool.Image(img), sbom.WithName(out.String()))
	if err != nil {
		return err
	}
	n := len(s.Packages())
	res.SBOM, res.SBOMPackages = s, &n
	for _, h := range o.sbomHooks {
		if err := h(ctx, out, s); err != nil {
			return err
		}
	}
	return nil
}

// SignWithSBOM returns a SignFunc that runs sign (signature, provenance)
// and then attests the result's SBOM (WithSBOM) in format with signer, so
// Harden tags only after all of them. A result without an SBOM is refused:
// a signer that asked for an SBOM attestation must not tag without one.
func SignWithSBOM(sign SignFunc, signer signature.Signer, format string, opts ...attest.Option) SignFunc {
	return func(ctx context.Context, d name.Digest, res *Result) error {
		if err := sign(ctx, d, res); err != nil {
			return err
		}
		return sbom.Attest(ctx, d, signer, res.SBOM, format, opts...)
	}
}
