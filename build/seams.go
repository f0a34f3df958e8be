package build

import (
	"context"
	"errors"
	"time"

	"github.com/drydock-dev/drydock/rebase"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"
)

// Rebuilder runs a BuildKit graph (RebuildGraph or InplaceGraph) and pushes
// the result to req.Target by digest, returning the manifest digest. It must
// not tag. Harden reads whatever it pushed back and refuses a layer stack
// other than the expected one (ErrOutputRejected), so a Rebuilder is trusted
// to build, never to be right. The default talks to the BuildKit daemon at
// WithBuildKitAddr.
type Rebuilder interface {
	Rebuild(ctx context.Context, req RebuildRequest) (digest string, err error)
}

// RebuildRequest is one BuildKit build: the graph, the image config to
// export with it, where to push, the manifest annotations and the date the
// exporter stamps.
type RebuildRequest struct {
	Graph       llb.State
	Config      *v1.ConfigFile
	Target      name.Repository
	Annotations map[string]string
	SourceDate  time.Time
}

// Rebaser assembles the hardened image at the registry level, without a
// daemon: the upstream's app layers on the new base (or, for inplace, all
// upstream layers), then the hardening layer, with the given config. Its
// result is pushed and checked like a Rebuilder's. The default is
// rebase.Assemble.
type Rebaser interface {
	Rebase(in rebase.Input) (v1.Image, error)
}

// WithRebuilder replaces the BuildKit client (a build farm, a test fake).
// Default: the daemon at WithBuildKitAddr.
func WithRebuilder(r Rebuilder) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("nil Rebuilder")
		}
		o.rebuilder = r
		return nil
	}
}

// WithRebaser replaces the registry-level assembly. Default: rebase.Assemble.
func WithRebaser(r Rebaser) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("nil Rebaser")
		}
		o.rebaser = r
		return nil
	}
}

// buildkitRebuilder is the default Rebuilder: solve on the configured daemon.
type buildkitRebuilder struct{ o *options }

func (b buildkitRebuilder) Rebuild(ctx context.Context, req RebuildRequest) (string, error) {
	return solve(ctx, b.o, solveRequest{graph: req.Graph, config: req.Config, target: req.Target,
		annotations: req.Annotations, sourceDate: req.SourceDate})
}

// registryRebaser is the default Rebaser.
type registryRebaser struct{}

func (registryRebaser) Rebase(in rebase.Input) (v1.Image, error) { return rebase.Assemble(in) }
