// Package mirror hardens, signs and attests a whole catalog of upstream MCP
// images under one prefix: idempotent (an entry whose target verifies with
// the same inputs is skipped), concurrent over several BuildKit daemons,
// shardable for CI matrices, and safe to kill and rerun, because build.Harden
// moves a tag only after the digest is signed and attested.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/startcmd"
	"github.com/drydock-dev/drydock/rebase"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrFailed means at least one entry failed; the others were still done.
var ErrFailed = errors.New("mirror entries failed")

// Entry statuses.
const (
	StatusHardened = "hardened"
	StatusSkipped  = "skipped"
	StatusFailed   = "failed"
)

// Phases an entry goes through, as reported by events.
const (
	PhaseQueued    = "queued"
	PhasePlanning  = "planning"
	PhaseChecking  = "checking target"
	PhaseHardening = "hardening"
	PhaseSigning   = "signing"
	PhaseRetrying  = "retrying"
)

// Event is one change of an entry's phase. Result is set when the entry is
// finished (Phase is then its status).
type Event struct {
	Index, Total int // position among the selected entries, 1-based
	Name         string
	Phase        string
	Detail       string
	Result       *EntryResult
}

// EntryResult is what happened to one catalog entry.
type EntryResult struct {
	Name     string         `json:"name"`
	Source   string         `json:"source"`
	Target   string         `json:"target"`
	Status   string         `json:"status"`
	Upstream string         `json:"upstreamDigest,omitempty"`
	Hardened string         `json:"hardenedDigest,omitempty"`
	Strategy build.Strategy `json:"strategy,omitempty"`
	Engine   string         `json:"engine,omitempty"`
	BuildKit string         `json:"buildkit,omitempty"`
	// Smoke is passed, failed or "not run".
	Smoke    string  `json:"smoke"`
	Seconds  float64 `json:"durationSeconds"`
	Reason   string  `json:"reason,omitempty"` // why skipped, re-done or failed
	Attempts int     `json:"attempts"`
	// Packages is the hardened image's package count and Findings its
	// unsuppressed findings per severity, when a vulnerability gate ran;
	// Suppressed counts the findings VEX statements suppressed.
	Packages   int            `json:"packages,omitempty"`
	Findings   map[string]int `json:"findings,omitempty"`
	Suppressed int            `json:"suppressed,omitempty"`
	// Err is the failure, for callers that branch on it with errors.Is.
	Err error `json:"-"`
}

// Report is the outcome of a Run.
type Report struct {
	Prefix   string        `json:"prefix"`
	Shard    string        `json:"shard"`
	Jobs     int           `json:"jobs"`
	Catalog  int           `json:"catalogEntries"`
	Entries  []EntryResult `json:"entries"`
	Hardened int           `json:"hardened"`
	Skipped  int           `json:"skipped"`
	Failed   int           `json:"failed"`
	Seconds  float64       `json:"durationSeconds"`
	// SmokeSkipped says why no entry was start-checked ("" when they were).
	SmokeSkipped string `json:"smokeSkipped,omitempty"`
}

// Run mirrors the catalog's servers (those of this shard) under prefix:
// each is planned, skipped when its target already verifies with the same
// upstream, base, policy and strategy, and otherwise hardened, signed,
// attested and tagged. One entry's failure never stops the others; Run
// returns the report and, when any entry failed, an error wrapping
// ErrFailed.
func Run(ctx context.Context, c *Catalog, prefix string, opts ...Option) (*Report, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	if _, err := name.NewRepository(prefix + "/x"); err != nil {
		return nil, fmt.Errorf("mirror prefix %q: %w; give a registry and path, e.g. registry.internal/mcp", prefix, err)
	}
	if c.Defaults.Smoke && o.smoke == nil && o.noSmoke == "" {
		// build never starts containers itself (the start check is launch's).
		return nil, errors.New("the catalog sets defaults.smoke but no start check was given; pass one with mirror.WithSmoke (drydock mirror does), or WithoutSmoke")
	}
	if o.remote, err = shareTransports(o.remote); err != nil {
		return nil, err
	}
	sel := o.selected(c)
	start := time.Now()
	rep := &Report{Prefix: prefix, Shard: fmt.Sprintf("%d/%d", o.shard, o.count), Jobs: o.jobs, Catalog: len(c.Servers),
		Entries: make([]EntryResult, len(sel)), SmokeSkipped: o.noSmoke}
	m := &mirror{o: o, c: c, prefix: prefix, hosts: newPool(o.addrs), index: startcmd.NewLayerIndex(startcmd.KeepAtMost(indexBytes))}
	if m.spool, err = rebase.NewSpool(spoolBytes); err == nil { // else each harden has its own
		defer m.spool.Close()
	}
	for k, i := range sel {
		m.emit(Event{Index: k + 1, Total: len(sel), Name: c.Servers[i].Name, Phase: PhaseQueued})
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(o.jobs, max(len(sel), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				e := &entry{m: m, index: k + 1, total: len(sel), server: c.Servers[sel[k]], pos: sel[k]}
				rep.Entries[k] = e.run(ctx)
			}
		}()
	}
	for k := range sel {
		work <- k
	}
	close(work)
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	for _, r := range rep.Entries {
		switch r.Status {
		case StatusHardened:
			rep.Hardened++
		case StatusSkipped:
			rep.Skipped++
		default:
			rep.Failed++
		}
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("%w: %d of %d failed (the others were mirrored; rerun to retry only what is missing)", ErrFailed, rep.Failed, len(sel))
	}
	return rep, nil
}

// shareTransports makes every registry call of the run, from every worker,
// go through one puller and one pusher: a registry is pinged and a token
// fetched once per repository and scope for the whole run. Without them
// each remote call pinged again (about 15 pings per entry, each a round
// trip over http and https, and the cost that grew most under --jobs).
//
// Under them sits the run's read cache (rebase.NewReadCache). It goes first, so a
// transport given with WithRemoteOptions replaces it (and is used as is).
func shareTransports(ro []remote.Option) ([]remote.Option, error) {
	ro = append([]remote.Option{remote.WithTransport(rebase.NewReadCache(remote.DefaultTransport))}, ro...)
	pl, err := remote.NewPuller(ro...)
	if err != nil {
		return nil, fmt.Errorf("setting up registry access: %w", err)
	}
	ps, err := remote.NewPusher(ro...)
	if err != nil {
		return nil, fmt.Errorf("setting up registry access: %w", err)
	}
	return append(ro, remote.Reuse(pl), remote.Reuse(ps)), nil
}

// selected lists the catalog indexes of this shard, in catalog order.
func (o *options) selected(c *Catalog) []int {
	var out []int
	for i, s := range c.Servers {
		if ShardOf(s.Name, o.count) == o.shard {
			out = append(out, i)
		}
	}
	return out
}

// ShardOf is the 1-based shard of n an entry name belongs to (FNV-1a of the
// name): stable when other entries are added or removed.
func ShardOf(name string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%uint32(n)) + 1
}

// mirror is the state shared by the workers of one Run.
type mirror struct {
	o      *options
	c      *Catalog
	prefix string
	hosts  *pool
	// index keeps what the start command's views read of each layer for
	// the whole run: every entry reads the same bases (and variants of one
	// image the same app layers), and inflating them was most of an
	// entry's CPU.
	index *startcmd.LayerIndex
	// spool keeps the layers inflated for the run, for the same reason
	// (the hardening pass and the SBOM read them whole).
	spool *rebase.Spool
	mu    sync.Mutex // serialises events
}

// indexBytes bounds the run's layer index (headers and the few bytes of
// each file the start command reads), spoolBytes its spool (temporary
// disk space).
const (
	indexBytes = 128 << 20
	spoolBytes = 2 << 30
)

func (m *mirror) emit(ev Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.o.events(ev)
}
