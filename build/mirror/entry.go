package mirror

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// entry is one catalog server being mirrored.
type entry struct {
	m            *mirror
	index, total int
	pos          int // index in the catalog
	server       Server
	scan         *scan.Gate // the vulnerability gate, when one runs (vuln.go)
}

func (e *entry) emit(phase, detail string, res *EntryResult) {
	e.m.emit(Event{Index: e.index, Total: e.total, Name: e.server.Name, Phase: phase, Detail: detail, Result: res})
}

// run tries the entry until it succeeds, fails for good, or runs out of
// attempts; transient registry and builder errors back off and retry.
func (e *entry) run(ctx context.Context) EntryResult {
	start := time.Now()
	res := EntryResult{Name: e.server.Name, Source: e.server.Source, Smoke: "not run"}
	o := e.m.o
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		err := e.try(ctx, &res)
		if err == nil {
			break
		}
		if attempt >= o.attempts || !Transient(err) || ctx.Err() != nil {
			res.Status, res.Reason, res.Err = StatusFailed, o.message(err), err
			if attempt > 1 && Transient(err) {
				res.Reason = fmt.Sprintf("after %d attempts: %s", attempt, o.message(err))
			}
			break
		}
		wait := o.backoff<<(attempt-1) + rand.N(o.backoff/2+1)
		e.emit(PhaseRetrying, fmt.Sprintf("attempt %d of %d in %s: %v", attempt+1, o.attempts, wait.Round(time.Millisecond), err), nil)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			res.Status, res.Reason, res.Err = StatusFailed, fmt.Sprintf("interrupted while retrying: %v", err), err
			res.Seconds = time.Since(start).Seconds()
			e.emit(res.Status, res.Reason, &res)
			return res
		}
	}
	res.Seconds = time.Since(start).Seconds()
	e.emit(res.Status, res.Reason, &res)
	return res
}

// try is one attempt: plan, check the target, harden when needed. It fills
// res as it learns things and sets res.Status only on success.
func (e *entry) try(ctx context.Context, res *EntryResult) error {
	m, s := e.m, e.server
	target, err := s.target(m.prefix)
	if err != nil {
		return err
	}
	res.Target = target.String()
	policy, err := m.c.Policy(e.pos)
	if err != nil {
		return err
	}
	policyDigest, err := policy.Digest()
	if err != nil {
		return err
	}
	host := m.hosts.acquire()
	defer m.hosts.release(host)
	addr := m.hosts.addrs[host]
	var bases *policies.Bases // none configured: harden generates its own base
	if m.c.Defaults.Bases != "" {
		bases = m.c.bases
	}
	opts := []build.Option{
		build.WithBuildKitAddr(addr),
		build.WithPolicy(policy),
		build.WithBases(bases),
		build.WithRemoteOptions(m.o.remote...),
		build.WithBase(s.Base),
		build.WithStrategy(m.c.strategy(s)),
		build.WithCarry(s.Carry...),
		build.WithSmokeCalls(s.smokeCalls()...),
		build.WithLayerIndex(m.index),
		build.WithSpool(m.spool),
	}
	e.emit(PhasePlanning, "", nil)
	plan, err := build.Plan(ctx, s.Source, opts...)
	if err != nil {
		return err
	}
	res.Upstream, res.Strategy, res.Engine = digestOf(plan.Source), plan.Strategy, plan.Engine
	if !m.o.force {
		e.emit(PhaseChecking, target.String(), nil)
		done, why, err := e.check(ctx, target, plan, policyDigest, res)
		if err != nil {
			return err
		}
		if done {
			res.Status, res.Reason = StatusSkipped, why
			return nil
		}
		res.Reason = why
	} else {
		res.Reason = "--force"
	}
	if plan.Engine == build.EngineBuildKit {
		res.BuildKit = addr
	}
	e.emit(PhaseHardening, fmt.Sprintf("%s (%s) %s", plan.Strategy, plan.Engine, res.BuildKit), nil)
	hres, err := build.Harden(ctx, plan.Source, target.String(), append(opts, e.pinned(plan, policy, m.c.strategy(s))...)...)
	e.recordScan(res)
	if hres != nil && hres.Smoke != nil {
		res.Smoke = "passed"
	}
	if err != nil {
		if errors.Is(err, build.ErrSmokeMismatch) {
			res.Smoke = "failed"
		}
		return err
	}
	res.Status, res.Hardened, res.Engine = StatusHardened, hres.Digest, hres.Engine
	return nil
}

// pinned makes Harden build exactly what was planned and compared: the
// pinned upstream base, hardened base and resolved strategy, then signs and
// attests before the tag moves.
//
// An entry that asked for auto stays auto with the planned bases pinned, so
// a BuildKit result the read-back check refuses (BuildKit v0.34's cached
// Merge/Diff issue) is assembled at the registry level instead of failing.
func (e *entry) pinned(plan *build.Planned, policy *policies.Policy, requested build.Strategy) []build.Option {
	m := e.m
	opts := []build.Option{build.WithStrategy(requested.Pin(plan.Strategy)), build.WithOldBase(plan.OldBase)}
	if plan.Base != "" {
		opts = append(opts, build.WithBase(plan.Base))
	}
	// The gate scans before anything is signed; the SBOM attestation is
	// attached after the signature and provenance, before the tag moves.
	sign := e.gate(provenance.SignFunc(m.o.signer, policy, time.Now(), m.o.signOptions()...))
	sign = build.SignWithSBOM(sign, m.o.signer, m.sbomFormat(), m.o.signOptions()...)
	opts = append(opts, build.WithSBOM(), build.WithSigner(func(ctx context.Context, d name.Digest, r *build.Result) error {
		e.emit(PhaseSigning, d.DigestStr(), nil)
		return sign(ctx, d, r)
	}))
	switch {
	case m.o.noSmoke != "":
		opts = append(opts, build.WithoutSmoke(m.o.noSmoke))
	case m.o.smoke != nil:
		opts = append(opts, build.WithSmoke(m.o.smoke))
	}
	return opts
}

// check decides whether target already holds what this run would make: its
// digest must verify with the mirror's key (or keylessly for its
// certificate's identity, see WithCertificate), and a verified provenance
// statement must record the same upstream digest, hardened base, policy
// digest and strategy. It says why when not. Registry errors are returned.
func (e *entry) check(ctx context.Context, target name.Tag, plan *build.Planned, policyDigest string, res *EntryResult) (bool, string, error) {
	ro := append(append([]remote.Option{}, e.m.o.remote...), remote.WithContext(ctx))
	desc, err := remote.Head(target, ro...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return false, "not mirrored yet", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("reading mirror target %s: %w", target, err)
	}
	d := target.Context().Digest(desc.Digest.String())
	vr, err := attest.Verify(ctx, d, e.m.o.verifier,
		attest.WithSourceDigest(digestOf(plan.Source)), attest.WithRemoteOptions(e.m.o.remote...))
	if errors.Is(err, attest.ErrRefused) {
		return false, fmt.Sprintf("target %s does not verify for this upstream: %v", desc.Digest, err), nil
	}
	if err != nil {
		return false, "", err
	}
	why := ""
	for _, st := range vr.Attestations {
		p, err := st.HardenParameters()
		if err != nil {
			why = err.Error()
			continue
		}
		switch {
		case p.Base != plan.Base:
			why = fmt.Sprintf("hardened base changed (recorded %q, now %q)", p.Base, plan.Base)
		case p.PolicyDigest != policyDigest:
			why = fmt.Sprintf("policy changed (recorded %s, now %s)", p.PolicyDigest, policyDigest)
		case p.Strategy != string(plan.Strategy): // the provenance keeps the strategy's name
			why = fmt.Sprintf("strategy changed (recorded %s, now %s)", p.Strategy, plan.Strategy)
		case !slices.Equal(p.Carry, plan.Carry):
			why = fmt.Sprintf("carried executables changed (recorded %v, now %v)", p.Carry, plan.Carry)
		case p.SourceDateEpoch == nil || *p.SourceDateEpoch != plan.SourceDate.Unix():
			// Another source date gives another digest from the same inputs.
			why = fmt.Sprintf("source date changed (now %d)", plan.SourceDate.Unix())
		default:
			// A target from before SBOM attestations, or in another
			// format, is re-done rather than left without one.
			if ok, why, err := e.hasSBOM(ctx, d); err != nil || !ok {
				return false, why, err
			}
			res.Hardened = desc.Digest.String()
			if p.Smoke != nil {
				res.Smoke = "passed"
			}
			return true, "target verifies with the same upstream, base, policy, strategy and source date", nil
		}
	}
	return false, why, nil
}

// hasSBOM says whether d carries an SBOM attestation in the mirror's
// format signed like its signature.
func (e *entry) hasSBOM(ctx context.Context, d name.Digest) (bool, string, error) {
	pt, err := sbom.PredicateType(e.m.sbomFormat())
	if err != nil {
		return false, "", err
	}
	_, err = attest.Verify(ctx, d, e.m.o.verifier, attest.WithAttestation(pt), attest.WithRemoteOptions(e.m.o.remote...))
	if errors.Is(err, attest.ErrRefused) {
		return false, fmt.Sprintf("target %s has no %s SBOM attestation: %v", d.DigestStr(), e.m.sbomFormat(), err), nil
	}
	return err == nil, "", err
}

// digestOf is the sha256:... part of repo@sha256:...
func digestOf(ref string) string {
	d, err := name.NewDigest(ref)
	if err != nil {
		return ref
	}
	return d.DigestStr()
}
