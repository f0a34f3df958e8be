package build

import (
	"context"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Planned is what Harden would do with an upstream, decided without
// building: the pinned inputs a provenance statement records. drydock
// mirror compares it with a target's verified provenance to skip work that
// is already done, and hands the pinned references back to Harden so the
// build uses exactly what was compared.
type Planned struct {
	Source   string   // upstream platform image, repository@sha256:...
	Base     string   // hardened base, repository@sha256:... ("" for inplace)
	OldBase  string   // upstream base, repository@sha256:... ("" when unknown)
	Strategy Strategy // rebuild, inplace or rebase (auto is resolved)
	Engine   string   // buildkit or registry
	Reason   string
	// SourceDate is the date every timestamp would come from (the option,
	// SOURCE_DATE_EPOCH, else the upstream's creation time).
	SourceDate time.Time
	// Carry are the executables carried from the upstream (WithCarry), sorted.
	Carry []string
}

// Plan resolves src, its upstream base and the hardened base, and picks the
// strategy as Harden does with the same options. For auto it probes the
// BuildKit address, so the answer can change when BuildKit comes or goes.
func Plan(ctx context.Context, src string, opts ...Option) (*Planned, error) {
	o, up, p, err := start(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	date, err := sourceDate(o, up.config)
	if err != nil {
		return nil, err
	}
	out := &Planned{Source: up.digest.String(), Strategy: p.strategy, Engine: p.engine, Reason: p.reason, SourceDate: date, Carry: o.carry}
	if p.base != nil && !p.base.generated {
		out.Base = p.base.digest.String()
	}
	if p.oldBase != nil && !p.oldBase.fromHistory {
		out.OldBase = p.oldBase.digest.String()
	}
	return out, nil
}

// hostPlatform is the platform Harden builds for: linux on this machine's
// architecture.
func hostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// start is what Plan and Harden share: options, the resolved upstream for
// this machine's platform (config size checked) and the chosen strategy.
func start(ctx context.Context, src string, opts []Option) (*options, *image, *plan, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	o.remote = append(o.remote, remote.WithContext(ctx))
	o.remote = reuseTransports(o.remote)
	up, err := resolve(src, hostPlatform(), o.remote)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkConfigSize(up); err != nil {
		return nil, nil, nil, err
	}
	p, err := choose(ctx, o, up, hostPlatform())
	if err != nil {
		return nil, nil, nil, err
	}
	return o, up, p, nil
}
