package build

import (
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// All graph inputs are digest references, so a graph is pinned. The
// hardening layer comes in as a one-layer image (see rebase.LayerImage):
// merging it last puts its blob, whiteouts included, on top unchanged.
//
// No llb.IgnoreCache: forcing BuildKit v0.34 to pull an image again after it
// has built a Diff/Merge of that image makes the new pull resolve to the
// earlier Diff/Merge records (same chain IDs), and the export loses or
// squashes layers. Cached sources avoid that for rebuilds of the same
// references; a rebuild that names the same content under another
// repository can still hit it, which the read-back check refuses.

func imageState(ref, name string, platform ocispecs.Platform) llb.State {
	return llb.Image(ref, llb.Platform(platform), llb.WithCustomName(name))
}

// RebuildGraph is the rebuild as LLB: the upstream image's own layers (its
// difference from the upstream base) merged onto the hardened base, then
// the hardening layer. carry (at most one) is a one-layer image of tools
// carried from the upstream base, merged right on the hardened base.
func RebuildGraph(hardenedBase, upstreamBase, upstream, hardening string, platform ocispecs.Platform, carry ...string) llb.State {
	app := llb.Diff(
		imageState(upstreamBase, "upstream base "+upstreamBase, platform),
		imageState(upstream, "upstream "+upstream, platform),
		llb.WithCustomName("upstream app layers"),
	)
	states := []llb.State{imageState(hardenedBase, "hardened base "+hardenedBase, platform)}
	for _, c := range carry {
		states = append(states, imageState(c, "carried tools "+c, platform))
	}
	states = append(states, app, imageState(hardening, "hardening layer "+hardening, platform))
	return llb.Merge(states, llb.WithCustomName("app layers and hardening onto hardened base"))
}

// InplaceGraph keeps the upstream filesystem and puts the hardening layer on it.
func InplaceGraph(upstream, hardening string, platform ocispecs.Platform) llb.State {
	return llb.Merge(
		[]llb.State{
			imageState(upstream, "upstream "+upstream, platform),
			imageState(hardening, "hardening layer "+hardening, platform),
		},
		llb.WithCustomName("hardening onto upstream"),
	)
}
