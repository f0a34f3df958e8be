// Package keylesstest gives tests a certificate authority of their own,
// standing in for a private Fulcio (no public Sigstore instance is reachable
// in tests): a root CA, a sigstore trusted_root.json naming it, and
// Fulcio-like code-signing certificates for fresh ECDSA keys, written to
// files as a CI job holds them after the OIDC exchange.
package keylesstest

import (
	"crypto"
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

	"github.com/sigstore/sigstore-go/pkg/root"
)

// The identity tests sign as and require, shaped like a GitHub Actions
// workflow identity.
const (
	Subject = "https://github.com/drydock-dev/drydock/.github/workflows/release.yml@refs/heads/main"
	Issuer  = "https://token.actions.githubusercontent.com"
)

// Fulcio's OIDC issuer extensions: .1.1 holds the raw issuer (what cosign
// v2.6 matches), .1.8 the DER UTF8String (what sigstore-go reads).
var (
	oidIssuerLegacy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// CA is a root certificate authority valid from two days ago to two days
// from now.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a root CA named cn.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"drydock test"}},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(t, err)
	cert, err := x509.ParseCertificate(der)
	check(t, err)
	return &CA{Cert: cert, key: key}
}

// TrustedRoot writes a sigstore trusted_root.json (protobuf JSON) naming ca
// as its only certificate authority, with no transparency log, CT log or
// timestamp authority, and returns its path.
func (ca *CA) TrustedRoot(t testing.TB) string {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: ca.Cert, ValidityPeriodStart: ca.Cert.NotBefore, URI: "https://fulcio.test.invalid"}},
		nil, nil, nil)
	check(t, err)
	b, err := tr.MarshalJSON()
	check(t, err)
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	check(t, os.WriteFile(p, b, 0o644))
	return p
}

// Leaf is an ephemeral key and the certificate issued for it, as files:
// KeyPath an unencrypted PKCS#8 PEM key (mode 0600), CertPath a PEM
// certificate.
type Leaf struct {
	KeyPath, CertPath string
}

// Issue makes a Fulcio-like code-signing certificate for a fresh ECDSA P-256
// key, for subject (a URI SAN) and OIDC issuer, valid from notBefore to
// notAfter.
func (ca *CA) Issue(t testing.TB, subject, issuer string, notBefore, notAfter time.Time) Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(t, err)
	dir := t.TempDir()
	l := Leaf{CertPath: ca.IssueFor(t, &key.PublicKey, subject, issuer, notBefore, notAfter), KeyPath: filepath.Join(dir, "key.pem")}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	check(t, err)
	check(t, os.WriteFile(l.KeyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600))
	return l
}

// IssueFor certifies an existing public key (such as a cosign key pair's,
// for the cosign CLI, which signs only with its own key format) and returns
// the PEM certificate's path.
func (ca *CA) IssueFor(t testing.TB, pub crypto.PublicKey, subject, issuer string, notBefore, notAfter time.Time) string {
	t.Helper()
	u, err := url.Parse(subject)
	check(t, err)
	v2, err := asn1.MarshalWithParams(issuer, "utf8")
	check(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	check(t, err)
	p := filepath.Join(t.TempDir(), "cert.pem")
	check(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return p
}

// IssueNow issues a certificate valid from five minutes ago for ten
// minutes, about a Fulcio certificate's lifetime.
func (ca *CA) IssueNow(t testing.TB, subject, issuer string) Leaf {
	t.Helper()
	return ca.Issue(t, subject, issuer, time.Now().Add(-5*time.Minute), time.Now().Add(10*time.Minute))
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	check(t, err)
	return n
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
