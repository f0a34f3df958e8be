package build_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// The SBOM step runs after the push and before signing: a hook that
// refuses (the vulnerability gate's seam) stops signing and tagging, and
// with SignWithSBOM the tag moves only once the SBOM attestation is there.
func TestHardenSBOM(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	key, err := signature.LoadECDSASignerVerifier(pk, crypto.SHA256)
	require.NoError(t, err)

	t.Run("a refusing hook: nothing signed or tagged", func(t *testing.T) {
		dst := e.dst("sbom-refused") + ":v1"
		signed := false
		var got name.Digest
		_, err := build.Harden(ctx, e.fx.Upstream, dst, build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase),
			build.WithoutSmoke("test"),
			build.WithSBOM(func(_ context.Context, d name.Digest, s *sbom.SBOM) error {
				got = d
				return errors.New("gate says no")
			}),
			build.WithSigner(func(context.Context, name.Digest, *build.Result) error { signed = true; return nil }))
		require.ErrorContains(t, err, "not signing or tagging")
		require.ErrorContains(t, err, "gate says no")
		require.False(t, signed, "the signer ran after the SBOM hook refused")
		require.NotEmpty(t, got.DigestStr(), "the hook was not called with the pushed digest")
		tag, err := name.NewTag(dst)
		require.NoError(t, err)
		_, err = remote.Head(tag)
		require.Error(t, err, "the tag was moved after the SBOM hook refused")
	})
	t.Run("signed, attested, then tagged", func(t *testing.T) {
		dst := e.dst("sbom-attested") + ":v1"
		sign := func(ctx context.Context, d name.Digest, _ *build.Result) error { return attest.Sign(ctx, d, key) }
		res, err := build.Harden(ctx, e.fx.Upstream, dst, build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase),
			build.WithoutSmoke("test"), build.WithSBOM(),
			build.WithSigner(build.SignWithSBOM(sign, key, sbom.FormatCycloneDX)))
		require.NoError(t, err)
		require.Equal(t, dst, res.Tag)
		require.NotNil(t, res.SBOMPackages)
		d, err := name.NewDigest(res.Ref)
		require.NoError(t, err)
		_, err = attest.Verify(ctx, d, key, attest.WithAttestation("https://cyclonedx.org/bom"))
		require.NoError(t, err, "the hardened image carries no verifiable CycloneDX SBOM attestation")
	})
	t.Run("a signer without an SBOM refuses to tag", func(t *testing.T) {
		dst := e.dst("sbom-missing") + ":v1"
		sign := func(ctx context.Context, d name.Digest, _ *build.Result) error { return attest.Sign(ctx, d, key) }
		_, err := build.Harden(ctx, e.fx.Upstream, dst, build.WithBase(e.fx.HardenedBase), build.WithStrategy(build.StrategyRebase),
			build.WithoutSmoke("test"), build.WithSigner(build.SignWithSBOM(sign, key, sbom.FormatSPDX)))
		require.ErrorContains(t, err, "no SBOM was generated")
		tag, err := name.NewTag(dst)
		require.NoError(t, err)
		_, err = remote.Head(tag)
		require.Error(t, err, "the tag was moved without an SBOM attestation")
	})
}
