package attest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// The identity the keyless tests sign as and require, shaped like a GitHub
// Actions workflow identity.
const (
	ciSubject = "https://github.com/drydock-dev/drydock/.github/workflows/release.yml@refs/heads/main"
	ciIssuer  = "https://token.actions.githubusercontent.com"
)

// Fulcio's OIDC issuer extensions: .1.1 holds the raw issuer (what cosign
// v2.6 matches), .1.8 the DER UTF8String (what sigstore-go reads).
var (
	oidIssuerLegacy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// testCA is a certificate authority made by the test, standing in for a
// private Fulcio: no public Sigstore instance is reachable here.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"drydock test"}},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key}
}

// trustedRoot writes a sigstore trusted_root.json naming ca as its only
// certificate authority (no transparency log, CT log or TSA) and returns
// its path.
func (ca *testCA) trustedRoot(t *testing.T) string {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: ca.cert, ValidityPeriodStart: ca.cert.NotBefore, URI: "https://fulcio.test.invalid"}},
		nil, nil, nil)
	require.NoError(t, err)
	b, err := tr.MarshalJSON()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// leaf is what a CI job holds after the OIDC exchange: an ephemeral key
// and the certificate issued for it, as files.
type leaf struct {
	key               signature.SignerVerifier
	keyPath, certPath string
	cert              *attest.Certificate
}

// issue makes a Fulcio-like code-signing certificate for a fresh ECDSA key,
// for subject (URI SAN) and OIDC issuer, valid from notBefore to notAfter.
func (ca *testCA) issue(t *testing.T, subject, issuer string, notBefore, notAfter time.Time) *leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	u, err := url.Parse(subject)
	require.NoError(t, err)
	v2, err := asn1.MarshalWithParams(issuer, "utf8")
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:         []*url.URL{u},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerLegacy, Value: []byte(issuer)},
			{Id: oidIssuerV2, Value: v2},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	dir := t.TempDir()
	l := &leaf{certPath: filepath.Join(dir, "cert.pem"), keyPath: filepath.Join(dir, "key.pem")}
	require.NoError(t, os.WriteFile(l.certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(l.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600))
	// Load both as drydock sign --certificate --key does.
	l.key, err = attest.LoadPrivateKey(l.keyPath, nil)
	require.NoError(t, err)
	l.cert, err = attest.LoadCertificate(l.certPath, "")
	require.NoError(t, err)
	return l
}

// validNow is a certificate lifetime around now.
func validNow() (time.Time, time.Time) {
	return time.Now().Add(-5 * time.Minute), time.Now().Add(10 * time.Minute)
}

// keylessWorld is a test CA, another CA nobody trusts, the trusted root
// naming the first and the verifier requiring the CI identity.
type keylessWorld struct {
	ca, otherCA *testCA
	rootPath    string
	verifier    *attest.KeylessVerifier
}

func newKeylessWorld(t *testing.T) *keylessWorld {
	t.Helper()
	k := &keylessWorld{ca: newTestCA(t, "drydock test fulcio"), otherCA: newTestCA(t, "someone else's fulcio")}
	k.rootPath = k.ca.trustedRoot(t)
	var err error
	k.verifier, err = attest.LoadKeylessVerifier(k.rootPath, attest.Identity{Subject: ciSubject, Issuer: ciIssuer})
	require.NoError(t, err)
	return k
}

// ciLeaf is a currently valid certificate for the CI identity.
func (k *keylessWorld) ciLeaf(t *testing.T) *leaf {
	t.Helper()
	nb, na := validNow()
	return k.ca.issue(t, ciSubject, ciIssuer, nb, na)
}

func TestKeylessSignVerify(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	l := k.ciLeaf(t)

	require.NoError(t, attest.Sign(ctx, f.a, l.key, attest.WithCertificate(l.cert)))
	require.NoError(t, attest.Sign(ctx, f.a, l.key, attest.WithCertificate(l.cert)))
	require.Equal(t, 1, signatureCount(t, f.a), "signing again with the same key and certificate adds nothing")

	tests := []struct {
		name    string
		id      attest.Identity
		wantErr string
	}{
		{name: "exact identity", id: attest.Identity{Subject: ciSubject, Issuer: ciIssuer}},
		{name: "identity pattern", id: attest.Identity{SubjectRegExp: `^https://github\.com/drydock-dev/drydock/\.github/workflows/[^/]+@refs/heads/main$`, Issuer: ciIssuer}},
		{name: "issuer pattern", id: attest.Identity{Subject: ciSubject, IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`}},
		{name: "other workflow", id: attest.Identity{Subject: ciSubject + "x", Issuer: ciIssuer}, wantErr: "not the required identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := attest.LoadKeylessVerifier(k.rootPath, tt.id)
			require.NoError(t, err)

			res, err := attest.Verify(ctx, f.a, v)

			if tt.wantErr != "" {
				require.ErrorIs(t, err, attest.ErrRefused)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, res.Verified)
		})
	}

	t.Run("attestation carries the certificate too", func(t *testing.T) {
		require.NoError(t, attest.Attest(ctx, f.a, l.key, &attest.Provenance{
			Source: f.b.String(), Strategy: "rebuild", Policy: []byte(`{}`), BuilderID: "test"}, attest.WithCertificate(l.cert)))

		res, err := attest.Verify(ctx, f.a, k.verifier, attest.WithSourceDigest(f.b.DigestStr()))

		require.NoError(t, err)
		require.Len(t, res.Attestations, 1)
	})
	t.Run("the same image does not verify keylessly for a key-only signature", func(t *testing.T) {
		require.NoError(t, attest.Sign(ctx, f.b, newKey(t)))

		_, err := attest.Verify(ctx, f.b, k.verifier)

		require.ErrorIs(t, err, attest.ErrRefused)
		require.ErrorContains(t, err, "no signature carries a certificate")
	})
}

func TestKeylessSignRefusesAnotherKey(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	l := k.ciLeaf(t)

	err := attest.Sign(ctx, f.a, newKey(t), attest.WithCertificate(l.cert))

	require.ErrorContains(t, err, "not the key the certificate was issued for")
	require.Equal(t, 0, signatureCount(t, f.a), "nothing was written")
}

func TestLoadKeylessVerifierErrors(t *testing.T) {
	k := newKeylessWorld(t)
	noCA, err := root.NewTrustedRoot(root.TrustedRootMediaType01, nil, nil, nil, nil)
	require.NoError(t, err)
	b, err := noCA.MarshalJSON()
	require.NoError(t, err)
	id := attest.Identity{Subject: ciSubject, Issuer: ciIssuer}
	tests := []struct {
		name, path string
		ids        []attest.Identity
		wantErr    string
	}{
		{name: "no identity", path: k.rootPath, wantErr: "needs a certificate identity"},
		{name: "no issuer", path: k.rootPath, ids: []attest.Identity{{Subject: ciSubject}}, wantErr: "--certificate-oidc-issuer"},
		{name: "subject and pattern", path: k.rootPath, ids: []attest.Identity{{Subject: ciSubject, SubjectRegExp: ".*", Issuer: ciIssuer}}, wantErr: "exactly one of --certificate-identity"},
		{name: "bad pattern", path: k.rootPath, ids: []attest.Identity{{SubjectRegExp: "(", Issuer: ciIssuer}}, wantErr: "parsing certificate identity pattern"},
		{name: "missing file", path: filepath.Join(t.TempDir(), "nope.json"), ids: []attest.Identity{id}, wantErr: "loading trusted root"},
		{name: "not a trusted root", path: writeFile(t, "x.json", `{"mediaType":"nope"}`), ids: []attest.Identity{id}, wantErr: "loading trusted root"},
		{name: "no CA", path: writeFile(t, "noca.json", string(b)), ids: []attest.Identity{id}, wantErr: "names no certificate authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attest.LoadKeylessVerifier(tt.path, tt.ids...)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadPrivateKeyKeepsKeyOutOfErrors(t *testing.T) {
	const secret = "c2VjcmV0LWtleS1tYXRlcmlhbA"
	p := writeFile(t, "key.pem", "-----BEGIN PRIVATE KEY-----\n"+secret+"\n-----END PRIVATE KEY-----\n")

	_, err := attest.LoadPrivateKey(p, nil)

	require.ErrorContains(t, err, "key.pem")
	require.NotContains(t, err.Error(), secret)
}
