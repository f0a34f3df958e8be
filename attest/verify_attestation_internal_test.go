package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// unreadable is a signature whose payload cannot be read (a layer the
// registry does not serve), which static.Copy would have caught.
type unreadable struct{ ociSignature }

// ociSignature is embedded under another name than its method Signature.
type ociSignature = oci.Signature

func (unreadable) Payload() ([]byte, error) { return nil, errors.New("blob unknown") }

// TestCheckOneRefusesUnreadablePayload: a signature or attestation whose
// payload cannot be read is refused as a payload failure, not verified.
func TestCheckOneRefusesUnreadablePayload(t *testing.T) {
	const this = "1111111111111111111111111111111111111111111111111111111111111111"
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	key, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	d, err := name.NewDigest("registry.example/mcp/echo@sha256:" + this)
	require.NoError(t, err)
	h, err := v1.NewHash("sha256:" + this)
	require.NoError(t, err)
	co := &cosign.CheckOpts{SigVerifier: key, IgnoreTlog: true, ClaimVerifier: cosign.SimpleClaimVerifier}

	r := checkOne(t.Context(), d, h, unreadable{}, co, nil)
	require.NotNil(t, r)
	require.Equal(t, "payload", r.Check)
	require.Equal(t, "the signature payload is not a valid cosign simple-signing document (garbage or truncated)", r.Reason)

	st, r := checkOneAttestation(t.Context(), d, h, unreadable{}, co, &options{predicateType: PredicateSLSAProvenanceV1})
	require.Nil(t, st)
	require.NotNil(t, r)
	require.Equal(t, "attestation", r.Check)
	require.Equal(t, "the attestation is not a valid DSSE envelope holding an in-toto statement (garbage or truncated)", r.Reason)
}
