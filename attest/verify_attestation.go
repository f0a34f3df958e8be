package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

// verifyAttestations returns the statements at d's .att tag that are signed
// by v, name d as their subject and carry o.predicateType (read from the
// signed statement) and, if pinned, o.sourceDigest as upstream. It refuses
// with the reason of the attestation that got furthest when none does.
//
// bundled are statements already verified from Sigstore bundles (new
// bundle format); they count if they pass the same predicate checks.
//
// atts are the attestations read from d's .att tag (fetchAttestations).
func verifyAttestations(ctx context.Context, d name.Digest, h v1.Hash, v signature.Verifier, bundled []Statement, atts []oci.Signature, o *options) ([]Statement, error) {
	var (
		worst *RefusalError
		found []string // predicate types of signed statements, for the message
		good  []Statement
	)
	for i := range bundled {
		st := &bundled[i]
		if st.PredicateType == PredicateCosignSign {
			continue // an image signature, not an attestation
		}
		if !slices.Contains(found, st.PredicateType) {
			found = append(found, st.PredicateType)
		}
		if r := checkPredicate(d.String(), st, o); r != nil {
			worst = further(worst, r)
			continue
		}
		good = append(good, *st)
	}
	if len(atts) == 0 && worst == nil && len(good) == 0 {
		return nil, refuseNoAttestation(d.String(), o.predicateType)
	}
	co := o.checkOpts(v, cosign.IntotoSubjectClaimVerifier) // the statement must name d
	for _, a := range atts {
		att, err := static.Copy(a)
		if err != nil {
			return nil, fmt.Errorf("verifying %s: reading attestation: %w", d, err)
		}
		st, r := checkOneAttestation(ctx, d, h, att, co, o)
		if st != nil && !slices.Contains(found, st.PredicateType) {
			found = append(found, st.PredicateType)
		}
		if r != nil {
			worst = further(worst, r)
			continue
		}
		good = append(good, *st)
	}
	if len(good) > 0 {
		return good, nil
	}
	if worst.Check == checkPredicateType {
		worst = refusePredicateType(d.String(), o.predicateType, found)
	}
	return nil, worst
}

func fetchAttestations(d name.Digest, o *options) ([]oci.Signature, error) {
	return fetchTagged(d, o, ociremote.AttestationTag, "attestations")
}

// checkOneAttestation runs every check on one attestation. It returns the
// statement once its signature verified (even if a later check failed) so
// the caller can say which predicate types were found.
func checkOneAttestation(ctx context.Context, d name.Digest, h v1.Hash, att oci.Signature, co *cosign.CheckOpts, o *options) (*Statement, *RefusalError) {
	image := d.String()
	env, err := att.Payload()
	if err != nil {
		return nil, refuseAttestationPayload(image)
	}
	st, ok := parseStatement(env)
	if !ok {
		return nil, refuseAttestationPayload(image)
	}
	if _, err := cosign.VerifyBlobAttestation(ctx, att, h, co); err != nil {
		if co.SigVerifier == nil { // keyless
			if r := explainCertificate(image, att, co, time.Now()); r != nil {
				r.Check = checkAttestation
				return nil, r
			}
		}
		if co.SigVerifier != nil && dsse.WrapVerifier(co.SigVerifier).VerifySignature(bytes.NewReader(env), nil) != nil {
			return nil, refuseAttestationKey(image)
		}
		if st.names(h) {
			return nil, refuseAttestationRejected(image, err)
		}
		// Signed, but for another subject: refused just below.
	}
	// Checked here, not only by cosign's claim verifier, so that the rule
	// stays true whatever cosign's verifier does.
	if !st.names(h) {
		return st, refuseSubject(image, st.subjectDigests())
	}
	return st, checkPredicate(image, st, o)
}

// checkPredicate applies the predicate type filter and the source pin to a
// statement whose signature and subject were verified.
func checkPredicate(image string, st *Statement, o *options) *RefusalError {
	if st.PredicateType != o.predicateType {
		return refusePredicateType(image, o.predicateType, []string{st.PredicateType})
	}
	if o.sourceDigest != "" {
		if got := st.UpstreamDigest(); got != o.sourceDigest {
			return refuseProvenance(image, o.sourceDigest, got)
		}
	}
	return nil
}

// parseStatement decodes a DSSE envelope holding an in-toto statement.
func parseStatement(env []byte) (*Statement, bool) {
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(env, &e); err != nil || e.PayloadType != types.IntotoPayloadType {
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, false
	}
	var st Statement
	if err := json.Unmarshal(raw, &st); err != nil || st.PredicateType == "" || len(st.Subject) == 0 {
		return nil, false
	}
	return &st, true
}

// names reports whether h is one of the statement's subjects.
func (s *Statement) names(h v1.Hash) bool {
	for _, sub := range s.Subject {
		if sub.Digest[h.Algorithm] == h.Hex {
			return true
		}
	}
	return false
}

func (s *Statement) subjectDigests() []string {
	var out []string
	for _, sub := range s.Subject {
		for algo, hex := range sub.Digest {
			out = append(out, algo+":"+hex)
		}
	}
	return out
}
