package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Predicate and statement types drydock writes and reads.
const (
	// PredicateSLSAProvenanceV1 is the SLSA provenance v1 predicate type
	// ("slsaprovenance1" to the cosign CLI).
	PredicateSLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// StatementTypeV1 is the in-toto statement type.
	StatementTypeV1 = "https://in-toto.io/Statement/v1"
	// BuildTypeHarden is the SLSA buildType of a drydock hardening run: its
	// externalParameters and resolvedDependencies are described on
	// Provenance.
	BuildTypeHarden = "https://drydock.dev/harden/v1"
)

// Names of the resolvedDependencies entries in drydock's provenance.
const (
	DependencyUpstream     = "upstream"
	DependencyBase         = "base"
	DependencyUpstreamBase = "upstream-base"
)

// Provenance is what drydock records about how an image was hardened. Every
// reference is repository@sha256:... so the statement pins content, not tags.
type Provenance struct {
	// Source is the upstream image that was hardened.
	Source string
	// Base is the hardened base image the app layers were moved onto.
	Base string
	// OldBase is the upstream's own base image (its layers were dropped).
	OldBase string
	// Strategy is how the image was hardened: rebuild, rebase or inplace.
	Strategy string
	// Engine is what assembled the layers: buildkit or registry ("" when
	// unknown). With the pinned inputs, the policy, the strategy and the
	// source date it determines the image digest.
	Engine string
	// SourceDateEpoch is the source date every timestamp in the image came
	// from (seconds since 1970 UTC); nil when unknown.
	SourceDateEpoch *int64
	// Policy is the runtime policy label value (canonical JSON). Its sha256
	// is recorded next to it.
	Policy []byte
	// Report is the hardening report summary, if any (any JSON value).
	Report json.RawMessage
	// Smoke is the smoke test result, if one ran (any JSON value).
	Smoke json.RawMessage
	// Start is how the hardened image starts (the upstream command and the
	// exec form it became), if recorded (any JSON value).
	Start json.RawMessage
	// Carry are the executables carried from the upstream (build.WithCarry):
	// an input, since they change the image; Carried every path that brought
	// along (any JSON value), a byproduct.
	Carry   []string
	Carried json.RawMessage
	// BuilderID identifies who ran drydock (a CI job URL, or a user@host).
	BuilderID string
	// Version is drydock's version.
	Version string
	// StartedOn and FinishedOn bound the hardening run; zero means unknown.
	StartedOn, FinishedOn time.Time
}

// Statement is an in-toto statement as drydock reads it back from a
// verified attestation.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is one in-toto subject.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// The SLSA v1 provenance predicate, restricted to the fields drydock fills.
type (
	slsaPredicate struct {
		BuildDefinition buildDefinition `json:"buildDefinition"`
		RunDetails      runDetails      `json:"runDetails"`
	}
	buildDefinition struct {
		BuildType            string               `json:"buildType"`
		ExternalParameters   externalParameters   `json:"externalParameters"`
		InternalParameters   map[string]string    `json:"internalParameters,omitempty"`
		ResolvedDependencies []resourceDescriptor `json:"resolvedDependencies"`
	}
	externalParameters struct {
		Source   string `json:"source"`
		Base     string `json:"base,omitempty"`
		OldBase  string `json:"oldBase,omitempty"`
		Strategy string `json:"strategy"`
		Engine   string `json:"engine,omitempty"`
		// SourceDateEpoch is seconds, as SOURCE_DATE_EPOCH is.
		SourceDateEpoch *int64          `json:"sourceDateEpoch,omitempty"`
		Policy          json.RawMessage `json:"policy,omitempty"`
		PolicyDigest    string          `json:"policyDigest,omitempty"`
		Carry           []string        `json:"carry,omitempty"`
	}
	resourceDescriptor struct {
		Name   string            `json:"name,omitempty"`
		URI    string            `json:"uri,omitempty"`
		Digest map[string]string `json:"digest,omitempty"`
	}
	runDetails struct {
		Builder    builder               `json:"builder"`
		Metadata   *buildMetadata        `json:"metadata,omitempty"`
		Byproducts []byproductDescriptor `json:"byproducts,omitempty"`
	}
	builder struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version,omitempty"`
	}
	buildMetadata struct {
		StartedOn  *time.Time `json:"startedOn,omitempty"`
		FinishedOn *time.Time `json:"finishedOn,omitempty"`
	}
	// byproductDescriptor is a SLSA ResourceDescriptor whose annotations
	// carry the report or smoke result as JSON.
	byproductDescriptor struct {
		Name        string                     `json:"name"`
		Annotations map[string]json.RawMessage `json:"annotations"`
	}
)

// statement builds the in-toto statement for p with subject d.
func (p *Provenance) statement(d name.Digest) ([]byte, error) {
	pred, err := p.predicate()
	if err != nil {
		return nil, err
	}
	return newStatement(d, PredicateSLSAProvenanceV1, pred)
}

func (p *Provenance) predicate() ([]byte, error) {
	ext := externalParameters{Source: p.Source, Base: p.Base, OldBase: p.OldBase, Strategy: p.Strategy,
		Engine: p.Engine, SourceDateEpoch: p.SourceDateEpoch, Carry: p.Carry}
	if len(p.Policy) > 0 {
		if !json.Valid(p.Policy) {
			return nil, fmt.Errorf("building provenance: the policy is not JSON")
		}
		sum := sha256.Sum256(p.Policy)
		ext.Policy = p.Policy
		ext.PolicyDigest = "sha256:" + hex.EncodeToString(sum[:])
	}
	var deps []resourceDescriptor
	for _, dep := range []struct{ name, ref string }{
		{DependencyUpstream, p.Source}, {DependencyBase, p.Base}, {DependencyUpstreamBase, p.OldBase},
	} {
		if dep.ref == "" {
			continue
		}
		rd, err := descriptorFor(dep.name, dep.ref)
		if err != nil {
			return nil, err
		}
		deps = append(deps, rd)
	}
	rd := runDetails{Builder: builder{ID: p.BuilderID}}
	if rd.Builder.ID == "" {
		rd.Builder.ID = "https://drydock.dev/builder/unknown"
	}
	if p.Version != "" {
		rd.Builder.Version = map[string]string{"drydock": p.Version}
	}
	if !p.StartedOn.IsZero() || !p.FinishedOn.IsZero() {
		rd.Metadata = &buildMetadata{StartedOn: timePtr(p.StartedOn), FinishedOn: timePtr(p.FinishedOn)}
	}
	for _, bp := range []struct {
		name string
		v    json.RawMessage
	}{{"hardening-report", p.Report}, {"smoke", p.Smoke}, {"start-command", p.Start}, {"carried", p.Carried}} {
		if len(bp.v) == 0 {
			continue
		}
		if !json.Valid(bp.v) {
			return nil, fmt.Errorf("building provenance: the %s is not JSON", bp.name)
		}
		rd.Byproducts = append(rd.Byproducts, byproductDescriptor{
			Name: bp.name, Annotations: map[string]json.RawMessage{"summary": bp.v}})
	}
	return json.Marshal(slsaPredicate{
		BuildDefinition: buildDefinition{
			BuildType:            BuildTypeHarden,
			ExternalParameters:   ext,
			ResolvedDependencies: deps,
		},
		RunDetails: rd,
	})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// descriptorFor turns repo@sha256:... into a SLSA resource descriptor.
func descriptorFor(role, ref string) (resourceDescriptor, error) {
	d, err := name.NewDigest(ref)
	if err != nil {
		return resourceDescriptor{}, fmt.Errorf("building provenance: the %s %q is not pinned by digest (repository@sha256:...): %w", role, ref, err)
	}
	algo, hexDigest, _ := strings.Cut(d.DigestStr(), ":")
	return resourceDescriptor{
		Name:   role,
		URI:    "oci://" + d.Context().Name(),
		Digest: map[string]string{algo: hexDigest},
	}, nil
}

// newStatement builds an in-toto statement whose only subject is d.
func newStatement(d name.Digest, predicateType string, predicate json.RawMessage) ([]byte, error) {
	algo, hexDigest, _ := strings.Cut(d.DigestStr(), ":")
	return json.Marshal(Statement{
		Type:          StatementTypeV1,
		Subject:       []Subject{{Name: d.Context().Name(), Digest: map[string]string{algo: hexDigest}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	})
}

// UpstreamDigest returns the digest of the upstream dependency recorded in
// a drydock SLSA provenance predicate ("" if none).
func (s *Statement) UpstreamDigest() string {
	var pred slsaPredicate
	if err := json.Unmarshal(s.Predicate, &pred); err != nil {
		return ""
	}
	for _, dep := range pred.BuildDefinition.ResolvedDependencies {
		if dep.Name != DependencyUpstream {
			continue
		}
		if h, ok := dep.Digest["sha256"]; ok {
			return "sha256:" + h
		}
	}
	return ""
}
