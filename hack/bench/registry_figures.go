package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// craneBinary is crane at the go-containerregistry version in go.mod,
// installed from the module proxy into the drydock cache.
func craneBinary(ctx context.Context, e *env) (string, error) {
	out, err := e.cmd(ctx, "go", "list", "-m", "-f", "{{.Version}}", "github.com/google/go-containerregistry")
	if err != nil {
		return "", err
	}
	version := strings.TrimSpace(out)
	dir, err := cacheDir("crane-" + version)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "crane")
	if _, err := exec.LookPath(bin); err == nil {
		return bin, nil
	}
	c := exec.CommandContext(ctx, "go", "install", "github.com/google/go-containerregistry/cmd/crane@"+version)
	c.Env = append(e.envv, "GOBIN="+dir, "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing crane %s: %w\n%s", version, err, out)
	}
	return bin, nil
}

// measureRebase: drydock's registry-level rebase (app layers onto the
// hardened base, hardening layer, label, config) against crane rebase then
// crane mutate --label, which does less.
func measureRebase(ctx context.Context, e *env) (result, error) { return rebaseFigure(ctx, e, false) }

// measureRebaseCold gives every drydock run an empty layer cache: the cost
// of a layer drydock has never read.
func measureRebaseCold(ctx context.Context, e *env) (result, error) {
	return rebaseFigure(ctx, e, true)
}

func rebaseFigure(ctx context.Context, e *env, coldCache bool) (result, error) {
	crane, err := craneBinary(ctx, e)
	if err != nil {
		return result{}, err
	}
	label, err := policies.Default().Encode()
	if err != nil {
		return result{}, err
	}
	old := e.fx.UpstreamBase
	var r result
	for i := 0; i < e.cfg.reps; i++ {
		dst := e.repo(fmt.Sprintf("rebase/drydock-%t-%d", coldCache, i)) + ":1"
		// --smoke=false: the start check (on by default when an engine
		// answers) starts two containers, which crane does not; it made
		// this figure measure container starts.
		args := []string{"harden", e.fx.UpstreamTag, "--to", dst, "--base", e.fx.HardenedBase,
			"--old-base", old, "--strategy", "rebase", "--progress", "quiet", "--smoke=false"}
		var d time.Duration
		var err error
		if coldCache {
			d, err = e.timedEnv(ctx, []string{"XDG_CACHE_HOME=" + filepath.Join(e.dir, fmt.Sprintf("cache-%d", i))}, e.drydock, args...)
		} else {
			d, err = e.timed(ctx, e.drydock, args...)
		}
		if err != nil {
			return r, err
		}
		tag := e.repo(fmt.Sprintf("rebase/crane-%t-%d", coldCache, i)) + ":1"
		start := time.Now()
		if _, err := e.cmd(ctx, crane, "rebase", e.fx.Upstream, "--old_base", old, "--new_base", e.fx.HardenedBase, "-t", tag); err != nil {
			return r, err
		}
		if _, err := e.cmd(ctx, crane, "mutate", tag, "--label", policies.LabelKey+"="+label, "-t", tag); err != nil {
			return r, err
		}
		r.drydock, r.base = append(r.drydock, d.Seconds()), append(r.base, time.Since(start).Seconds())
	}
	r.note = fmt.Sprintf("%d alternating runs; p10–p90 drydock %s, crane %s; per-run ratio p10–p90 %s",
		len(r.drydock), spread(r.drydock), spread(r.base), ratioSpread(r.drydock, r.base))
	return r, nil
}

// measureRSS hardens a large image with the rebase strategy and reads the
// process's peak resident set from the kernel (getrusage via wait4).
func measureRSS(ctx context.Context, e *env) (result, error) {
	size := int64(1) << 30
	if e.cfg.smoke {
		size = 32 << 20 // exercise the path, not the machine
	}
	up, err := e.bigImage(ctx, size)
	if err != nil {
		return result{}, err
	}
	var r result
	for i := 0; i < max(1, e.cfg.reps/3); i++ {
		c := exec.CommandContext(ctx, e.drydock, "harden", up, "--to", e.repo(fmt.Sprintf("big/out-%d", i))+":1",
			"--base", e.fx.HardenedBase, "--strategy", "rebase", "--progress", "quiet", "--smoke=false")
		// An empty layer cache: the whole image is read, as on first sight.
		c.Env = append(append([]string(nil), e.envv...), "XDG_CACHE_HOME="+filepath.Join(e.dir, fmt.Sprintf("rss-cache-%d", i)))
		if out, err := c.CombinedOutput(); err != nil {
			return r, fmt.Errorf("harden of the %d MB image: %w\n%s", size>>20, err, tail(string(out), 1500))
		}
		ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return r, fmt.Errorf("no rusage on this platform")
		}
		r.drydock = append(r.drydock, float64(ru.Maxrss)*1024/1e6) // Maxrss is in KiB on Linux
	}
	r.note = fmt.Sprintf("image of %d MB", size>>20)
	return r, nil
}

// bigImage pushes (once per size) the echo fixture plus one app layer of
// incompressible data, with base annotations so rebase applies.
func (e *env) bigImage(ctx context.Context, size int64) (string, error) {
	ref, err := name.ParseReference(fmt.Sprintf("%s/bench-fixtures/big:%d", e.cfg.registry, size>>20))
	if err != nil {
		return "", err
	}
	ro := []remote.Option{remote.WithContext(ctx)}
	upRef, err := name.ParseReference(e.fx.Upstream)
	if err != nil {
		return "", err
	}
	up, err := remote.Image(upRef, ro...)
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return bigTar(size), nil
	}, tarball.WithCompressionLevel(1))
	if err != nil {
		return "", err
	}
	img, err := mutate.Append(up, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "bench: big app data"}})
	if err != nil {
		return "", err
	}
	m, err := up.Manifest()
	if err != nil {
		return "", err
	}
	img = mutate.Annotations(img, m.Annotations).(v1.Image)
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	pinned := ref.Context().Digest(d.String())
	if _, err := remote.Head(pinned, ro...); err == nil {
		return pinned.String(), nil // pushed by an earlier run
	}
	fmt.Fprintf(e.log, "bench: pushing a %d MB image (once)\n", size>>20)
	if err := remote.Write(ref, img, ro...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	return pinned.String(), nil
}

// bigTar is a tar stream with one file of seeded pseudo-random bytes: the
// same bytes every time (so the digest is stable), and incompressible.
func bigTar(size int64) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tw := newTarWriter(pw)
		err := tw.file("app/data.bin", size, rand.NewChaCha8([32]byte{1}))
		pw.CloseWithError(err)
	}()
	return pr
}
