package attest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// fixture is an in-memory registry holding two random images, a and b, in
// repository x, and a copy of a in repository y.
type fixture struct {
	srv  *httptest.Server
	x, y name.Repository
	a, b name.Digest // in x
	aInY name.Digest
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	x, err := name.NewRepository(host + "/mcp/echo")
	require.NoError(t, err)
	y, err := name.NewRepository(host + "/mirror/echo")
	require.NoError(t, err)
	imgA, err := random.Image(256, 1)
	require.NoError(t, err)
	imgB, err := random.Image(256, 1)
	require.NoError(t, err)
	return &fixture{
		srv:  srv,
		x:    x,
		y:    y,
		a:    push(t, x.Tag("a"), imgA),
		b:    push(t, x.Tag("b"), imgB),
		aInY: push(t, y.Tag("a"), imgA),
	}
}

func push(t *testing.T, tag name.Tag, img v1.Image) name.Digest {
	t.Helper()
	require.NoError(t, remote.Write(tag, img))
	h, err := img.Digest()
	require.NoError(t, err)
	return tag.Context().Digest(h.String())
}

// newKey returns an in-memory ECDSA P-256 key, as cosign generates.
func newKey(t *testing.T) signature.SignerVerifier {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	return sv
}

func sigTag(t *testing.T, d name.Digest) name.Tag {
	t.Helper()
	tag, err := ociremote.SignatureTag(d)
	require.NoError(t, err)
	return tag
}

// copySignatures copies the .sig image of src to the .sig tag of dst, as an
// attacker (or a mirror) would.
func copySignatures(t *testing.T, src, dst name.Digest) {
	t.Helper()
	img, err := remote.Image(sigTag(t, src))
	require.NoError(t, err)
	require.NoError(t, remote.Write(sigTag(t, dst), img))
}

// writeRawSignature replaces d's .sig tag with one signature of payload.
func writeRawSignature(t *testing.T, d name.Digest, payload, rawSig []byte) {
	t.Helper()
	sig, err := static.NewSignature(payload, base64.StdEncoding.EncodeToString(rawSig))
	require.NoError(t, err)
	se, err := mutate.AttachSignatureToEntity(ociremote.SignedUnknown(d), sig)
	require.NoError(t, err)
	require.NoError(t, ociremote.WriteSignatures(d.Repository, se))
}

// writeRawAttestation replaces d's .att tag with one attestation whose
// envelope is env, as an attacker with push access could.
func writeRawAttestation(t *testing.T, d name.Digest, env []byte) {
	t.Helper()
	att, err := static.NewAttestation(env)
	require.NoError(t, err)
	se, err := mutate.AttachAttestationToEntity(ociremote.SignedUnknown(d), att)
	require.NoError(t, err)
	require.NoError(t, ociremote.WriteAttestations(d.Repository, se))
}

func signatureCount(t *testing.T, d name.Digest) int {
	t.Helper()
	sigs, err := ociremote.Signatures(sigTag(t, d))
	require.NoError(t, err)
	list, err := sigs.Get()
	require.NoError(t, err)
	return len(list)
}

func signMessage(t *testing.T, s signature.Signer, p []byte) []byte {
	t.Helper()
	raw, err := s.SignMessage(strings.NewReader(string(p)))
	require.NoError(t, err)
	return raw
}

var ctx = context.Background()
