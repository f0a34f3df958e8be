package build

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/rebase"
	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// builder carries one hardening from the computed layer to a pushed digest.
type builder struct {
	o         *options
	p         *plan
	up        *image
	target    name.Repository
	platform  v1.Platform
	stack     []v1.Layer // layers under the hardening layer
	hardening *hardening.Result
	config    *v1.ConfigFile
	anns      map[string]string
	// sourceDate is the one date every timestamp drydock writes comes from.
	sourceDate time.Time
	// start is how the result starts (exec form, decided here).
	start *Start
	// carried are the paths WithCarry brought (absolute), and carryLayer
	// the layer holding them on the hardened base (nil for inplace).
	carried    []string
	carryLayer v1.Layer
	// assembled is the registry-level image; BuildKit's export is given its
	// history so both engines date the layers the same way.
	assembled v1.Image
}

// newBuilder computes the hardening layer once, from the layer stack the
// strategy produces; every strategy puts that same layer on top.
func newBuilder(o *options, p *plan, up *image, target name.Repository, platform v1.Platform) (*builder, error) {
	b := &builder{o: o, p: p, up: up, target: target, platform: platform}
	var oldImg, newImg v1.Image
	if p.strategy.NeedsHardenedBase() {
		oldImg, newImg = p.oldBase.img, p.base.img
	}
	stack, err := rebase.Stack(up.img, oldImg, newImg)
	if err != nil {
		return nil, fmt.Errorf("stacking layers of %s: %w", up.digest, err)
	}
	if b.sourceDate, err = sourceDate(o, up.config); err != nil {
		return nil, err
	}
	if len(o.carry) > 0 {
		if b.carried, b.carryLayer, err = carry(up, o.carry, p.strategy, b.sourceDate); err != nil {
			return nil, err
		}
		if b.carryLayer != nil {
			if stack, err = withCarry(stack, p.base.img, b.carryLayer); err != nil {
				return nil, err
			}
		}
	}
	b.stack = stack
	hopts, err := hardeningOptions(o.policy, p.strategy)
	if err != nil {
		return nil, err
	}
	// Resolved on the stack the result is made of, for the runtime user:
	// a program behind /root or on the dropped upstream base is refused now,
	// not at the first start. A hostile layer is the hardening pass's to
	// name, so its refusal comes first.
	profiles := up.img // the upstream base's profile files decided the start command
	if !p.strategy.NeedsHardenedBase() {
		profiles = nil // the stack is the upstream's own
	}
	start, startErr := resolveStart(o.layerIndex, o.spool, stack, up.config, profiles, o.policy, !hopts.RemoveTools, up.digest.String())
	if startErr == nil {
		hopts.Keep = append(hopts.Keep, start.keep()...)
	}
	// Carried by path: a carried shell stays, the same name elsewhere goes.
	hopts.Keep = append(hopts.Keep, b.carried...)
	hopts.SourceDate = b.sourceDate
	hopts.LayerCache = *o.layerCache
	if b.hardening, err = hardening.Harden(o.spool.Layers(stack), hopts); err != nil {
		return nil, fmt.Errorf("hardening %s: %w", up.digest, err)
	}
	if startErr != nil {
		return nil, startErr
	}
	b.start = start
	label, err := o.policy.Encode()
	if err != nil {
		return nil, err
	}
	b.config = HardenedConfig(up.config, label, o.policy.User, up.digest.String(), platform)
	b.config.Created = v1.Time{Time: b.sourceDate}
	b.start.apply(&b.config.Config)
	if p.base != nil && !p.base.generated {
		// The pinned reference, not the tag or name it was asked by: the
		// manifest must depend on the base's content only, so that a rebuild
		// from the provenance (which records repository@digest) matches.
		b.anns = map[string]string{AnnotationBaseName: p.base.digest.String(), AnnotationBaseDigest: p.base.digest.DigestStr()}
	}
	if b.assembled, err = b.assemble(); err != nil {
		return nil, err
	}
	return b, nil
}

// hardeningOptions turns the policy into hardening options. Tools are
// removed for rebuild and rebase (the hardened base has none, so only what
// the app layers brought goes) and, for inplace, when the policy asks.
func hardeningOptions(p *policies.Policy, strategy Strategy) (hardening.Options, error) {
	h := hardening.DefaultOptions()
	if err := h.ParseUser(p.User); err != nil {
		return h, fmt.Errorf("policy: %w", err)
	}
	h.TmpPaths = nil
	for _, t := range p.Tmpfs {
		h.TmpPaths = append(h.TmpPaths, t.Path)
	}
	h.RemoveTools = strategy.RemovesTools() || p.RemoveTools
	// What tool removal keeps is the resolved start program, by path (see
	// Start.keep): a bare program name from the upstream's command would
	// keep every file of that name — npm for `bash -l -c "npm run start"`.
	return h, nil
}

// build produces the image and returns its pushed digest.
func (b *builder) build(ctx context.Context) (string, error) {
	if b.p.engine == EngineRegistry {
		return b.rebase()
	}
	hImg, err := rebase.LayerImage(b.hardening.Layer, b.platform)
	if err != nil {
		return "", err
	}
	// BuildKit takes the hardening layer as an image input; it is pushed by
	// digest only, next to the result, and never tagged.
	hRef, err := push(b.target, hImg, b.o.remote)
	if err != nil {
		return "", fmt.Errorf("pushing hardening layer: %w", err)
	}
	p := toOCI(b.platform)
	var graph = InplaceGraph(b.up.digest.String(), hRef.String(), p)
	if b.p.strategy.NeedsHardenedBase() {
		baseRef := b.p.base.digest
		if b.p.base.generated {
			// BuildKit pulls its inputs: the generated base goes next to
			// the result, by digest, never tagged.
			if baseRef, err = push(b.target, b.p.base.img, b.o.remote); err != nil {
				return "", fmt.Errorf("pushing the generated base: %w", err)
			}
		}
		var carry []string
		if b.carryLayer != nil {
			cImg, err := rebase.LayerImage(b.carryLayer, b.platform)
			if err != nil {
				return "", err
			}
			cRef, err := push(b.target, cImg, b.o.remote)
			if err != nil {
				return "", fmt.Errorf("pushing the carry layer: %w", err)
			}
			carry = append(carry, cRef.String())
		}
		graph = RebuildGraph(baseRef.String(), b.p.oldBase.digest.String(), b.up.digest.String(), hRef.String(), p, carry...)
	}
	// The registry-level config carries the full history (one entry per
	// layer, dated from the inputs and the source date); without it
	// BuildKit would date the layers with its cache's creation times.
	cfg, err := b.assembled.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading assembled config: %w", err)
	}
	return b.o.rebuilder.Rebuild(ctx, RebuildRequest{Graph: graph, Config: cfg, Target: b.target, Annotations: b.manifestAnnotations(), SourceDate: b.sourceDate})
}

// buildChecked builds, then reads the pushed image back (checkOutput).
func (b *builder) buildChecked(ctx context.Context) (name.Digest, error) {
	digest, err := b.build(ctx)
	if err != nil {
		return name.Digest{}, err
	}
	out := b.target.Digest(digest)
	if err := checkOutput(out, b.stack, b.hardening.Layer, b.o.remote); err != nil {
		return name.Digest{}, err
	}
	return out, nil
}

// manifestAnnotations are the upstream's (without its base.*) plus ours.
func (b *builder) manifestAnnotations() map[string]string {
	out := map[string]string{}
	for k, v := range b.up.manifest().Annotations {
		if k != AnnotationBaseName && k != AnnotationBaseDigest {
			out[k] = v
		}
	}
	for k, v := range b.anns {
		out[k] = v
	}
	return out
}

// assemble puts the image together at the registry level (in memory).
func (b *builder) assemble() (v1.Image, error) {
	in := rebase.Input{Upstream: b.up.img, Carry: b.carryLayer, Hardening: b.hardening.Layer, Config: b.config, Annotations: b.anns}
	if b.p.base != nil {
		in.OldBase, in.NewBase = b.p.oldBase.img, b.p.base.img
	}
	img, err := b.o.rebaser.Rebase(in)
	if err != nil {
		return nil, fmt.Errorf("rebasing %s: %w", b.up.digest, err)
	}
	return img, nil
}

// rebase pushes the registry-level image; layers already in the registry
// are mounted from their repositories, not copied.
func (b *builder) rebase() (string, error) {
	d, err := push(b.target, b.assembled, b.o.remote)
	if err != nil {
		return "", err
	}
	return d.DigestStr(), nil
}

// push writes img to repo by digest.
func push(repo name.Repository, img v1.Image, ro []remote.Option) (name.Digest, error) {
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("digesting image for %s: %w", repo, err)
	}
	ref := repo.Digest(d.String())
	if err := remote.Write(ref, img, ro...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return ref, nil
}

// maxConfigSize bounds the upstream config. Real configs are a few KiB; a
// huge one (a 10 MB label, say) would be copied into every hardened image and
// parsed by every verifier, so it is refused.
const maxConfigSize = 1 << 20

func checkConfigSize(up *image) error {
	m, err := up.img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest of %s: %w", up.digest, err)
	}
	if m.Config.Size > maxConfigSize {
		return fmt.Errorf("%s: its image config is %d bytes, more than the %d drydock accepts; refusing it (look for huge labels or env values)", up.digest, m.Config.Size, maxConfigSize)
	}
	return nil
}

func (i *image) manifest() *v1.Manifest {
	m, err := i.img.Manifest()
	if err != nil || m == nil {
		return &v1.Manifest{}
	}
	return m
}

// layerList names diffIDs for messages.
func layerList(ids []v1.Hash) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.Hex[:12]
	}
	return strings.Join(s, ",")
}
