package attest

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// ErrRefused is wrapped by every verification failure (a *RefusalError).
// Callers map it to exit code 1 with errors.Is. Registry and network errors
// do not wrap it.
var ErrRefused = errors.New("verification refused")

// Values of RefusalError.Check, ordered in refusalRank by how far a signature
// got through verification.
const (
	checkResolve   = "resolve"
	checkSignature = "signature"
	// checkCertificate is a keyless signature whose certificate is not
	// trusted (no certificate, another CA, expired, another identity).
	checkCertificate = "certificate"
	checkPayload     = "payload"
	checkClaim       = "claim"
	checkRepository  = "repository"
	checkManifest    = "manifest"
	checkPlatform    = "platform"

	checkAttestation   = "attestation"
	checkPredicateType = "predicate-type"
	checkSubject       = "subject"
	checkProvenance    = "provenance"
)

// RefusalError says why an image was refused. It wraps ErrRefused.
type RefusalError struct {
	// Image is the refused reference, by digest once resolved.
	Image string
	// Check is the check that failed: "resolve", "manifest", "platform",
	// "signature", "certificate", "payload", "claim", "repository", "attestation",
	// "predicate-type", "subject" or "provenance".
	Check string
	// Reason says what is wrong, in a few words.
	Reason string

	// hint says what to do about it.
	hint string
	// named, when set, writes Reason and hint naming the caller's inputs
	// by name(field): this package's names (Reason holds that wording),
	// or a CLI's flags (Render). Nothing here names a CLI flag itself.
	named func(name func(field string) string) (reason, hint string)
}

// Refuse is a refusal whose reason and hint name inputs of the caller (a
// limit, a verifier, an option) by their field, through name, so that a
// CLI can render it with its own flags (Render). check is as for
// RefusalError.Check.
func Refuse(image, check string, text func(name func(field string) string) (reason, hint string)) *RefusalError {
	e := &RefusalError{Image: image, Check: check, named: text}
	e.Reason, e.hint = text(func(f string) string { return f })
	return e
}

// Error returns one sentence: the image, what is wrong, and what to do.
func (e *RefusalError) Error() string { return e.Render(func(string) string { return "" }) }

// Render is Error with each input the refusal names written as name(field)
// (a CLI passes its flags, e.g. "--key"); where name returns "", this
// package's name stays.
func (e *RefusalError) Render(name func(field string) string) string {
	reason, hint := e.Reason, e.hint
	if e.named != nil {
		reason, hint = e.named(func(f string) string {
			if n := name(f); n != "" {
				return n
			}
			return f
		})
	}
	msg := fmt.Sprintf("%s: %s (check %q)", e.Image, reason, e.Check)
	if hint != "" {
		msg += "; " + hint
	}
	return msg
}

// Unwrap returns ErrRefused.
func (e *RefusalError) Unwrap() error { return ErrRefused }

// refusalRank orders failures so that Verify reports the signature that got
// furthest through the checks, which is the most useful one to read.
var refusalRank = map[string]int{
	checkPayload:     1,
	checkSignature:   2,
	checkCertificate: 2,
	checkClaim:       3,
	checkRepository:  4,

	checkAttestation:   1,
	checkPredicateType: 2,
	checkSubject:       3,
	checkProvenance:    4,
}

// The inputs and ways out refusals name, as Refuse's text names them (a
// CLI maps them to its flags and commands).
const (
	// FieldVerifier is the public key (or keyless verifier) passed to Verify.
	FieldVerifier = "verifier"
	// FieldPublicKey is a public-key verifier, as opposed to a keyless one.
	FieldPublicKey = "publicKey"
	// FieldTrustedRoot is LoadKeylessVerifier's trusted root.
	FieldTrustedRoot = "trustedRoot"
	// FieldSign is signing the image (Sign).
	FieldSign = "attest.Sign"
	// FieldAttest is attesting the image (Attest).
	FieldAttest = "attest.Attest"
	// FieldSignCertified is signing with a certified key (WithCertificate).
	FieldSignCertified = "attest.WithCertificate"
	// FieldSourceDigest is WithSourceDigest.
	FieldSourceDigest = "WithSourceDigest"
	// FieldUnboundBundles is WithUnboundBundles.
	FieldUnboundBundles = "WithUnboundBundles"
	// FieldScan is scanning the image and attesting the result.
	FieldScan = "scan"
)

// hintSign is "sign it with SIGN".
func hintSign(n func(string) string) string { return "sign it with " + n(FieldSign) }

// withHint is a refusal whose reason names no input and whose hint does.
func withHint(image, check, reason string, hint func(n func(string) string) string) *RefusalError {
	return Refuse(image, check, func(n func(string) string) (string, string) { return reason, hint(n) })
}

func refuseUnsigned(image string) *RefusalError {
	return withHint(image, checkSignature, "no signature found", hintSign)
}

func refuseOtherKey(image string) *RefusalError {
	return withHint(image, checkSignature, "no signature was made by the given public key", func(n func(string) string) string {
		return "check that " + n(FieldVerifier) + " is the cosign.pub of the key that signed it, or " + hintSign(n)
	})
}

func refuseRejected(image string, err error) *RefusalError {
	return withHint(image, checkSignature, fmt.Sprintf("the signature was rejected (%v)", err), hintSign)
}

func refusePayload(image string) *RefusalError {
	return withHint(image, checkPayload, "the signature payload is not a valid cosign simple-signing document (garbage or truncated)", func(n func(string) string) string {
		return "the signature was damaged or forged; " + hintSign(n)
	})
}

func refuseClaim(image, claimed string) *RefusalError {
	return withHint(image, checkClaim, fmt.Sprintf("the signature at this digest's .sig tag was made for another digest, %s", claimed), func(n func(string) string) string {
		return "someone moved a signature onto this image; " + hintSign(n)
	})
}

func refuseRepository(image, claimed, want string) *RefusalError {
	return &RefusalError{Image: image, Check: checkRepository,
		Reason: fmt.Sprintf("the signature was made for repository %q, not %q", claimed, want),
		hint:   fmt.Sprintf("sign the image in %s, or, if it is a mirror of %s, allow that repository explicitly", want, claimed)}
}

func refuseTaggedReference(image, claimed string) *RefusalError {
	return &RefusalError{Image: image, Check: checkRepository,
		Reason: fmt.Sprintf("the signature names %q, which names a tag or digest, not a repository; verifying a digest cannot check which tag was meant", claimed),
		hint:   "sign it with drydock sign or cosign sign, which name the repository alone"}
}

func refuseNotFound(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkResolve,
		Reason: "the image was not found in the registry",
		hint:   "check the name and tag, or push the image first"}
}

func refuseManifest(image string, err error) *RefusalError {
	return &RefusalError{Image: image, Check: checkManifest,
		Reason: fmt.Sprintf("the registry served a manifest whose digest is not the one asked for (%v)", err),
		hint:   "the registry or a proxy in front of it is tampering with content; do not use this registry"}
}

func refusePlatform(image, platform string) *RefusalError {
	return &RefusalError{Image: image, Check: checkPlatform,
		Reason: fmt.Sprintf("the image index has no image for platform %s", platform),
		hint:   "build and push the image for this platform, or pass the platform that has one"}
}

// hintAttest is "attest it with ATTEST".
func hintAttest(n func(string) string) string { return "attest it with " + n(FieldAttest) }

func refuseNoAttestation(image, predicateType string) *RefusalError {
	return withHint(image, checkAttestation, fmt.Sprintf("no %s attestation found", predicateType), hintAttest)
}

func refuseAttestationKey(image string) *RefusalError {
	return withHint(image, checkAttestation, "no attestation was signed by the given public key", func(n func(string) string) string {
		return "check that " + n(FieldVerifier) + " is the cosign.pub of the key that attested it, or " + hintAttest(n)
	})
}

func refuseAttestationPayload(image string) *RefusalError {
	return withHint(image, checkAttestation, "the attestation is not a valid DSSE envelope holding an in-toto statement (garbage or truncated)", func(n func(string) string) string {
		return "the attestation was damaged or forged; " + hintAttest(n)
	})
}

func refuseAttestationRejected(image string, err error) *RefusalError {
	return withHint(image, checkAttestation, fmt.Sprintf("the attestation was rejected (%v)", err), hintAttest)
}

func refusePredicateType(image, want string, found []string) *RefusalError {
	return withHint(image, checkPredicateType, fmt.Sprintf("no signed attestation has predicate type %s (found %v)", want, found), hintAttest)
}

func refuseSubject(image string, subjects []string) *RefusalError {
	return withHint(image, checkSubject, fmt.Sprintf("the attestation's subject is another image (%v), not this digest", subjects), func(n func(string) string) string {
		return "someone moved an attestation onto this image; " + hintAttest(n)
	})
}

func refuseProvenance(image, want, got string) *RefusalError {
	if got == "" {
		got = "none"
	}
	return Refuse(image, checkProvenance, func(n func(string) string) (string, string) {
		return fmt.Sprintf("the provenance records upstream digest %s, not the pinned %s %s", got, n(FieldSourceDigest), want),
			"the image was hardened from another upstream; re-harden it from the pinned source"
	})
}

// hintKeyless is "sign it in CI with SIGN-CERTIFIED using a certificate
// for the identity you verify".
func hintKeyless(n func(string) string) string {
	return "sign it in CI with " + n(FieldSignCertified) + " using a certificate for the identity you verify"
}

func refuseNoCertificate(image string) *RefusalError {
	return withHint(image, checkCertificate, "no signature carries a certificate, so none can verify keylessly", func(n func(string) string) string {
		return "verify it with " + n(FieldPublicKey) + ", or " + hintKeyless(n)
	})
}

func refuseCertificateExpired(image string, cert *x509.Certificate) *RefusalError {
	return &RefusalError{Image: image, Check: checkCertificate,
		Reason: fmt.Sprintf("the signing certificate is valid only from %s to %s, not now (offline verification has no trusted signing time to check it against instead)",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)),
		hint: "sign it again with a current certificate"}
}

func refuseCertificateCA(image string, err error) *RefusalError {
	return withHint(image, checkCertificate, fmt.Sprintf("the signing certificate was not issued by a certificate authority of the trusted root (%v)", err), func(n func(string) string) string {
		return "check that " + n(FieldTrustedRoot) + " names the CA that issued it, or " + hintKeyless(n)
	})
}

func refuseCertificateIdentity(image string, cert *x509.Certificate) *RefusalError {
	// cosign v2.6 matches the issuer in the legacy extension
	// (1.3.6.1.4.1.57264.1.1), which Fulcio still writes beside .1.8.
	issuer := (&cosign.CertExtensions{Cert: cert}).GetIssuer()
	reason := fmt.Sprintf("the signing certificate was issued to %v by OIDC issuer %q, which is not the required identity",
		cryptoutils.GetSubjectAlternateNames(cert), issuer)
	return withHint(image, checkCertificate, reason, func(n func(string) string) string {
		return "check " + n(fieldSubject) + " and " + n(fieldIssuer) + ", or " + hintKeyless(n)
	})
}
