package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/mirror/mirrortest"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// tagWatch polls every entry's tag while mirror runs and records any tag
// that names a digest which does not verify: that must never happen.
type tagWatch struct {
	seen     atomic.Int64 // distinct entries seen tagged
	polls    atomic.Int64
	mu       sync.Mutex
	bad      []string
	verified map[string]bool // digest → verified
}

func (tw *tagWatch) poll(ctx context.Context, t *testing.T, w *mirrortest.World, prefix string, n int) {
	v, err := attest.LoadVerifier(w.Pub)
	require.NoError(t, err)
	tw.verified = map[string]bool{}
	tagged := map[string]bool{}
	for ctx.Err() == nil {
		for i := range n {
			tag, _ := name.NewTag(prefix + "/" + mirrortest.Name(i) + ":latest")
			desc, err := remote.Head(tag, remote.WithContext(ctx))
			if err != nil {
				continue // not tagged yet
			}
			tagged[tag.String()] = true
			d := tag.Context().Digest(desc.Digest.String())
			if tw.verified[d.String()] {
				continue
			}
			if _, err := attest.Verify(ctx, d, v, attest.WithAttestation(attest.PredicateSLSAProvenanceV1)); err != nil {
				if ctx.Err() != nil {
					return
				}
				tw.mu.Lock()
				tw.bad = append(tw.bad, d.String()+": "+err.Error())
				tw.mu.Unlock()
				continue
			}
			tw.verified[d.String()] = true
		}
		tw.seen.Store(int64(len(tagged)))
		tw.polls.Add(1)
	}
}

// mirrorFixtures is the fixture set the mirror tests share; each test gets
// its own mirrortest.World (prefix, key, catalog) on top of it.
var mirrorFixtures testenv.Shared[*fixtures.Set]

// mirrorWorld is a fresh mirror world on the shared fixtures.
func mirrorWorld(t *testing.T, reg string) *mirrortest.World {
	t.Helper()
	fx := mirrorFixtures.Get(t, func() (*fixtures.Set, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return fixtures.Build(ctx, reg, fmt.Sprintf("mirror-e2e-%d", time.Now().UnixNano()))
	})
	return mirrortest.NewWith(t, reg, fx)
}

// TestMirrorSIGKILL kills drydock mirror mid-run, then reruns it: every
// entry ends signed and verified, entries finished before the kill are
// skipped, and no tag ever names a digest that does not verify.
func TestMirrorSIGKILL(t *testing.T) {
	reg := testenv.Registry(t)
	w := mirrorWorld(t, reg)
	const n = 16
	w.PushUpstreams(t, 0, n, "kill")
	w.WriteCatalog(t, reg, n, build.StrategyRebase, nil)
	prefix := w.MirrorPrefix(reg)
	env := append(os.Environ(), "COSIGN_PASSWORD="+mirrortest.Password)

	ctx, cancel := context.WithCancel(context.Background())
	var watch tagWatch
	done := make(chan struct{})
	go func() { defer close(done); watch.poll(ctx, t, w, prefix, n) }()

	cmd := exec.Command(drydockBin, "mirror", w.Catalog, "--to", prefix, "--jobs", "2")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for watch.seen.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling the registry, not waiting for readiness
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	require.Error(t, err, "the first run was killed before it finished: %s", stderr.String())
	before := watch.seen.Load()
	require.GreaterOrEqual(t, before, int64(3))
	require.Less(t, before, int64(n), "killed mid-run, not after")

	r := drydock(t, []string{"COSIGN_PASSWORD=" + mirrortest.Password},
		"mirror", w.Catalog, "--to", prefix, "--jobs", "2", "--output", "json", "--summary", w.Dir+"/summary.md")
	cancel()
	<-done
	require.Equal(t, 0, r.code, "rerun: %s", r.stderr)
	var rep mirror.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.Len(t, rep.Entries, n)
	require.GreaterOrEqual(t, int64(rep.Skipped), before, "entries tagged before the kill are not done again")
	require.Equal(t, n, rep.Skipped+rep.Hardened)
	watch.mu.Lock()
	require.Empty(t, watch.bad, "a tag named a digest that does not verify")
	watch.mu.Unlock()
	require.Positive(t, watch.polls.Load())

	v, err := attest.LoadVerifier(w.Pub)
	require.NoError(t, err)
	for _, e := range rep.Entries {
		d, err := name.NewDigest(strings.Split(e.Target, ":latest")[0] + "@" + e.Hardened)
		require.NoError(t, err)
		_, err = attest.Verify(context.Background(), d, v, attest.WithSourceDigest(e.Upstream))
		require.NoError(t, err, e.Name)
	}
	md, err := os.ReadFile(w.Dir + "/summary.md")
	require.NoError(t, err)
	require.Contains(t, string(md), "| "+mirrortest.Name(0)+" | ")
	require.Contains(t, string(md), rep.Entries[0].Hardened)
	require.NotContains(t, r.stderr, "\x1b[", "plain status lines when stderr is not a terminal")
	require.Contains(t, r.stderr, mirrortest.Name(n-1)+": ")
}

func TestMirrorUsage(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/catalog.yaml"
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: drydock.dev/v1\nkind: Catalog\nservers:\n- {name: a, source: x/y, polcy: {}}\n"), 0o644))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad shard", []string{"mirror", bad, "--to", "r/p", "--shard", "5/4"}, "--shard \"5/4\""},
		{"catalog field path", []string{"mirror", bad, "--to", "r/p", "--key", "k"}, "servers[0].polcy: unknown field"},
		{"import needs a checkout", []string{"mirror", "import-metorial", dir}, "catalog/<owner>/<repo>/<id>/manifest.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := drydock(t, nil, tt.args...)
			require.Equal(t, exitError, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, r.stdout)
		})
	}
	r := drydock(t, nil, "mirror", "import-metorial", "../../build/mirror/testdata/metorial")
	require.Equal(t, 0, r.code, r.stderr)
	golden, err := os.ReadFile("../../build/mirror/testdata/metorial-catalog.golden.yaml")
	require.NoError(t, err)
	require.Equal(t, string(golden), r.stdout)
}
