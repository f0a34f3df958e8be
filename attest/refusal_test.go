package attest

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefusalsNameFields: every refusal that tells the caller what to pass
// or run names it by this package's field, never by a CLI flag, and a CLI
// renders it with its own words (Render) leaving the rest of the sentence
// as it was.
func TestRefusalsNameFields(t *testing.T) {
	cert := &x509.Certificate{NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	cli := map[string]string{
		FieldVerifier: "--key", FieldPublicKey: "--key cosign.pub", FieldTrustedRoot: "--trusted-root",
		FieldSourceDigest: "--source-digest", FieldUnboundBundles: "--allow-unbound-bundles",
		FieldSign: "SIGN", FieldAttest: "ATTEST", FieldSignCertified: "CERTIFIED", FieldScan: "SCAN",
		fieldSubject: "--certificate-identity", fieldIssuer: "--certificate-oidc-issuer",
	}
	tests := []struct {
		name     string
		err      *RefusalError
		lib, cli string
	}{
		{"unsigned", refuseUnsigned("i"),
			`i: no signature found (check "signature"); sign it with attest.Sign`,
			`i: no signature found (check "signature"); sign it with SIGN`},
		{"other key", refuseOtherKey("i"),
			`i: no signature was made by the given public key (check "signature"); check that verifier is the cosign.pub of the key that signed it, or sign it with attest.Sign`,
			`i: no signature was made by the given public key (check "signature"); check that --key is the cosign.pub of the key that signed it, or sign it with SIGN`},
		{"rejected", refuseRejected("i", errors.New("bad")),
			`i: the signature was rejected (bad) (check "signature"); sign it with attest.Sign`,
			`i: the signature was rejected (bad) (check "signature"); sign it with SIGN`},
		{"payload", refusePayload("i"),
			`i: the signature payload is not a valid cosign simple-signing document (garbage or truncated) (check "payload"); the signature was damaged or forged; sign it with attest.Sign`,
			`i: the signature payload is not a valid cosign simple-signing document (garbage or truncated) (check "payload"); the signature was damaged or forged; sign it with SIGN`},
		{"claim", refuseClaim("i", "d"),
			`i: the signature at this digest's .sig tag was made for another digest, d (check "claim"); someone moved a signature onto this image; sign it with attest.Sign`,
			`i: the signature at this digest's .sig tag was made for another digest, d (check "claim"); someone moved a signature onto this image; sign it with SIGN`},
		{"no attestation", refuseNoAttestation("i", "p"),
			`i: no p attestation found (check "attestation"); attest it with attest.Attest`,
			`i: no p attestation found (check "attestation"); attest it with ATTEST`},
		{"attestation key", refuseAttestationKey("i"),
			`i: no attestation was signed by the given public key (check "attestation"); check that verifier is the cosign.pub of the key that attested it, or attest it with attest.Attest`,
			`i: no attestation was signed by the given public key (check "attestation"); check that --key is the cosign.pub of the key that attested it, or attest it with ATTEST`},
		{"attestation payload", refuseAttestationPayload("i"),
			`i: the attestation is not a valid DSSE envelope holding an in-toto statement (garbage or truncated) (check "attestation"); the attestation was damaged or forged; attest it with attest.Attest`,
			`i: the attestation is not a valid DSSE envelope holding an in-toto statement (garbage or truncated) (check "attestation"); the attestation was damaged or forged; attest it with ATTEST`},
		{"attestation rejected", refuseAttestationRejected("i", errors.New("bad")),
			`i: the attestation was rejected (bad) (check "attestation"); attest it with attest.Attest`,
			`i: the attestation was rejected (bad) (check "attestation"); attest it with ATTEST`},
		{"predicate type", refusePredicateType("i", "w", []string{"f"}),
			`i: no signed attestation has predicate type w (found [f]) (check "predicate-type"); attest it with attest.Attest`,
			`i: no signed attestation has predicate type w (found [f]) (check "predicate-type"); attest it with ATTEST`},
		{"subject", refuseSubject("i", []string{"s"}),
			`i: the attestation's subject is another image ([s]), not this digest (check "subject"); someone moved an attestation onto this image; attest it with attest.Attest`,
			`i: the attestation's subject is another image ([s]), not this digest (check "subject"); someone moved an attestation onto this image; attest it with ATTEST`},
		{"provenance", refuseProvenance("i", "sha256:w", ""),
			`i: the provenance records upstream digest none, not the pinned WithSourceDigest sha256:w (check "provenance"); the image was hardened from another upstream; re-harden it from the pinned source`,
			`i: the provenance records upstream digest none, not the pinned --source-digest sha256:w (check "provenance"); the image was hardened from another upstream; re-harden it from the pinned source`},
		{"no certificate", refuseNoCertificate("i"),
			`i: no signature carries a certificate, so none can verify keylessly (check "certificate"); verify it with publicKey, or sign it in CI with attest.WithCertificate using a certificate for the identity you verify`,
			`i: no signature carries a certificate, so none can verify keylessly (check "certificate"); verify it with --key cosign.pub, or sign it in CI with CERTIFIED using a certificate for the identity you verify`},
		{"certificate CA", refuseCertificateCA("i", errors.New("x")),
			`i: the signing certificate was not issued by a certificate authority of the trusted root (x) (check "certificate"); check that trustedRoot names the CA that issued it, or sign it in CI with attest.WithCertificate using a certificate for the identity you verify`,
			`i: the signing certificate was not issued by a certificate authority of the trusted root (x) (check "certificate"); check that --trusted-root names the CA that issued it, or sign it in CI with CERTIFIED using a certificate for the identity you verify`},
		{"certificate identity", refuseCertificateIdentity("i", cert),
			`i: the signing certificate was issued to [] by OIDC issuer "", which is not the required identity (check "certificate"); check Identity.Subject and Identity.Issuer, or sign it in CI with attest.WithCertificate using a certificate for the identity you verify`,
			`i: the signing certificate was issued to [] by OIDC issuer "", which is not the required identity (check "certificate"); check --certificate-identity and --certificate-oidc-issuer, or sign it in CI with CERTIFIED using a certificate for the identity you verify`},
		{"unbound bundle", refuseUnboundBundle("i", "r"),
			`i: the Sigstore bundle signature names no repository, so it cannot be bound to "r" (a copy of the image and its bundle in any repository would verify alike) (check "repository"); sign it with attest.Sign or cosign sign without --new-bundle-format (both name the repository), or, if this key signs this repository alone, accept it with WithUnboundBundles`,
			`i: the Sigstore bundle signature names no repository, so it cannot be bound to "r" (a copy of the image and its bundle in any repository would verify alike) (check "repository"); sign it with SIGN or cosign sign without --new-bundle-format (both name the repository), or, if this key signs this repository alone, accept it with --allow-unbound-bundles`},
		{"bundle key", refuseBundleKey("i"),
			`i: no Sigstore bundle signature (OCI referrer) was made by the given public key (check "signature"); check that verifier is the cosign.pub of the key that signed it, or sign it with attest.Sign`,
			`i: no Sigstore bundle signature (OCI referrer) was made by the given public key (check "signature"); check that --key is the cosign.pub of the key that signed it, or sign it with SIGN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.lib, tt.err.Error())
			// cosign's own flag may appear; none of a drydock CLI's.
			require.NotContains(t, strings.ReplaceAll(tt.lib, "--new-bundle-format", ""), "--")
			require.Equal(t, tt.cli, tt.err.Render(func(f string) string { return cli[f] }))
			require.ErrorIs(t, tt.err, ErrRefused)
		})
	}
}

// TestRefuseKeepsReason: Reason holds the library's wording, for callers
// that read the field.
func TestRefuseKeepsReason(t *testing.T) {
	e := refuseProvenance("i", "sha256:w", "sha256:g")
	require.Equal(t, "the provenance records upstream digest sha256:g, not the pinned WithSourceDigest sha256:w", e.Reason)
	require.Equal(t, "provenance", e.Check)
}
