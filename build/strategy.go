package build

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/rebase"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Strategies, spelt as the CLI, catalogs and provenance spell them.
const (
	StrategyAuto    Strategy = "auto"
	StrategyRebuild Strategy = "rebuild" // BuildKit: Merge(base, Diff(upstream base, upstream), hardening)
	StrategyInplace Strategy = "inplace" // BuildKit: Merge(upstream, hardening)
	StrategyRebase  Strategy = "rebase"  // go-containerregistry, no daemon
)

// Engines: what assembles the layers.
const (
	EngineBuildKit = "buildkit"
	EngineRegistry = "registry" // go-containerregistry, no daemon
)

// Strategies lists the values WithStrategy accepts.
var Strategies = []Strategy{StrategyAuto, StrategyRebuild, StrategyInplace, StrategyRebase}

// Known says whether s is one of Strategies.
func (s Strategy) Known() bool { return slices.Contains(Strategies, s) }

// StrategyNames is Strategies as a list for messages: "auto, rebuild, …".
func StrategyNames() string {
	names := make([]string, len(Strategies))
	for i, s := range Strategies {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Strategy is how Harden rebuilds an image (one of the Strategy*
// constants). Its methods are what each one implies, so the pipeline asks
// them instead of comparing names.
type Strategy string

// DecidesPerImage says whether the strategy is picked per image when the
// plan is made (auto), rather than asked for.
func (s Strategy) DecidesPerImage() bool { return s == StrategyAuto }

// Pin is the strategy to ask for when building exactly what a plan made
// under s decided (planned, resolved): an explicit strategy is the planned
// one, auto stays auto so that its registry fallback is kept.
func (s Strategy) Pin(planned Strategy) Strategy {
	if s.DecidesPerImage() {
		return s
	}
	return planned
}

// keepsUpstreamStack: the layer stack is the upstream's own plus the
// hardening layer (Merge(upstream, hardening)); the others move the app
// layers onto a hardened base (Merge(base, Diff(upstream base, upstream),
// hardening)).
func (s Strategy) keepsUpstreamStack() bool { return s == StrategyInplace }

// NeedsUpstreamBase says whether the strategy cannot run without knowing
// the upstream's base (rebuild, rebase). Auto uses it when known.
func (s Strategy) NeedsUpstreamBase() bool { return s == StrategyRebuild || s == StrategyRebase }

// NeedsHardenedBase says whether the result sits on a hardened base image.
func (s Strategy) NeedsHardenedBase() bool { return !s.keepsUpstreamStack() }

// RemovesTools says whether shells, package managers and compilers are
// always gone: the hardened base has none. Inplace removes them only when
// the policy asks (removeTools).
func (s Strategy) RemovesTools() bool { return !s.keepsUpstreamStack() }

// Engine is the engine the strategy is assembled with by default; auto
// decides per image ("").
func (s Strategy) Engine() string {
	switch s {
	case StrategyRebase:
		return EngineRegistry
	case StrategyRebuild, StrategyInplace:
		return EngineBuildKit
	}
	return ""
}

// RegistryOnly says whether only the registry level can assemble it
// (BuildKit's Merge/Diff cannot express a base known by history alone).
func (s Strategy) RegistryOnly() bool { return s == StrategyRebase }

// fallsBackToRegistry says whether a BuildKit failure may be retried at
// the registry level: only auto with no engine forced, since the stack is
// known exactly; an explicit strategy or engine is kept as asked.
func (s Strategy) fallsBackToRegistry(forcedEngine, engine string) bool {
	return s.DecidesPerImage() && forcedEngine == "" && engine == EngineBuildKit
}

// ErrNoUpstreamBase means a strategy needs the upstream base and none was found.
var ErrNoUpstreamBase = errors.New("upstream base unknown")

// plan is what Harden decided before building.
type plan struct {
	strategy Strategy
	engine   string // EngineBuildKit or EngineRegistry
	reason   string
	runtime  string
	base     *image // hardened base; nil for inplace
	baseRef  string
	oldBase  *image // upstream base; nil when unknown
	oldFrom  string // where oldBase came from
	baseWhy  string // how the hardened base was picked
}

// choose resolves the bases and picks the strategy. An explicit strategy is
// checked for what it needs; auto prefers rebuild when the upstream base is
// known and BuildKit answers, rebase when the base is known but BuildKit does
// not, and inplace when the base is unknown.
func choose(ctx context.Context, o *options, up *image, platform v1.Platform) (*plan, error) {
	p, err := chooseStrategy(ctx, o, up, platform)
	if err != nil {
		return nil, err
	}
	if p.baseWhy != "" {
		p.reason += "; " + p.baseWhy
	}
	return p, nil
}

func chooseStrategy(ctx context.Context, o *options, up *image, platform v1.Platform) (*plan, error) {
	p := &plan{strategy: o.strategy}
	var err error
	if p.oldBase, p.oldFrom, err = findOldBase(up, o, platform); err != nil {
		return nil, err
	}
	needBase := p.strategy.NeedsHardenedBase() && (!p.strategy.DecidesPerImage() || p.oldBase != nil)
	if needBase {
		if err := p.pickBase(o, up, platform); err != nil {
			return nil, err
		}
	}
	switch p.strategy {
	case StrategyRebuild, StrategyRebase:
		if p.strategy == StrategyRebuild && p.oldBase != nil && p.oldBase.fromHistory {
			return nil, needInput("oldBase", fmt.Sprintf("strategy rebuild: the upstream base of %s was %s; BuildKit needs it as an image", up.digest, p.oldFrom),
				"use strategy rebase or auto", nil)
		}
		if p.oldBase == nil {
			return nil, fmt.Errorf("strategy %s: %w", p.strategy, needInput("oldBase",
				fmt.Sprintf("%v for %s: it has no %s/%s annotations, no upstream base was given and no upstream base in the bases file is a layer prefix of it",
					ErrNoUpstreamBase, up.digest, AnnotationBaseName, AnnotationBaseDigest),
				"use strategy inplace", ErrNoUpstreamBase))
		}
		p.reason = fmt.Sprintf("asked for %s; upstream base %s", p.strategy, p.oldFrom)
		p.engine = p.strategy.Engine()
		return p, nil
	case StrategyInplace:
		p.reason, p.engine = "asked for inplace", p.strategy.Engine()
		return p, nil
	}
	if p.oldBase != nil && p.oldBase.fromHistory {
		// BuildKit's Diff needs the base as an image; the registry level
		// only needs its layers.
		p.strategy, p.engine = StrategyRebase, EngineRegistry
		p.reason = fmt.Sprintf("upstream base %s, so the registry-level rebase ran (it needs only the base's layers)", p.oldFrom)
		return p, nil
	}
	bkErr := probeBuildKit(ctx, Addr(o.addr))
	switch {
	case p.oldBase != nil && bkErr == nil:
		p.strategy, p.engine = StrategyRebuild, EngineBuildKit
		p.reason = fmt.Sprintf("upstream base %s and BuildKit answers at %s", p.oldFrom, Addr(o.addr))
	case p.oldBase != nil:
		p.strategy, p.engine = StrategyRebase, EngineRegistry
		p.reason = fmt.Sprintf("upstream base %s; BuildKit is not reachable (%v), so the registry-level rebase ran, which needs no daemon", p.oldFrom, bkErr)
	default:
		p.strategy, p.engine = StrategyInplace, EngineBuildKit
		p.reason = "upstream base unknown (no base annotations, none given, no bases-file base is a layer prefix), so the upstream filesystem was kept and hardened in place"
		if bkErr != nil {
			p.engine = EngineRegistry
			p.reason += fmt.Sprintf("; BuildKit is not reachable (%v), so the layers were assembled at the registry level, which needs no daemon", bkErr)
		}
	}
	return p, nil
}

// pickBase resolves the hardened base: --base, else the bases file's entry
// for the detected runtime.
func (p *plan) pickBase(o *options, up *image, platform v1.Platform) error {
	ref := o.base
	if ref == "" && !o.basesGiven {
		// Nothing configured: the built-in bases file only names
		// placeholders, so drydock makes its own base.
		return p.generateBase(up)
	}
	if ref == "" {
		rt, why := o.bases.Detect(up.config.Config.Entrypoint, up.config.Config.Cmd, up.config.Config.Env)
		if rt == nil {
			return needInput("base", fmt.Sprintf("no hardened base for %s: %s", up.digest, why), "add the runtime to the bases file", nil)
		}
		ref, p.runtime = rt.Base, rt.Name
		p.baseWhy = fmt.Sprintf("runtime %s (%s) → base %s", rt.Name, why, rt.Base)
	}
	base, err := resolve(ref, platform, o.remote)
	if err != nil {
		return fmt.Errorf("hardened base: %w", err)
	}
	p.base, p.baseRef = base, ref
	return nil
}

// generateBase uses drydock's generated minimal base (generatedBase).
func (p *plan) generateBase(up *image) error {
	img, withCA, err := generatedBase(up)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("digesting the generated base: %w", err)
	}
	ca := "the upstream's CA certificates"
	if !withCA {
		ca = "no CA certificates (none found in the upstream)"
	}
	p.base = &image{digest: up.digest.Context().Digest(d.String()), img: img, config: &v1.ConfigFile{}, generated: true}
	p.baseRef = "generated"
	p.baseWhy = fmt.Sprintf("no hardened base configured (none given, no bases file), so drydock generated its own minimal static base %s (passwd and group with 65532, %s, /tmp 1777, /home/nonroot)", d, ca)
	return nil
}

// findOldBase finds the upstream's base: WithOldBase, else the manifest's
// base annotations, else a bases-file upstream base whose layers are a
// prefix of the upstream's. It returns nil when none is found.
func findOldBase(up *image, o *options, platform v1.Platform) (*image, string, error) {
	ref, from := o.oldBase, "as given"
	if ref == "" {
		m, err := up.img.Manifest()
		if err != nil {
			return nil, "", fmt.Errorf("reading manifest of %s: %w", up.digest, err)
		}
		bn, bd := m.Annotations[AnnotationBaseName], m.Annotations[AnnotationBaseDigest]
		if bn != "" && bd != "" {
			bref, err := name.ParseReference(bn)
			if err != nil {
				return nil, "", fmt.Errorf("%s: annotation %s=%q: %w", up.digest, AnnotationBaseName, bn, err)
			}
			ref, from = bref.Context().Digest(bd).String(), "from the base annotations"
		}
	}
	if ref != "" {
		old, err := resolve(ref, platform, o.remote)
		if err != nil {
			return nil, "", fmt.Errorf("upstream base: %w", err)
		}
		if _, err := rebase.PrefixLen(old.img, up.img); err != nil {
			return nil, "", needInput("oldBase", fmt.Sprintf("upstream base %s (%s) is not the base of %s: %v", old.digest, from, up.digest, err), "", err)
		}
		return old, from + " (" + old.digest.String() + ")", nil
	}
	for _, rt := range o.bases.Runtimes {
		for _, cand := range rt.UpstreamBases {
			old, err := resolve(cand, platform, o.remote)
			if err != nil {
				continue // a listed base that is gone only means it is not this one
			}
			if _, err := rebase.PrefixLen(old.img, up.img); err == nil {
				return old, fmt.Sprintf("found by common layer prefix with %s from the bases file (%s)", cand, old.digest), nil
			}
		}
	}
	// Nixpacks base digests change with every release, so no list keeps
	// up; the history shows where the generated Dockerfile starts.
	return historyOldBase(up)
}

// probeBuildKit says whether a BuildKit daemon answers, within a few seconds.
func probeBuildKit(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := Connect(ctx, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// defaultBases is used when no bases file is given.
func defaultBases() *policies.Bases { return policies.DefaultBases() }
