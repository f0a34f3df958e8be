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
}

// Error returns one sentence: the image, what is wrong, and what to do.
func (e *RefusalError) Error() string {
	msg := fmt.Sprintf("%s: %s (check %q)", e.Image, e.Reason, e.Check)
	if e.hint != "" {
		msg += "; " + e.hint
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

const hintSign = `sign it with "drydock sign IMAGE --key cosign.key"`

func refuseUnsigned(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkSignature,
		Reason: "no signature found",
		hint:   hintSign}
}

func refuseOtherKey(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkSignature,
		Reason: "no signature was made by the given public key",
		hint:   "check that --key is the cosign.pub of the key that signed it, or " + hintSign}
}

func refuseRejected(image string, err error) *RefusalError {
	return &RefusalError{Image: image, Check: checkSignature,
		Reason: fmt.Sprintf("the signature was rejected (%v)", err),
		hint:   hintSign}
}

func refusePayload(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkPayload,
		Reason: "the signature payload is not a valid cosign simple-signing document (garbage or truncated)",
		hint:   "the signature was damaged or forged; " + hintSign}
}

func refuseClaim(image, claimed string) *RefusalError {
	return &RefusalError{Image: image, Check: checkClaim,
		Reason: fmt.Sprintf("the signature at this digest's .sig tag was made for another digest, %s", claimed),
		hint:   "someone moved a signature onto this image; " + hintSign}
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

const hintAttest = `attest it with "drydock sign IMAGE --key cosign.key --attest" (drydock harden attests what it builds)`

func refuseNoAttestation(image, predicateType string) *RefusalError {
	return &RefusalError{Image: image, Check: checkAttestation,
		Reason: fmt.Sprintf("no %s attestation found", predicateType),
		hint:   hintAttest}
}

func refuseAttestationKey(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkAttestation,
		Reason: "no attestation was signed by the given public key",
		hint:   "check that --key is the cosign.pub of the key that attested it, or " + hintAttest}
}

func refuseAttestationPayload(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkAttestation,
		Reason: "the attestation is not a valid DSSE envelope holding an in-toto statement (garbage or truncated)",
		hint:   "the attestation was damaged or forged; " + hintAttest}
}

func refuseAttestationRejected(image string, err error) *RefusalError {
	return &RefusalError{Image: image, Check: checkAttestation,
		Reason: fmt.Sprintf("the attestation was rejected (%v)", err),
		hint:   hintAttest}
}

func refusePredicateType(image, want string, found []string) *RefusalError {
	return &RefusalError{Image: image, Check: checkPredicateType,
		Reason: fmt.Sprintf("no signed attestation has predicate type %s (found %v)", want, found),
		hint:   hintAttest}
}

func refuseSubject(image string, subjects []string) *RefusalError {
	return &RefusalError{Image: image, Check: checkSubject,
		Reason: fmt.Sprintf("the attestation's subject is another image (%v), not this digest", subjects),
		hint:   "someone moved an attestation onto this image; " + hintAttest}
}

func refuseProvenance(image, want, got string) *RefusalError {
	if got == "" {
		got = "none"
	}
	return &RefusalError{Image: image, Check: checkProvenance,
		Reason: fmt.Sprintf("the provenance records upstream digest %s, not the pinned --source-digest %s", got, want),
		hint:   "the image was hardened from another upstream; re-harden it from the pinned source"}
}

const hintKeyless = `sign it in CI with "drydock sign IMAGE --certificate cert.pem --key key.pem" using a certificate for the identity you verify`

func refuseNoCertificate(image string) *RefusalError {
	return &RefusalError{Image: image, Check: checkCertificate,
		Reason: "no signature carries a certificate, so none can verify keylessly",
		hint:   "verify it with --key cosign.pub, or " + hintKeyless}
}

func refuseCertificateExpired(image string, cert *x509.Certificate) *RefusalError {
	return &RefusalError{Image: image, Check: checkCertificate,
		Reason: fmt.Sprintf("the signing certificate is valid only from %s to %s, not now (offline verification has no trusted signing time to check it against instead)",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)),
		hint: "sign it again with a current certificate"}
}

func refuseCertificateCA(image string, err error) *RefusalError {
	return &RefusalError{Image: image, Check: checkCertificate,
		Reason: fmt.Sprintf("the signing certificate was not issued by a certificate authority of the trusted root (%v)", err),
		hint:   "check that --trusted-root names the CA that issued it, or " + hintKeyless}
}

func refuseCertificateIdentity(image string, cert *x509.Certificate) *RefusalError {
	// cosign v2.6 matches the issuer in the legacy extension
	// (1.3.6.1.4.1.57264.1.1), which Fulcio still writes beside .1.8.
	issuer := (&cosign.CertExtensions{Cert: cert}).GetIssuer()
	return &RefusalError{Image: image, Check: checkCertificate,
		Reason: fmt.Sprintf("the signing certificate was issued to %v by OIDC issuer %q, which is not the required identity",
			cryptoutils.GetSubjectAlternateNames(cert), issuer),
		hint: "check --certificate-identity and --certificate-oidc-issuer, or " + hintKeyless}
}
