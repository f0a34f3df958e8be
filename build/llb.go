package build

import (
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// All graph inputs are digest references, so a graph is pinned. The
// hardening layer comes in as a one-layer image (see rebase.LayerImage):
// merging it last puts its blob, whiteouts included, on top unchanged.

func imageState(ref, name string, platform ocispecs.Platform) llb.State {
	return llb.Image(ref, llb.Platform(platform), llb.WithCustomName(name), llb.IgnoreCache)
}

// RebuildGraph is the rebuild as LLB: the upstream image's own layers (its
// difference from the upstream base) merged onto the hardened base, then
// the hardening layer.
func RebuildGraph(hardenedBase, upstreamBase, upstream, hardening string, platform ocispecs.Platform) llb.State {
	app := llb.Diff(
		imageState(upstreamBase, "upstream base "+upstreamBase, platform),
		imageState(upstream, "upstream "+upstream, platform),
		llb.WithCustomName("upstream app layers"), llb.IgnoreCache,
	)
	return llb.Merge(
		[]llb.State{
			imageState(hardenedBase, "hardened base "+hardenedBase, platform),
			app,
			imageState(hardening, "hardening layer "+hardening, platform),
		},
		llb.WithCustomName("app layers and hardening onto hardened base"), llb.IgnoreCache,
	)
}

// InplaceGraph keeps the upstream filesystem and puts the hardening layer on it.
func InplaceGraph(upstream, hardening string, platform ocispecs.Platform) llb.State {
	return llb.Merge(
		[]llb.State{
			imageState(upstream, "upstream "+upstream, platform),
			imageState(hardening, "hardening layer "+hardening, platform),
		},
		llb.WithCustomName("hardening onto upstream"), llb.IgnoreCache,
	)
}
