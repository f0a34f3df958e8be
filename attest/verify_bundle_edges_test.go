package attest_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/stretchr/testify/require"
)

// attestBundle attaches to d a Sigstore bundle holding the statement p of
// predicate type pt signed with sv, as cosign attest --new-bundle-format
// writes it.
func attestBundle(t *testing.T, d name.Digest, sv signature.SignerVerifier, pt string, p []byte) {
	t.Helper()
	env, err := dsse.WrapSigner(sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(p))
	require.NoError(t, err)
	pub, err := sv.PublicKey()
	require.NoError(t, err)
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	require.NoError(t, err)
	b, err := cbundle.MakeNewBundle(pub, nil, p, env, pubPEM, nil)
	require.NoError(t, err)
	require.NoError(t, ociremote.WriteAttestationNewBundleFormat(d, b, pt))
}

// TestVerifyBundleAttestations pins how attestations in Sigstore bundles
// (OCI referrers) count next to those at the .att tag, against the
// in-memory registry.
func TestVerifyBundleAttestations(t *testing.T) {
	const (
		slsa = "https://slsa.dev/provenance/v1"
		spdx = "https://spdx.dev/Document"
	)
	tests := []struct {
		name string
		// setup signs and attests f.a and returns the options.
		setup      func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option
		wantBundle bool
		wantCheck  string // "" means verified
		wantReason string
	}{{
		name: "bundle signature and bundle attestation",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, key, f.x.Name())
			attestBundle(t, f.a, key, slsa, statement(t, slsa, f.b.DigestStr(), f.a))
			return nil
		},
		wantBundle: true,
	}, {
		name: ".sig signature and bundle attestation",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, slsa, statement(t, slsa, f.b.DigestStr(), f.a))
			return nil
		},
	}, {
		name: "bundle attestation of another predicate type and no .att",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, spdx, statement(t, spdx, f.b.DigestStr(), f.a))
			return nil
		},
		wantCheck: "predicate-type", wantReason: "(found [" + spdx + "])",
	}, {
		name: "two bundle attestations of the same other type: named once",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, spdx, statement(t, spdx, f.b.DigestStr(), f.a))
			attestBundle(t, f.a, key, spdx, statement(t, spdx, f.aInY.DigestStr(), f.a))
			return nil
		},
		wantCheck: "predicate-type", wantReason: "(found [" + spdx + "])",
	}, {
		name: "bundle attestation of another type and the same type at .att: named once",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, spdx, statement(t, spdx, f.b.DigestStr(), f.a))
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, spdx, json.RawMessage(`{}`)))
			return nil
		},
		wantCheck: "predicate-type", wantReason: "(found [" + spdx + "])",
	}, {
		name: "bundle attestation of another upstream and no .att",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, slsa, statement(t, slsa, f.aInY.DigestStr(), f.a))
			return []attest.Option{attest.WithSourceDigest(f.b.DigestStr())}
		},
		wantCheck: "provenance", wantReason: "not the pinned WithSourceDigest",
	}, {
		name: "a bundle signature is not an attestation",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, key, f.x.Name())
			return nil
		},
		wantCheck: "attestation", wantReason: "no " + slsa + " attestation found",
	}, {
		name: "bundle attestation of another predicate type, good one at .att",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, spdx, statement(t, spdx, f.b.DigestStr(), f.a))
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.b.DigestStr(), f.a)))
			return nil
		},
	}, {
		name: "bundle attestations of another upstream and another type: the furthest wins",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			attestBundle(t, f.a, key, slsa, statement(t, slsa, f.aInY.DigestStr(), f.a))
			attestBundle(t, f.a, key, spdx, statement(t, spdx, f.b.DigestStr(), f.a))
			return []attest.Option{attest.WithSourceDigest(f.b.DigestStr())}
		},
		wantCheck: "provenance", wantReason: "not the pinned WithSourceDigest",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key := newKey(t)
			opts := append([]attest.Option{attest.WithAttestation(slsa)}, tt.setup(t, f, key)...)

			res, err := attest.Verify(ctx, f.a, key, opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, 1, res.Verified)
				require.Equal(t, tt.wantBundle, res.Bundle)
				require.Len(t, res.Attestations, 1)
				require.Equal(t, slsa, res.Attestations[0].PredicateType)
				require.Equal(t, f.b.DigestStr(), res.Attestations[0].UpstreamDigest())
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
		})
	}
}

// TestVerifyBundleSignatures pins how Sigstore bundle signatures (OCI
// referrers) count when the .sig tag did not settle it, and which refusal
// is reported next to the .sig tag's.
func TestVerifyBundleSignatures(t *testing.T) {
	tests := []struct {
		name string
		// setup signs f.a and returns the options.
		setup      func(t *testing.T, f *fixture, key, other signature.SignerVerifier) []attest.Option
		mirror     bool   // verify f.aInY instead of f.a
		wantCheck  string // "" means verified from a bundle
		wantReason string
	}{{
		name: "bundle naming this repository, no .sig",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, key, f.x.Name())
			return nil
		},
	}, {
		name: "bundle by another key",
		setup: func(t *testing.T, f *fixture, _, other signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, other, f.x.Name())
			return nil
		},
		wantCheck: "signature", wantReason: "no Sigstore bundle signature (OCI referrer) was made by the given public key",
	}, {
		name: "bundle by another key and a garbage .sig: the .sig's refusal",
		setup: func(t *testing.T, f *fixture, key, other signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, other, f.x.Name())
			p := []byte("this is not json")
			writeRawSignature(t, f.a, p, signMessage(t, key, p))
			return nil
		},
		wantCheck: "payload", wantReason: "not a valid cosign simple-signing document",
	}, {
		name: "unbound bundle, no .sig",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, key, "")
			return nil
		},
		wantCheck: "repository", wantReason: "the Sigstore bundle signature names no repository",
	}, {
		name: "unbound bundle and a garbage .sig: the bundle's refusal",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) []attest.Option {
			signBundle(t, f.a, key, "")
			p := []byte("this is not json")
			writeRawSignature(t, f.a, p, signMessage(t, key, p))
			return nil
		},
		wantCheck: "repository", wantReason: "the Sigstore bundle signature names no repository",
	}, {
		name: "unbound bundle and a .sig for another repository: the bundle's refusal",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) []attest.Option {
			signBundle(t, f.aInY, key, "")
			require.NoError(t, attest.Sign(ctx, f.a, key))
			copySignatures(t, f.a, f.aInY)
			return nil
		},
		mirror:    true,
		wantCheck: "repository", wantReason: "the Sigstore bundle signature names no repository",
	}, {
		name: "unbound bundle by another key and a .sig for another repository: the .sig's refusal",
		setup: func(t *testing.T, f *fixture, key, other signature.SignerVerifier) []attest.Option {
			signBundle(t, f.aInY, other, "")
			require.NoError(t, attest.Sign(ctx, f.a, key))
			copySignatures(t, f.a, f.aInY)
			return nil
		},
		mirror:    true,
		wantCheck: "repository", wantReason: "made for repository",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key, other := newKey(t), newKey(t)
			opts := tt.setup(t, f, key, other)
			d := f.a
			if tt.mirror {
				d = f.aInY
			}

			res, err := attest.Verify(ctx, d, key, opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, 1, res.Verified)
				require.True(t, res.Bundle)
				require.Nil(t, res.Attestations)
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
		})
	}
}
