package build

import (
	"context"
	"fmt"

	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/rebase"
	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Result describes a hardened image.
type Result struct {
	Ref      string   `json:"ref"`               // DST@sha256:...
	Digest   string   `json:"digest"`            // sha256:...
	Source   string   `json:"source"`            // upstream repo@sha256:...
	Base     string   `json:"base,omitempty"`    // hardened base repo@sha256:... (not for inplace)
	OldBase  string   `json:"oldBase,omitempty"` // upstream base repo@sha256:... when known
	Strategy Strategy `json:"strategy"`          // rebuild, inplace or rebase
	// Engine is what assembled the layers: buildkit or registry.
	Engine string `json:"engine"`
	// StrategyReason says why the strategy ran (and, for auto, why it was picked).
	StrategyReason string `json:"strategyReason"`
	// Runtime is the runtime detected from the bases file, when it picked the base.
	Runtime string `json:"runtime,omitempty"`
	// Start is how the result starts: the upstream command and the
	// exec-form entrypoint it became.
	Start *Start `json:"start,omitempty"`
	// SourceDateEpoch is the source date every timestamp written came from
	// (seconds since 1970 UTC); with the pinned inputs, the policy, the
	// strategy and the engine it determines the digest.
	SourceDateEpoch int64 `json:"sourceDateEpoch"`
	// Carry are the executables asked to be carried (WithCarry), and
	// Carried every path they needed, links included, that was copied from
	// the upstream onto the hardened base (rebuild, rebase) or kept in
	// place (inplace).
	Carry   []string `json:"carry,omitempty"`
	Carried []string `json:"carried,omitempty"`
	// Hardening is what the hardening layer changed.
	Hardening *hardening.Report `json:"hardening"`
	// Smoke is the MCP equivalence check, when one ran.
	Smoke *SmokeReport `json:"smoke,omitempty"`
	// SmokeSkipped says why no start check ran ("" when one did): the image
	// was signed without being started.
	SmokeSkipped string `json:"smokeSkipped,omitempty"`
	// SBOM is the hardened image's SBOM (WithSBOM), for the SignFunc to
	// attest; SBOMPackages is how many packages it lists.
	SBOM         *sbom.SBOM `json:"-"`
	SBOMPackages *int       `json:"sbomPackages,omitempty"`
	Signed       bool       `json:"signed"`
	Tag          string     `json:"tag,omitempty"` // set when the tag was moved
}

// Harden hardens src with the chosen strategy, labels it with the policy,
// pushes it to dst's repository by digest, smoke-tests it (when asked),
// signs it (when a signer is set) and only then points dst at it.
func Harden(ctx context.Context, src, dst string, opts ...Option) (*Result, error) {
	dstRef, err := name.ParseReference(dst)
	if err != nil {
		return nil, fmt.Errorf("parsing destination %q: %w", dst, err)
	}
	o, up, p, err := start(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	platform := hostPlatform()
	if err := p.forceEngine(o.engine); err != nil {
		return nil, err
	}
	if o.spool == nil {
		// Without one, each layer is inflated by every reader.
		if o.spool, err = rebase.NewSpool(spoolBytes); err == nil {
			defer o.spool.Close()
		}
	}
	b, err := newBuilder(o, p, up, dstRef.Context(), platform)
	if err != nil {
		return nil, err
	}
	out, err := b.buildChecked(ctx)
	if err != nil && o.strategy.fallsBackToRegistry(o.engine, p.engine) {
		// The stack is known exactly, so the registry can assemble the same
		// filesystem; auto may take that path, an explicit strategy may not.
		p.reason += fmt.Sprintf("; BuildKit failed (%v), so the same layers were assembled at the registry level", err)
		p.engine = EngineRegistry
		out, err = b.buildChecked(ctx)
	}
	if err != nil {
		return nil, err
	}
	digest := out.DigestStr()
	res := &Result{
		Ref: out.String(), Digest: digest, Source: up.digest.String(),
		Strategy: p.strategy, Engine: p.engine, StrategyReason: p.reason, Runtime: p.runtime, Hardening: b.hardening.Report, Start: b.start,
		SourceDateEpoch: b.sourceDate.Unix(), Carry: o.carry, Carried: b.carried,
	}
	if p.base != nil && !p.base.generated {
		res.Base = p.base.digest.String()
	}
	if p.oldBase != nil && !p.oldBase.fromHistory {
		res.OldBase = p.oldBase.digest.String()
	}
	if o.smoke != nil {
		sr, err := o.smoke(ctx, SmokeRequest{Upstream: up.digest, Hardened: out, Policy: o.policy, Calls: o.smokeCalls})
		res.Smoke = sr
		if err != nil {
			return res, fmt.Errorf("not signing or tagging %s: %w", out, err)
		}
	} else {
		res.SmokeSkipped = o.noSmoke
		if res.SmokeSkipped == "" {
			res.SmokeSkipped = "no start check was asked for"
		}
	}
	if err := o.sbomStep(ctx, out, res); err != nil {
		return res, fmt.Errorf("not signing or tagging %s: %w", out, err)
	}
	if o.sign == nil {
		return res, nil
	}
	if err := o.sign(ctx, out, res); err != nil {
		return res, fmt.Errorf("signing %s: %w", out, err)
	}
	res.Signed = true
	if tag, ok := dstRef.(name.Tag); ok {
		if err := moveTag(tag, out, o.remote); err != nil {
			return res, err
		}
		res.Tag = tag.String()
	}
	return res, nil
}

// image is one resolved platform image.
type image struct {
	digest name.Digest
	img    v1.Image
	config *v1.ConfigFile
	desc   *remote.Descriptor
	// fromHistory marks an upstream base read from the image history: an
	// image of the upstream's first layers, in no registry.
	fromHistory bool
	// generated marks drydock's own minimal base (generatedBase), in no
	// registry until BuildKit needs it there.
	generated bool
}

// resolve pins ref to the digest of the platform image that will be used.
func resolve(ref string, platform v1.Platform, ro []remote.Option) (*image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", ref, err)
	}
	img, err := remote.Image(r.Context().Digest(desc.Digest.String()), append(ro, remote.WithPlatform(platform))...)
	if err != nil {
		return nil, fmt.Errorf("reading %s for %s: %w", ref, platform, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", ref, err)
	}
	return &image{digest: r.Context().Digest(d.String()), img: img, config: cfg, desc: desc}, nil
}

// moveTag points tag at the signed digest.
func moveTag(tag name.Tag, d name.Digest, ro []remote.Option) error {
	desc, err := remote.Get(d, ro...)
	if err != nil {
		return fmt.Errorf("reading %s before tagging: %w", d, err)
	}
	if err := remote.Tag(tag, desc, ro...); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", d, tag, err)
	}
	return nil
}

func diffIDs(img v1.Image) ([]v1.Hash, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return cfg.RootFS.DiffIDs, nil
}

// reuseTransports shares one puller and one pusher across every registry
// call of a harden: each registry is pinged and authenticated once per
// scope instead of once per call (a rebase made ten pings before). Under
// them a read cache answers the second and third reads of a layer or
// manifest (rebase.NewReadCache); a transport the caller gave replaces it.
func reuseTransports(ro []remote.Option) []remote.Option {
	ro = append([]remote.Option{remote.WithTransport(rebase.NewReadCache(remote.DefaultTransport))}, ro...)
	if p, err := remote.NewPuller(ro...); err == nil {
		ro = append(ro, remote.Reuse(p))
	}
	if p, err := remote.NewPusher(ro...); err == nil {
		ro = append(ro, remote.Reuse(p))
	}
	return ro
}
