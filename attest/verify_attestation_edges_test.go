package attest_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/stretchr/testify/require"
)

// statement returns an in-toto statement naming the digests subjects with
// the predicate type pt and an SLSA-like predicate recording upstream.
func statement(t *testing.T, pt, upstream string, subjects ...name.Digest) []byte {
	t.Helper()
	subs := []any{}
	for _, d := range subjects {
		subs = append(subs, map[string]any{"name": d.Context().Name(),
			"digest": map[string]string{"sha256": strings.TrimPrefix(d.DigestStr(), "sha256:")}})
	}
	p, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       subs,
		"predicateType": pt,
		"predicate": map[string]any{"buildDefinition": map[string]any{
			"resolvedDependencies": []any{map[string]any{"name": attest.DependencyUpstream,
				"digest": map[string]string{"sha256": strings.TrimPrefix(upstream, "sha256:")}}}}},
	})
	require.NoError(t, err)
	return p
}

// dsseEnvelope signs p as a DSSE envelope of payload type pt with key.
func dsseEnvelope(t *testing.T, key signature.SignerVerifier, pt string, p []byte) []byte {
	t.Helper()
	env, err := dsse.WrapSigner(key, pt).SignMessage(bytes.NewReader(p))
	require.NoError(t, err)
	return env
}

// TestVerifyAttestationEdges pins the refusals of hand-made attestations
// (an attacker with push access writes the .att tag): envelopes that are
// not in-toto statements, statements without a subject or predicate type,
// and which refusal is reported when several attestations fail.
func TestVerifyAttestationEdges(t *testing.T) {
	const (
		slsa  = "https://slsa.dev/provenance/v1"
		spdx  = "https://spdx.dev/Document"
		cdx   = "https://cyclonedx.org/bom"
		badPT = "attestation"
		bad   = "the attestation is not a valid DSSE envelope holding an in-toto statement"
	)
	tests := []struct {
		name string
		// setup writes attestations for f.a and returns the options.
		setup      func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option
		wantCheck  string // "" means verified
		wantReason string
	}{{
		name: "hand-made statement signed with the key",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.b.DigestStr(), f.a)))
			return nil
		},
	}, {
		name: "envelope is not JSON",
		setup: func(t *testing.T, f *fixture, _ signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, []byte("not json"))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "envelope of another payload type signed with the key",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, "application/json", statement(t, slsa, f.b.DigestStr(), f.a)))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "statement followed by non-base64 bytes",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			env := dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.b.DigestStr(), f.a))
			var e map[string]any
			require.NoError(t, json.Unmarshal(env, &e))
			e["payload"] = e["payload"].(string) + "!!!!"
			b, err := json.Marshal(e)
			require.NoError(t, err)
			writeRawAttestation(t, f.a, b)
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "payload that is not a statement, signed with the key",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, []byte(`["not a statement"]`)))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "statement without a predicate type, signed with the key",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, "", f.b.DigestStr(), f.a)))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "statement without a subject, signed with the key",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.b.DigestStr())))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "statement whose _type is not a string, signed with the key",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			p := statement(t, slsa, f.b.DigestStr(), f.a)
			p = append([]byte(`{"_type":5,`), p[1:]...)
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, p))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "statement naming this digest among others",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.b.DigestStr(), f.b, f.a)))
			return nil
		},
	}, {
		name: "two other predicate types: both are named",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, spdx, json.RawMessage(`{}`)))
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, cdx, json.RawMessage(`{"x":1}`)))
			return nil
		},
		wantCheck: "predicate-type", wantReason: "(found [" + spdx + " " + cdx + "])",
	}, {
		name: "the same other predicate type twice is named once",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, spdx, json.RawMessage(`{}`)))
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, spdx, json.RawMessage(`{"x":1}`)))
			return nil
		},
		wantCheck: "predicate-type", wantReason: "(found [" + spdx + "])",
	}, {
		name: "garbage, then another predicate type: the furthest refusal wins",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, []byte("not json"))
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, spdx, json.RawMessage(`{}`)))
			return nil
		},
		wantCheck: "predicate-type", wantReason: "(found [" + spdx + "])",
	}, {
		name: "another upstream, then garbage: the furthest refusal wins",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.aInY.DigestStr(), f.a)))
			writeRawAttestation(t, f.a, []byte("not json"))
			return []attest.Option{attest.WithSourceDigest(f.b.DigestStr())}
		},
		wantCheck: "provenance", wantReason: "not the pinned WithSourceDigest",
	}, {
		name: "garbage, then signed by another key: the first of equally far refusals",
		setup: func(t *testing.T, f *fixture, _ signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, []byte("not json"))
			require.NoError(t, attest.Attest(ctx, f.a, newKey(t), provenance(f)))
			return nil
		},
		wantCheck: badPT, wantReason: bad,
	}, {
		name: "a good attestation among refused ones",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) []attest.Option {
			writeRawAttestation(t, f.a, []byte("not json"))
			writeRawAttestation(t, f.a, dsseEnvelope(t, key, types.IntotoPayloadType, statement(t, slsa, f.b.DigestStr(), f.a)))
			require.NoError(t, attest.AttestPredicate(ctx, f.a, key, spdx, json.RawMessage(`{}`)))
			return nil
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key := newKey(t)
			require.NoError(t, attest.Sign(ctx, f.a, key))
			opts := append([]attest.Option{attest.WithAttestation(slsa)}, tt.setup(t, f, key)...)

			res, err := attest.Verify(ctx, f.a, key, opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
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
