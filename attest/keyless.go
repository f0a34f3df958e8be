package attest

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/drydock-dev/drydock/internal/inputerr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Identity is the certificate identity keyless verification requires: the
// subject (a URI or email SAN, as Fulcio issues for an OIDC token) and the
// OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1). Give
// exactly one of Subject and SubjectRegExp, and exactly one of Issuer and
// IssuerRegExp: an identity that accepts any subject or any issuer
// accepts anyone the CA ever certified. A pattern (Go syntax) must match
// the whole subject or issuer: it is anchored at both ends, and one that
// matches an identity no signer has (empty, a bare word, any https host,
// URL or email) is refused.
type Identity struct {
	Subject, SubjectRegExp string
	Issuer, IssuerRegExp   string
}

// KeylessVerifier trusts signatures that carry a certificate issued, for
// one of its identities, by a certificate authority of its trusted root
// (sigstore's trusted_root.json). Pass it to Verify (and to everything that
// takes a signature.Verifier, such as launch.WithVerifier) in place of a
// public key.
//
// Verification is offline, without a transparency log or a timestamp
// authority, so it checks: the certificate chains to a CA of the trusted
// root (at the certificate's own notBefore, within the CA's validity
// period there), it is a code-signing certificate, its SAN and issuer match
// an identity, it is valid NOW (there is no trusted signing time to check
// it against instead), the signature verifies with its key, the payload
// names the digest and its repository is bound. It cannot check that the
// signature was made while the certificate was valid (a leaked key of an
// unexpired certificate can sign anything until it expires), that the
// certificate was logged in Certificate Transparency (SCTs are not
// checked), or that the signature was logged in Rekor. Fulcio's real
// certificates live 10 minutes, so they verify offline only within those
// minutes; a CI's own CA can issue longer-lived ones.
//
// Its signature.Verifier methods refuse: it has no single public key, and
// only Verify knows how to check a certificate.
type KeylessVerifier struct {
	trusted    root.TrustedMaterial
	identities []cosign.Identity
}

// LoadKeylessVerifier reads a trusted root file in sigstore's protobuf-JSON
// TrustedRoot format and returns a verifier for certificates its CAs
// issued to one of ids.
func LoadKeylessVerifier(trustedRootPath string, ids ...Identity) (*KeylessVerifier, error) {
	if len(ids) == 0 {
		return nil, inputerr.New(func(n func(string) string) string {
			return fmt.Sprintf("keyless verification needs a certificate identity: pass %s (or %s) and %s", n(fieldSubject), n(fieldSubjectRE), n(fieldIssuer))
		}, nil, fieldSubject, fieldSubjectRE, fieldIssuer)
	}
	k := &KeylessVerifier{}
	for _, id := range ids {
		if (id.Subject == "") == (id.SubjectRegExp == "") {
			return nil, exactlyOne(fieldSubject, fieldSubjectRE)
		}
		if (id.Issuer == "") == (id.IssuerRegExp == "") {
			return nil, exactlyOne(fieldIssuer, fieldIssuerRE)
		}
		subjectRE, err := anchorPattern(fieldSubjectRE, id.SubjectRegExp)
		if err != nil {
			return nil, err
		}
		issuerRE, err := anchorPattern(fieldIssuerRE, id.IssuerRegExp)
		if err != nil {
			return nil, err
		}
		k.identities = append(k.identities, cosign.Identity{
			Subject: id.Subject, SubjectRegExp: subjectRE,
			Issuer: id.Issuer, IssuerRegExp: issuerRE,
		})
	}
	tr, err := root.NewTrustedRootFromPath(trustedRootPath)
	if err != nil {
		return nil, fmt.Errorf("loading trusted root %s: %w; pass a sigstore trusted_root.json naming your certificate authority", trustedRootPath, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("loading trusted root %s: it names no certificate authority, so no certificate could verify; add yours under certificateAuthorities", trustedRootPath)
	}
	k.trusted = tr
	return k, nil
}

// anyoneProbes are identities no genuine signer has (the empty string, a
// bare word, and a host, a URL and an email on the reserved .invalid
// domain): a pattern that matches one of them accepts any identity or
// issuer of that shape, not one workflow or account.
var anyoneProbes = []string{"", "x", "https://anyone.invalid", "https://anyone.invalid/x", "anyone@anyone.invalid"}

// anchorPattern returns re anchored at both ends (cosign matches patterns
// anywhere in the SAN or issuer, so an unanchored pattern also accepts
// identities that merely contain a match), or "" for "". It refuses a
// pattern that does not compile or that matches one of anyoneProbes. field
// is the Identity field re comes from, for the error.
func anchorPattern(field, re string) (string, error) {
	if re == "" {
		return "", nil
	}
	// Compiled alone first: a pattern that compiles is balanced, so it
	// cannot close the group below and escape the anchors (as "a)|(b" would).
	if _, err := regexp.Compile(re); err != nil {
		return "", patternError(field, re, err)
	}
	anchored := `^(?:` + re + `)$`
	rx, err := regexp.Compile(anchored)
	if err != nil {
		return "", patternError(field, re, err)
	}
	for _, p := range anyoneProbes {
		if rx.MatchString(p) {
			return "", inputerr.New(func(n func(string) string) string {
				return fmt.Sprintf("%s %q accepts any identity (it matches %q); name one workflow or account, e.g. %s", n(field), re, p, patternExample[field])
			}, nil, field)
		}
	}
	return anchored, nil
}

var patternExample = map[string]string{
	fieldSubjectRE: `^https://github\.com/ORG/REPO/\.github/workflows/[^/]+@refs/tags/v.*$`,
	fieldIssuerRE:  `^https://token\.actions\.githubusercontent\.com$`,
}

// The inputs of keyless verification and signing, as InputError names them.
const (
	fieldSubject   = "Identity.Subject"
	fieldSubjectRE = "Identity.SubjectRegExp"
	fieldIssuer    = "Identity.Issuer"
	fieldIssuerRE  = "Identity.IssuerRegExp"
	fieldChain     = "Certificate.ChainPEM"
	fieldSigner    = "signer"
)

func exactlyOne(field, regexpField string) *InputError {
	return inputerr.New(func(n func(string) string) string {
		return fmt.Sprintf("keyless verification needs exactly one of %s and %s", n(field), n(regexpField))
	}, nil, field, regexpField)
}

func patternError(field, re string, err error) *InputError {
	return inputerr.New(func(n func(string) string) string {
		return fmt.Sprintf("parsing %s %q: %v", n(field), re, err)
	}, err, field)
}

// PublicKey refuses: a keyless verifier has no single public key.
func (k *KeylessVerifier) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return nil, errors.New("keyless verification has no single public key; use attest.Verify")
}

// VerifySignature refuses: a keyless signature is only checked with its
// certificate, which attest.Verify reads from the registry.
func (k *KeylessVerifier) VerifySignature(io.Reader, io.Reader, ...signature.VerifyOption) error {
	return errors.New("keyless verification needs the signature's certificate; use attest.Verify")
}

// checkOpts returns cosign's options for verifying with v, a public key or
// a *KeylessVerifier. The claim verifier is always set.
func (o *options) checkOpts(v signature.Verifier, claims func(oci.Signature, v1.Hash, map[string]interface{}) error) *cosign.CheckOpts {
	co := &cosign.CheckOpts{
		IgnoreTlog:         true,
		ClaimVerifier:      claims,
		RegistryClientOpts: o.ociOptions(),
	}
	if k, ok := v.(*KeylessVerifier); ok {
		co.TrustedMaterial = k.trusted
		co.Identities = k.identities
		co.IgnoreSCT = true // see KeylessVerifier: no CT log is reachable or required
		return co
	}
	co.SigVerifier = v
	return co
}

// explainCertificate says why a keyless signature's certificate is not
// trusted, or returns nil when the certificate passes every check (so the
// failure lies elsewhere).
func explainCertificate(image string, sig oci.Signature, co *cosign.CheckOpts, now time.Time) *RefusalError {
	cert, err := sig.Cert()
	if err != nil || cert == nil {
		return refuseNoCertificate(image)
	}
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return refuseCertificateExpired(image, cert)
	}
	if _, err := cosign.ValidateAndUnpackCert(cert, &cosign.CheckOpts{TrustedMaterial: co.TrustedMaterial, IgnoreSCT: true}); err != nil {
		return refuseCertificateCA(image, err)
	}
	if err := cosign.CheckCertificatePolicy(cert, co); err != nil {
		return refuseCertificateIdentity(image, cert)
	}
	return nil
}

// Certificate is a signing certificate (PEM) for a key, with the
// intermediate certificates up to (and possibly including) its root.
type Certificate struct {
	PEM, ChainPEM []byte
	cert          *x509.Certificate
}

// LoadCertificate reads a PEM certificate file (leaf first; any further
// certificates in it are its chain) and an optional chain file.
func LoadCertificate(certPath, chainPath string) (*Certificate, error) {
	b, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("reading certificate file: %w", err)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(b)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("loading certificate file %q: not a PEM certificate; pass the certificate your CA (Fulcio) issued for the signing key", certPath)
	}
	c := &Certificate{cert: certs[0]}
	if c.PEM, err = cryptoutils.MarshalCertificateToPEM(certs[0]); err != nil {
		return nil, fmt.Errorf("loading certificate file %q: %w", certPath, err)
	}
	chain := certs[1:]
	if chainPath != "" {
		cb, err := os.ReadFile(chainPath)
		if err != nil {
			return nil, fmt.Errorf("reading certificate chain file: %w", err)
		}
		more, err := cryptoutils.UnmarshalCertificatesFromPEM(cb)
		if err != nil || len(more) == 0 {
			return nil, fmt.Errorf("loading certificate chain file %q: not PEM certificates", chainPath)
		}
		chain = append(chain, more...)
	}
	if len(chain) > 0 {
		if c.ChainPEM, err = cryptoutils.MarshalCertificatesToPEM(chain); err != nil {
			return nil, fmt.Errorf("loading certificate chain: %w", err)
		}
	}
	return c, nil
}

// WithCertificate makes Sign and Attest attach c to every signature
// (cosign's certificate and chain annotations), for keyless verification.
// Signing refuses a signer whose key is not the certificate's.
//
// Default: no certificate; the signature verifies only with the public key.
func WithCertificate(c *Certificate) Option {
	return func(o *options) error {
		if c == nil || c.cert == nil {
			return errors.New("no certificate given; load it with attest.LoadCertificate")
		}
		o.cert = c
		return nil
	}
}

// checkCertKey refuses to sign with a key the certificate does not name,
// which would only make signatures that never verify.
func (o *options) checkCertKey(signer signature.Signer) error {
	if o.cert == nil {
		return nil
	}
	return o.cert.CheckKey(signer)
}

// Verifier returns a keyless verifier that trusts the root certificate at
// the end of c's chain for c's own identity (its SAN and OIDC issuer): it
// checks that an image was signed keylessly by the same identity under the
// same CA, as a consumer holding that CA's trusted root would, whatever
// key signed it (CI keys are ephemeral). drydock mirror's skip check uses
// it. It fails when c's chain does not end in a self-signed root.
func (c *Certificate) Verifier() (*KeylessVerifier, error) {
	chain, err := cryptoutils.UnmarshalCertificatesFromPEM(c.ChainPEM)
	if err != nil || len(chain) == 0 {
		return nil, inputerr.New(func(n func(string) string) string {
			return "the certificate has no chain: pass the chain up to the root CA with " + n(fieldChain)
		}, nil, fieldChain)
	}
	ca := chain[len(chain)-1]
	if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil {
		return nil, inputerr.New(func(n func(string) string) string {
			return "the certificate chain does not end in a self-signed root CA: add the root to " + n(fieldChain)
		}, nil, fieldChain)
	}
	sum, err := certificate.SummarizeCertificate(c.cert)
	if err != nil || sum.Issuer == "" {
		return nil, errors.New("the certificate names no identity (SAN) or no OIDC issuer, so nothing could verify keylessly against it")
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: ca, Intermediates: chain[:len(chain)-1], ValidityPeriodStart: ca.NotBefore}},
		nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("making a trusted root from the certificate chain: %w", err)
	}
	return &KeylessVerifier{trusted: tr, identities: []cosign.Identity{{Subject: sum.SubjectAlternativeName, Issuer: sum.Issuer}}}, nil
}

// CheckKey refuses a signer whose key is not the one c was issued for.
// Sign and Attest check it too; callers that build before signing (harden,
// mirror) check it first so that a mismatch costs no build.
func (c *Certificate) CheckKey(signer signature.Signer) error {
	pub, err := signer.PublicKey()
	if err != nil {
		return fmt.Errorf("reading the signing key's public key: %w", err)
	}
	if err := cryptoutils.EqualKeys(pub, c.cert.PublicKey); err != nil {
		return inputerr.New(func(n func(string) string) string {
			return "the signing key is not the key the certificate was issued for; pass the key that was certified with " + n(fieldSigner)
		}, nil, fieldSigner)
	}
	return nil
}

// LoadPrivateKey reads a signing key file: an encrypted cosign key (whose
// password pass returns; it is called only for such a key) or, for keyless
// signing in CI, an unencrypted PEM private key (PKCS#8, EC or PKCS#1)
// whose certificate is passed alongside. Errors name the file, never its
// content or the password.
func LoadPrivateKey(keyPath string, pass func() ([]byte, error)) (signature.SignerVerifier, error) {
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	block, _ := pem.Decode(b)
	if block != nil && (block.Type == cosign.SigstorePrivateKeyPemType || block.Type == cosign.CosignPrivateKeyPemType) {
		if pass == nil {
			return nil, fmt.Errorf("loading key file %q: it is encrypted and no password was given", keyPath)
		}
		password, err := pass()
		if err != nil {
			return nil, err
		}
		return LoadSigner(keyPath, password)
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(b, cryptoutils.SkipPassword)
	if err != nil {
		// err is not wrapped: parsing errors may quote key material.
		return nil, fmt.Errorf("loading key file %q: neither an encrypted cosign key nor an unencrypted PEM private key", keyPath)
	}
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading key file %q: unsupported key type", keyPath)
	}
	return sv, nil
}

// staticOptions attaches the certificate, if any, to a signature.
func (o *options) staticOptions() []static.Option {
	if o.cert == nil {
		return nil
	}
	return []static.Option{static.WithCertChain(o.cert.PEM, o.cert.ChainPEM)}
}
