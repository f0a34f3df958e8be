package attest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// provenance is what harden would record for an image built from f.b.
func provenance(f *fixture) *attest.Provenance {
	return &attest.Provenance{
		Source:    f.b.String(),
		Base:      f.aInY.String(),
		Strategy:  "rebuild",
		Policy:    []byte(`{"apiVersion":"drydock.dev/v1"}`),
		Report:    json.RawMessage(`{"setuidRemoved":2}`),
		Smoke:     json.RawMessage(`{"passed":true}`),
		BuilderID: "https://ci.example/job/1",
		Version:   "v0.0.0-test",
	}
}

func copyAttestations(t *testing.T, src, dst name.Digest) {
	t.Helper()
	st, err := ociremote.AttestationTag(src)
	require.NoError(t, err)
	dt, err := ociremote.AttestationTag(dst)
	require.NoError(t, err)
	img, err := remote.Image(st)
	require.NoError(t, err)
	require.NoError(t, remote.Write(dt, img))
}

func TestVerifyAttestations(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, f *fixture, key, other signature.SignerVerifier) name.Digest
		opts       func(f *fixture) []attest.Option
		wantCheck  string
		wantReason string
	}{{
		name: "signed and attested",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			return f.a
		},
	}, {
		name: "source digest pinned and matching",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			return f.a
		},
		opts: func(f *fixture) []attest.Option {
			return []attest.Option{attest.WithSourceDigest(f.b.DigestStr())}
		},
	}, {
		name: "source digest pinned to another upstream",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			return f.a
		},
		opts: func(f *fixture) []attest.Option {
			return []attest.Option{attest.WithSourceDigest(f.a.DigestStr())}
		},
		wantCheck:  "provenance",
		wantReason: "not the pinned WithSourceDigest",
	}, {
		name: "signed, not attested",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			return f.a
		},
		wantCheck:  "attestation",
		wantReason: "no https://slsa.dev/provenance/v1 attestation found",
	}, {
		name: "attested by another key",
		setup: func(t *testing.T, f *fixture, key, other signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, other, provenance(f)))
			return f.a
		},
		wantCheck:  "attestation",
		wantReason: "no attestation was signed by the given public key",
	}, {
		name: "wrong predicate type",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, "https://spdx.dev/Document", json.RawMessage(`{}`)))
			return f.a
		},
		wantCheck:  "predicate-type",
		wantReason: "found [https://spdx.dev/Document]",
	}, {
		name: "attestation of another digest",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.b, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			copyAttestations(t, f.a, f.b)
			return f.b
		},
		wantCheck:  "subject",
		wantReason: "subject is another image",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key, other := newKey(t), newKey(t)
			d := tt.setup(t, f, key, other)
			opts := []attest.Option{attest.WithAttestation(attest.PredicateSLSAProvenanceV1)}
			if tt.opts != nil {
				opts = append(opts, tt.opts(f)...)
			}

			res, err := attest.Verify(ctx, d, key, opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Len(t, res.Attestations, 1)
				st := res.Attestations[0]
				require.Equal(t, attest.PredicateSLSAProvenanceV1, st.PredicateType)
				require.Equal(t, f.b.DigestStr(), st.UpstreamDigest())
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
		})
	}
}

// TestProvenanceStatement pins the statement drydock writes, field by field.
func TestProvenanceStatement(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, key))
	require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
	res, err := attest.Verify(ctx, f.a, key, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
	require.NoError(t, err)
	st := res.Attestations[0]
	require.Equal(t, "https://in-toto.io/Statement/v1", st.Type)
	require.Equal(t, []attest.Subject{{Name: f.x.Name(), Digest: map[string]string{"sha256": f.a.DigestStr()[7:]}}}, st.Subject)

	var pred map[string]any
	require.NoError(t, json.Unmarshal(st.Predicate, &pred))
	bd := pred["buildDefinition"].(map[string]any)
	require.Equal(t, "https://drydock.dev/harden/v1", bd["buildType"])
	ext := bd["externalParameters"].(map[string]any)
	require.Equal(t, f.b.String(), ext["source"])
	require.Equal(t, "rebuild", ext["strategy"])
	require.Equal(t, map[string]any{"apiVersion": "drydock.dev/v1"}, ext["policy"])
	// sha256 of the canonical policy bytes.
	sum := sha256.Sum256([]byte(`{"apiVersion":"drydock.dev/v1"}`))
	require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), ext["policyDigest"])
	deps := bd["resolvedDependencies"].([]any)
	require.Len(t, deps, 2)
	rd := pred["runDetails"].(map[string]any)
	require.Equal(t, "https://ci.example/job/1", rd["builder"].(map[string]any)["id"])
	require.Equal(t, map[string]any{"drydock": "v0.0.0-test"}, rd["builder"].(map[string]any)["version"])
	require.Len(t, rd["byproducts"], 2)
}
