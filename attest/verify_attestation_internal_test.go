package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"github.com/stretchr/testify/require"
)

// TestCheckOneAttestationSubjectWithoutClaimVerifier pins that the subject
// rule is drydock's own: with check options that have no claim verifier
// (cosign would then accept any subject), an attestation of another
// digest is still refused.
func TestCheckOneAttestationSubjectWithoutClaimVerifier(t *testing.T) {
	const (
		this  = "1111111111111111111111111111111111111111111111111111111111111111"
		other = "2222222222222222222222222222222222222222222222222222222222222222"
	)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	key, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	d, err := name.NewDigest("registry.example/mcp/echo@sha256:" + this)
	require.NoError(t, err)
	h, err := v1.NewHash("sha256:" + this)
	require.NoError(t, err)
	tests := []struct {
		name      string
		subject   string
		wantCheck string // "" means accepted
	}{
		{name: "this digest", subject: this},
		{name: "another digest", subject: other, wantCheck: "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := json.Marshal(Statement{
				Type:          "https://in-toto.io/Statement/v1",
				Subject:       []Subject{{Name: "registry.example/mcp/echo", Digest: map[string]string{"sha256": tt.subject}}},
				PredicateType: PredicateSLSAProvenanceV1,
				Predicate:     json.RawMessage(`{}`),
			})
			require.NoError(t, err)
			env, err := dsse.WrapSigner(key, types.IntotoPayloadType).SignMessage(bytes.NewReader(p))
			require.NoError(t, err)
			att, err := static.NewAttestation(env)
			require.NoError(t, err)
			co := &cosign.CheckOpts{SigVerifier: key, IgnoreTlog: true} // no ClaimVerifier

			st, r := checkOneAttestation(t.Context(), d, h, att, co, &options{predicateType: PredicateSLSAProvenanceV1})

			require.NotNil(t, st, "the signature verified, so the statement is returned")
			if tt.wantCheck == "" {
				require.Nil(t, r)
				return
			}
			require.NotNil(t, r)
			require.Equal(t, tt.wantCheck, r.Check)
			require.Contains(t, r.Reason, "the attestation's subject is another image ([sha256:"+other+"])")
		})
	}
}

// flaky is a signature or attestation whose reads fail although they return
// the bytes (a registry that resets the connection at the end of a blob):
// payloadErr fails every Payload, payloadOK (if set) fails every Payload
// after that many (drydock reads it before cosign does), b64Errs fails that
// many first Base64Signature calls (cosign reads it before drydock does).
type flaky struct {
	ociSignature
	payloadErr bool
	payloadOK  *int
	b64Errs    *int
}

// ociSignature is embedded under another name than its method Signature.
type ociSignature = oci.Signature

func (f flaky) Payload() ([]byte, error) {
	p, err := f.ociSignature.Payload()
	if f.payloadOK != nil {
		if *f.payloadOK == 0 {
			return p, errors.New("connection reset by peer")
		}
		*f.payloadOK--
	}
	if f.payloadErr {
		return p, errors.New("connection reset by peer")
	}
	return p, err
}

func (f flaky) Base64Signature() (string, error) {
	b64, err := f.ociSignature.Base64Signature()
	if f.b64Errs != nil && *f.b64Errs > 0 {
		*f.b64Errs--
		return b64, errors.New("connection reset by peer")
	}
	return b64, err
}

// TestCheckOneRefusesFailedReads: a read that failed is refused even when
// it returned the right bytes, and a cosign rejection drydock cannot
// explain is still a refusal.
func TestCheckOneRefusesFailedReads(t *testing.T) {
	const this = "1111111111111111111111111111111111111111111111111111111111111111"
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	key, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	d, err := name.NewDigest("registry.example/mcp/echo@sha256:" + this)
	require.NoError(t, err)
	h, err := v1.NewHash("sha256:" + this)
	require.NoError(t, err)
	p, err := payload.Cosign{Image: d}.MarshalJSON()
	require.NoError(t, err)
	raw, err := key.SignMessage(bytes.NewReader(p))
	require.NoError(t, err)
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(raw))
	require.NoError(t, err)
	co := &cosign.CheckOpts{SigVerifier: key, IgnoreTlog: true, ClaimVerifier: cosign.SimpleClaimVerifier}
	one, two := 1, 2
	tests := []struct {
		name       string
		sig        flaky
		wantCheck  string // "" means accepted
		wantReason string
	}{
		{name: "reads fine", sig: flaky{ociSignature: sig}},
		{name: "payload read failed", sig: flaky{ociSignature: sig, payloadErr: true},
			wantCheck: "payload", wantReason: "the signature payload is not a valid cosign simple-signing document (garbage or truncated)"},
		{name: "signature read failed every time", sig: flaky{ociSignature: sig, b64Errs: &two},
			wantCheck: "signature", wantReason: "no signature was made by the given public key"},
		{name: "signature read failed for cosign only", sig: flaky{ociSignature: sig, b64Errs: &one},
			wantCheck: "signature", wantReason: "the signature was rejected ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkOne(t.Context(), d, h, tt.sig, co, nil)

			if tt.wantCheck == "" {
				require.Nil(t, r)
				return
			}
			require.NotNil(t, r)
			require.Equal(t, tt.wantCheck, r.Check)
			require.Contains(t, r.Reason, tt.wantReason)
		})
	}

	t.Run("attestation payload read failed", func(t *testing.T) {
		st, err := json.Marshal(Statement{
			Type:          "https://in-toto.io/Statement/v1",
			Subject:       []Subject{{Name: "registry.example/mcp/echo", Digest: map[string]string{"sha256": this}}},
			PredicateType: PredicateSLSAProvenanceV1,
			Predicate:     json.RawMessage(`{}`),
		})
		require.NoError(t, err)
		env, err := dsse.WrapSigner(key, types.IntotoPayloadType).SignMessage(bytes.NewReader(st))
		require.NoError(t, err)
		att, err := static.NewAttestation(env)
		require.NoError(t, err)
		co := &cosign.CheckOpts{SigVerifier: key, IgnoreTlog: true, ClaimVerifier: cosign.IntotoSubjectClaimVerifier}
		o := &options{predicateType: PredicateSLSAProvenanceV1}
		got, r := checkOneAttestation(t.Context(), d, h, flaky{ociSignature: att}, co, o)
		require.NotNil(t, got, "control: the attestation verifies when read fine")
		require.Nil(t, r)

		got, r = checkOneAttestation(t.Context(), d, h, flaky{ociSignature: att, payloadErr: true}, co, o)

		require.Nil(t, got)
		require.NotNil(t, r)
		require.Equal(t, "attestation", r.Check)
		require.Equal(t, "the attestation is not a valid DSSE envelope holding an in-toto statement (garbage or truncated)", r.Reason)
	})
	t.Run("attestation payload read failed for cosign only", func(t *testing.T) {
		st, err := json.Marshal(Statement{
			Type:          "https://in-toto.io/Statement/v1",
			Subject:       []Subject{{Name: "registry.example/mcp/echo", Digest: map[string]string{"sha256": this}}},
			PredicateType: PredicateSLSAProvenanceV1,
			Predicate:     json.RawMessage(`{}`),
		})
		require.NoError(t, err)
		env, err := dsse.WrapSigner(key, types.IntotoPayloadType).SignMessage(bytes.NewReader(st))
		require.NoError(t, err)
		att, err := static.NewAttestation(env)
		require.NoError(t, err)
		co := &cosign.CheckOpts{SigVerifier: key, IgnoreTlog: true, ClaimVerifier: cosign.IntotoSubjectClaimVerifier}
		ok := 1

		got, r := checkOneAttestation(t.Context(), d, h, flaky{ociSignature: att, payloadOK: &ok}, co, &options{predicateType: PredicateSLSAProvenanceV1})

		require.Nil(t, got)
		require.NotNil(t, r)
		require.Equal(t, "attestation", r.Check)
		require.Contains(t, r.Reason, "the attestation was rejected (")
	})
}
