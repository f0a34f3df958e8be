package build

import (
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Graph is the rebuild as LLB: the upstream image's own layers (its
// difference from the upstream base) merged on top of the hardened base.
// All three inputs are digest references so the graph is pinned.
func Graph(hardenedBase, upstreamBase, upstream string, platform ocispecs.Platform) llb.State {
	img := func(ref, name string) llb.State {
		return llb.Image(ref, llb.Platform(platform), llb.WithCustomName(name))
	}
	app := llb.Diff(
		img(upstreamBase, "upstream base "+upstreamBase),
		img(upstream, "upstream "+upstream),
		llb.WithCustomName("upstream app layers"),
	)
	return llb.Merge(
		[]llb.State{img(hardenedBase, "hardened base "+hardenedBase), app},
		llb.WithCustomName("app layers onto hardened base"),
	)
}
