package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"
)

// The mirror figures: how --jobs and a second BuildKit daemon pay off on a
// catalog of upstream variants (same layers, distinct digests), every run
// with --force so each entry is hardened, signed and attested again with
// the layer cache warm.

// mirrorEntries is the catalog size (the 20-image rebase catalog);
// smoke runs use a few.
func (e *env) mirrorEntries() int {
	if e.cfg.smoke {
		return 4
	}
	return 20
}

func mirrorFigures() []figure {
	return []figure{
		{id: "mirror-jobs", name: "drydock mirror --jobs 4, 20-entry rebase catalog (layer cache warm)", unit: "s", maxRatio: 1 / 1.8,
			goal: "≥ 1.8× faster than --jobs 1 (≤ 0.56×)", baseline: "the same catalog at --jobs 1", measure: measureMirrorJobs},
		{id: "mirror-daemons", name: "drydock mirror --jobs 4 over two BuildKit daemons, 20-entry auto catalog", unit: "s", maxRatio: 1.0,
			goal: "≤ 1.0× (two daemons at least as fast as one)", baseline: "the same catalog on one daemon", measure: measureMirrorDaemons},
	}
}

// mirrorCatalog pushes the variants (once per strategy) and writes a
// catalog with the bench key, the default policy and the fixture hardened
// base; it returns the catalog path and the mirror prefix.
func (e *env) mirrorCatalog(ctx context.Context, strategy build.Strategy) (string, string, error) {
	dir := filepath.Join(e.dir, "mirror-"+string(strategy))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	up, err := name.NewDigest(e.fx.Upstream)
	if err != nil {
		return "", "", err
	}
	img, err := remote.Image(up, remote.WithContext(ctx))
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", up, err)
	}
	c := mirror.Catalog{APIVersion: policies.APIVersion, Kind: mirror.KindCatalog,
		Defaults: mirror.Defaults{Policy: "policy.yaml", Bases: "bases.yaml", Key: e.key, Strategy: strategy}}
	var eg errgroup.Group
	eg.SetLimit(4)
	for i := range e.mirrorEntries() {
		src := e.repo(fmt.Sprintf("mirror-up/%s-%02d", strategy, i)) + ":latest"
		c.Servers = append(c.Servers, mirror.Server{Name: fmt.Sprintf("echo-%02d", i), Source: src})
		eg.Go(func() error {
			v, err := fixtures.Variant(img, fmt.Sprintf("%s %s-%d", e.prefix, strategy, i))
			if err != nil {
				return err
			}
			tag, err := name.NewTag(src)
			if err != nil {
				return err
			}
			return remote.Write(tag, v, remote.WithContext(ctx))
		})
	}
	if err := eg.Wait(); err != nil {
		return "", "", fmt.Errorf("pushing mirror upstreams: %w", err)
	}
	bases := policies.Bases{APIVersion: policies.APIVersion, Kind: "Bases",
		Runtimes: []policies.Runtime{{Name: "static", Base: e.fx.HardenedBase, Default: true}}}
	for file, v := range map[string]any{"policy.yaml": policies.Default(), "bases.yaml": bases} {
		data, err := yaml.Marshal(v)
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			return "", "", err
		}
	}
	data, err := c.Encode()
	if err != nil {
		return "", "", err
	}
	path := filepath.Join(dir, "catalog.yaml")
	return path, e.repo("mirror-" + string(strategy)), os.WriteFile(path, data, 0o644)
}

// mirrorRun runs drydock mirror with --force and returns its wall time and
// the engines its entries were assembled with.
func (e *env) mirrorRun(ctx context.Context, catalog, prefix string, jobs int, addrs ...string) (float64, map[string]int, error) {
	args := []string{"mirror", catalog, "--to", prefix, "--jobs", strconv.Itoa(jobs), "--force", "--smoke=false", "--output", "json"}
	for _, a := range addrs {
		args = append(args, "--buildkit-addr", a)
	}
	start := time.Now()
	out, err := e.cmd(ctx, e.drydock, args...)
	d := time.Since(start).Seconds()
	if err != nil {
		return 0, nil, err
	}
	var rep mirror.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return 0, nil, fmt.Errorf("reading mirror's JSON: %w", err)
	}
	engines := map[string]int{}
	for _, en := range rep.Entries {
		if en.Status != mirror.StatusHardened {
			return 0, nil, fmt.Errorf("mirror entry %s: %s (%s)", en.Name, en.Status, en.Reason)
		}
		engines[string(en.Strategy)+" on "+en.Engine]++
	}
	return d, engines, nil
}

// measureMirrorJobs alternates --jobs 4 and --jobs 1 on the rebase catalog
// (registry level: no BuildKit involved), after one warm-up run that fills
// the layer cache.
func measureMirrorJobs(ctx context.Context, e *env) (result, error) {
	catalog, prefix, err := e.mirrorCatalog(ctx, build.StrategyRebase)
	if err != nil {
		return result{}, err
	}
	if _, _, err := e.mirrorRun(ctx, catalog, prefix, 4); err != nil {
		return result{}, err
	}
	var r result
	for i := 0; i < e.cfg.reps; i++ {
		d, _, err := e.mirrorRun(ctx, catalog, prefix, 4)
		if err != nil {
			return r, err
		}
		b, _, err := e.mirrorRun(ctx, catalog, prefix, 1)
		if err != nil {
			return r, err
		}
		r.drydock, r.base = append(r.drydock, d), append(r.base, b)
	}
	r.note = fmt.Sprintf("%d entries; %s", e.mirrorEntries(), spreads(r))
	return r, nil
}

// measureMirrorDaemons alternates two private daemons against the first of
// them alone, both at --jobs 4, on an auto catalog (rebuild on BuildKit; a
// result the read-back check refuses is assembled at the registry level,
// counted in the note). The shared daemon is never used.
func measureMirrorDaemons(ctx context.Context, e *env) (result, error) {
	catalog, prefix, err := e.mirrorCatalog(ctx, build.StrategyAuto)
	if err != nil {
		return result{}, err
	}
	bk1, stop1, err := freshDaemon()
	if err != nil {
		return result{}, err
	}
	defer stop1()
	bk2, stop2, err := freshDaemon()
	if err != nil {
		return result{}, err
	}
	defer stop2()
	if _, _, err := e.mirrorRun(ctx, catalog, prefix, 4, bk1, bk2); err != nil { // warms both daemons
		return result{}, err
	}
	var r result
	engines := map[string]int{}
	for i := 0; i < e.cfg.reps; i++ {
		d, en, err := e.mirrorRun(ctx, catalog, prefix, 4, bk1, bk2)
		if err != nil {
			return r, err
		}
		b, _, err := e.mirrorRun(ctx, catalog, prefix, 4, bk1)
		if err != nil {
			return r, err
		}
		for k, v := range en {
			engines[k] += v
		}
		r.drydock, r.base = append(r.drydock, d), append(r.base, b)
	}
	r.note = fmt.Sprintf("%d entries, two daemons ran %v; %s", e.mirrorEntries(), engines, spreads(r))
	return r, nil
}

// spreads names the range of each side, so a ratio can be read with its noise.
func spreads(r result) string {
	return fmt.Sprintf("spread %s / %s", span(r.drydock), span(r.base))
}

func span(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%.2f–%.2f s", lo, hi)
}
