// Package reproduce re-hardens an image from the inputs its verified
// provenance records and says whether the published image is what those
// inputs produce. It backs `drydock verify --rebuild`: a mirror's users need
// not trust the mirror, only the upstream, the hardened base, the policy and
// drydock's version.
package reproduce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// ErrMismatch means the rebuild from the recorded inputs gave another
// digest. It comes wrapped together with attest.ErrRefused, so commands
// treat it as a refusal (exit 1).
var ErrMismatch = errors.New("the rebuild from the recorded inputs does not match")

// Inputs are what a drydock provenance statement records about a hardening
// run: with the same drydock version they determine the image digest.
type Inputs struct {
	Source   string         // upstream platform image, repository@sha256:...
	Base     string         // hardened base, repository@sha256:... ("" for inplace)
	OldBase  string         // upstream base, repository@sha256:... ("" when unknown)
	Strategy build.Strategy // rebuild, inplace or rebase
	// Engine is buildkit or registry; older statements lack it and the
	// strategy's own engine is assumed.
	Engine string
	Policy *policies.Policy
	// SourceDate is nil when the statement predates recording it; the
	// rebuild then uses the upstream's creation time, the default.
	SourceDate *time.Time
	// Version is the drydock version that made the image.
	Version string
	// Carry are the executables carried from the upstream.
	Carry []string `json:"carry,omitempty"`
}

// predicate is the part of drydock's SLSA provenance predicate the
// rebuild needs (see attest.Provenance).
type predicate struct {
	BuildDefinition struct {
		BuildType          string `json:"buildType"`
		ExternalParameters struct {
			Source          string          `json:"source"`
			Base            string          `json:"base"`
			OldBase         string          `json:"oldBase"`
			Strategy        string          `json:"strategy"`
			Engine          string          `json:"engine"`
			SourceDateEpoch *int64          `json:"sourceDateEpoch"`
			Policy          json.RawMessage `json:"policy"`
			Carry           []string        `json:"carry"`
		} `json:"externalParameters"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			Version map[string]string `json:"version"`
		} `json:"builder"`
	} `json:"runDetails"`
}

// InputsFrom reads the inputs from a statement attest.Verify returned.
func InputsFrom(st attest.Statement) (*Inputs, error) {
	if st.PredicateType != attest.PredicateSLSAProvenanceV1 {
		return nil, fmt.Errorf("reading provenance: predicate type is %q, want %q", st.PredicateType, attest.PredicateSLSAProvenanceV1)
	}
	var p predicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, fmt.Errorf("reading provenance predicate: %w", err)
	}
	if p.BuildDefinition.BuildType != attest.BuildTypeHarden {
		return nil, fmt.Errorf("reading provenance: build type is %q, want %q (only images made by drydock harden can be rebuilt)", p.BuildDefinition.BuildType, attest.BuildTypeHarden)
	}
	ext := p.BuildDefinition.ExternalParameters
	if ext.Source == "" || ext.Strategy == "" || len(ext.Policy) == 0 {
		return nil, errors.New("reading provenance: it records no source, strategy or policy, so there is nothing to rebuild from (was it written by drydock sign --attest after the fact?)")
	}
	pol, err := policies.Decode(string(ext.Policy))
	if err != nil {
		return nil, fmt.Errorf("reading the policy recorded in the provenance: %w", err)
	}
	in := &Inputs{
		Source: ext.Source, Base: ext.Base, OldBase: ext.OldBase, Strategy: build.Strategy(ext.Strategy), Engine: ext.Engine,
		Policy: pol, Version: p.RunDetails.Builder.Version["drydock"], Carry: ext.Carry,
	}
	if ext.SourceDateEpoch != nil {
		t := time.Unix(*ext.SourceDateEpoch, 0).UTC()
		in.SourceDate = &t
	}
	return in, nil
}

// Report is the outcome of a rebuild.
type Report struct {
	// Image is the published image that was checked.
	Image name.Digest `json:"image"`
	// Rebuilt is the rebuild's digest in the scratch repository.
	Rebuilt name.Digest `json:"rebuilt"`
	Match   bool        `json:"match"`
	// Difference is the first difference, "" on a match.
	Difference string  `json:"difference,omitempty"`
	Inputs     *Inputs `json:"inputs"`
	// VersionNote is set when this drydock is not the one that made the
	// image: a mismatch may then be drydock's change, not the mirror's.
	VersionNote string `json:"versionNote,omitempty"`
	// Engine is what assembled the rebuild.
	Engine string `json:"engine"`
	// Duration is how long the rebuild and comparison took.
	Duration time.Duration `json:"duration"`
}

// Verify reads image's verified SLSA provenance (signed by v), rebuilds
// from it and compares. image must already be a verified digest. A
// mismatch returns the report and an error wrapping ErrMismatch and
// attest.ErrRefused.
func Verify(ctx context.Context, image name.Digest, v signature.Verifier, opts ...Option) (*Report, error) {
	o := makeOptions(opts...)
	ao := append([]attest.Option{attest.WithAttestation(attest.PredicateSLSAProvenanceV1), attest.WithRemoteOptions(o.remoteWith(ctx)...)}, o.attest...)
	res, err := attest.Verify(ctx, image, v, ao...)
	if err != nil {
		return nil, err
	}
	var in *Inputs
	var firstErr error
	for _, st := range res.Attestations {
		if in, err = InputsFrom(st); err == nil {
			break
		}
		firstErr = errors.Join(firstErr, err)
	}
	if in == nil {
		return nil, fmt.Errorf("%w: %s has no drydock harden provenance to rebuild from: %w", attest.ErrRefused, image, firstErr)
	}
	return Check(ctx, image, in, opts...)
}

// Check re-hardens from in into the scratch repository (unsigned, pushed
// by digest, never tagged) and compares the result with image.
func Check(ctx context.Context, image name.Digest, in *Inputs, opts ...Option) (*Report, error) {
	o := makeOptions(opts...)
	start := time.Now()
	scratch := o.scratch
	if scratch == "" {
		scratch = image.Context().Name() + "-drydock-rebuild"
	}
	if scratch == image.Context().Name() {
		return nil, fmt.Errorf("rebuilding %s: the scratch repository must not be the published one", image)
	}
	engine := in.Engine
	if engine == "" {
		// What the strategy is assembled with unless an engine was
		// recorded; BuildKit for one drydock has no engine for.
		if engine = in.Strategy.Engine(); engine == "" {
			engine = build.EngineBuildKit
		}
	}
	bo := []build.Option{
		build.WithStrategy(in.Strategy), build.WithEngine(engine), build.WithPolicy(in.Policy),
		build.WithRemoteOptions(o.remote...), build.WithCarry(in.Carry...),
	}
	if in.Base != "" {
		bo = append(bo, build.WithBase(in.Base))
	}
	if in.OldBase != "" {
		bo = append(bo, build.WithOldBase(in.OldBase))
	}
	if in.SourceDate != nil {
		bo = append(bo, build.WithSourceDateEpoch(*in.SourceDate))
	} else {
		created, err := upstreamCreated(ctx, in.Source, o)
		if err != nil {
			return nil, err
		}
		bo = append(bo, build.WithSourceDateEpoch(created))
	}
	if o.addr != "" {
		bo = append(bo, build.WithBuildKitAddr(o.addr))
	}
	res, err := build.Harden(ctx, in.Source, scratch, bo...)
	if err != nil {
		return nil, fmt.Errorf("rebuilding %s from its provenance into %s: %w", image, scratch, err)
	}
	rebuilt, err := name.NewDigest(res.Ref)
	if err != nil {
		return nil, fmt.Errorf("rebuilding %s: %w", image, err)
	}
	rep := &Report{Image: image, Rebuilt: rebuilt, Inputs: in, Engine: res.Engine, Match: rebuilt.DigestStr() == image.DigestStr()}
	if v := version(); in.Version != "" && v != in.Version {
		rep.VersionNote = fmt.Sprintf("the image was made by drydock %s, the rebuild by %s", in.Version, v)
	}
	if !rep.Match {
		diff, err := Compare(ctx, image, rebuilt, o.remoteWith(ctx)...)
		if err != nil {
			return nil, err
		}
		rep.Difference = diff
	}
	rep.Duration = time.Since(start)
	if !rep.Match {
		return rep, fmt.Errorf("%w: %w: %s is not what its recorded inputs produce (rebuilt %s): %s", attest.ErrRefused, ErrMismatch, image, rebuilt.DigestStr(), rep.Difference)
	}
	return rep, nil
}

// upstreamCreated is Harden's default source date, read here so the
// verifier's own SOURCE_DATE_EPOCH cannot change the rebuild.
func upstreamCreated(ctx context.Context, src string, o *options) (time.Time, error) {
	d, err := name.NewDigest(src)
	if err != nil {
		return time.Time{}, fmt.Errorf("the provenance's source %q is not pinned by digest: %w", src, err)
	}
	img, err := remote.Image(d, o.remoteWith(ctx)...)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading %s: %w", d, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading config of %s: %w", d, err)
	}
	if cf.Created.IsZero() {
		return time.Unix(0, 0).UTC(), nil
	}
	return cf.Created.Time.UTC().Truncate(time.Second), nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Option configures Verify and Check.
type Option func(*options)

type options struct {
	scratch string
	addr    string
	remote  []remote.Option
	attest  []attest.Option
}

func makeOptions(opts ...Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

func (o *options) remoteWith(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithContext(ctx)}, o.remote...)
}

// WithScratch sets the repository the rebuild is pushed to (by digest,
// never tagged). Default: the image's repository with "-drydock-rebuild"
// appended. It must not be the published repository.
func WithScratch(repo string) Option { return func(o *options) { o.scratch = repo } }

// WithBuildKitAddr sets the BuildKit address for buildkit-engine rebuilds.
// Default: as drydock harden (BUILDKIT_HOST, else build.DefaultAddr).
func WithBuildKitAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithRemoteOptions adds go-containerregistry options. Default: the Docker
// config keychain.
func WithRemoteOptions(ro ...remote.Option) Option {
	return func(o *options) { o.remote = append(o.remote, ro...) }
}

// WithAttestOptions adds options for reading the provenance (for example
// attest.WithAllowedRepositories for a mirror's copies).
func WithAttestOptions(ao ...attest.Option) Option {
	return func(o *options) { o.attest = append(o.attest, ao...) }
}
