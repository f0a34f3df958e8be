// Package build rebuilds upstream MCP server images onto a hardened base
// with BuildKit LLB: Merge(hardenedBase, Diff(upstreamBase, upstream)),
// with the drydock policy label written into the image config, pushed to
// the registry by digest.
package build

import (
	"context"
	"errors"
	"fmt"
	"os"

	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
)

// DefaultAddr is where a standalone buildkitd listens unless told otherwise.
const DefaultAddr = "unix:///run/buildkit/buildkitd.sock"

// ErrNoBuildKit means no BuildKit daemon could be reached.
var ErrNoBuildKit = errors.New("no BuildKit daemon reachable")

// requiredCaps are the LLB ops the rebuild needs. Docker's built-in BuildKit
// with the classic image store lacks both, so we check up front and say so.
var requiredCaps = []apicaps.CapID{pb.CapMergeOp, pb.CapDiffOp}

// Addr returns the BuildKit address to use: the explicit one, else
// BUILDKIT_HOST, else DefaultAddr.
func Addr(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if env := os.Getenv("BUILDKIT_HOST"); env != "" {
		return env
	}
	return DefaultAddr
}

// Connect dials BuildKit and checks that it answers.
func Connect(ctx context.Context, addr string) (*bkclient.Client, error) {
	c, err := bkclient.New(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrNoBuildKit, addr, err)
	}
	if _, err := c.Info(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w at %s (start one with `hack/dev-env up` or set BUILDKIT_HOST): %w", ErrNoBuildKit, addr, err)
	}
	return c, nil
}

func checkCaps(caps apicaps.CapSet) error {
	var err error
	for _, c := range requiredCaps {
		err = errors.Join(err, caps.Supports(c))
	}
	if err != nil {
		return fmt.Errorf("this BuildKit cannot rebuild images (Docker's built-in BuildKit with the classic image store lacks MergeOp/DiffOp; use a standalone buildkitd): %w", err)
	}
	return nil
}
