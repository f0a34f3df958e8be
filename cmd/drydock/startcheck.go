package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/launch/smoke"
)

// smokeCheck is build's start-check seam implemented by launch/smoke: both
// images run under the policy's translation through the engine code
// drydock run uses. The CLI wires the two sides together so that build
// never imports launch.
func smokeCheck(ctx context.Context, req build.SmokeRequest) (*build.SmokeReport, error) {
	calls := make([]smoke.Call, len(req.Calls))
	for i, c := range req.Calls {
		calls[i] = smoke.Call{Tool: c.Tool, Arguments: c.Arguments}
	}
	opts := []smoke.Option{smoke.WithCalls(calls...)}
	if req.Policy != nil {
		opts = append(opts, smoke.WithPolicy(req.Policy))
	}
	res, err := smoke.Compare(ctx, req.Upstream.String(), req.Hardened.String(), opts...)
	if errors.Is(err, smoke.ErrMismatch) {
		err = fmt.Errorf("%w: %w", build.ErrSmokeMismatch, err)
	}
	return smokeReport(res), err
}

func smokeReport(r *smoke.Result) *build.SmokeReport {
	if r == nil {
		return nil
	}
	out := &build.SmokeReport{Match: r.Match, Upstream: smokeListing(r.Upstream), Hardened: smokeListing(r.Hardened), Differences: r.Differences}
	for _, c := range r.Calls {
		o := build.SmokeCallOutcome{Tool: c.Tool, Upstream: build.SmokeCallResult(c.Upstream)}
		if c.Hardened != nil {
			h := build.SmokeCallResult(*c.Hardened)
			o.Hardened = &h
		}
		out.Calls = append(out.Calls, o)
	}
	return out
}

func smokeListing(l *smoke.Listing) *build.SmokeListing {
	if l == nil {
		return nil
	}
	b := build.SmokeListing(*l)
	return &b
}
