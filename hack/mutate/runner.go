package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// runner runs a target's tests once unchanged and then once per mutation.
type runner struct {
	timeout time.Duration
}

type result struct {
	killed, unbuildable int
	survivors           []mutant
	cpu                 time.Duration // user+system time of every go test run, children included
}

type outcome int

const (
	passed outcome = iota
	failed
	unbuildable
)

func (r *runner) target(ctx context.Context, t target, src []byte, ms []mutant, jobs int) (*result, error) {
	abs, err := filepath.Abs(t.file)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drydock-mutate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// The tests must pass on the real code, and must exist: a -run pattern
	// that matches nothing would let every mutation survive.
	out, oc, _, err := r.goTest(ctx, t, "")
	if err != nil {
		return nil, err
	}
	if oc != passed {
		return nil, fmt.Errorf("target on line %d: the tests fail without any mutation; fix them first:\n%s", t.line, out)
	}
	if strings.Contains(out, "[no tests to run]") {
		return nil, fmt.Errorf("target on line %d: -run '%s' matches no test in %s", t.line, t.run, t.pkg)
	}

	res := &result{}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	outcomes := make([]outcome, len(ms))
	for i, m := range ms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			oc, cpu, err := r.mutant(ctx, t, abs, dir, i, m.apply(src))
			mu.Lock()
			defer mu.Unlock()
			res.cpu += cpu
			if err != nil && firstErr == nil {
				firstErr = err
			}
			outcomes[i] = oc
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for i, oc := range outcomes {
		switch oc {
		case failed:
			res.killed++
		case unbuildable:
			res.unbuildable++
		case passed:
			res.survivors = append(res.survivors, ms[i])
		}
	}
	return res, nil
}

// mutant writes the mutated file and an overlay that puts it in place of
// the real one, then runs the target's tests with it.
func (r *runner) mutant(ctx context.Context, t target, abs, dir string, i int, mutated []byte) (outcome, time.Duration, error) {
	file := filepath.Join(dir, fmt.Sprintf("m%d_%s", i, filepath.Base(abs)))
	if err := os.WriteFile(file, mutated, 0o600); err != nil {
		return 0, 0, err
	}
	ov, err := json.Marshal(map[string]map[string]string{"Replace": {abs: file}})
	if err != nil {
		return 0, 0, err
	}
	overlay := filepath.Join(dir, fmt.Sprintf("m%d.json", i))
	if err := os.WriteFile(overlay, ov, 0o600); err != nil {
		return 0, 0, err
	}
	_, oc, cpu, err := r.goTest(ctx, t, overlay)
	return oc, cpu, err
}

// goTest runs the target's tests. vet is off: a mutation that trips a vet
// check has not been caught by a test.
func (r *runner) goTest(ctx context.Context, t target, overlay string) (string, outcome, time.Duration, error) {
	args := []string{"test", "-count=1", "-vet=off", "-timeout", r.timeout.String(), "-run", t.run}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, t.pkg)
	// Compiling can take a while on a busy machine; the test binary
	// itself stops at -timeout.
	ctx, cancel := context.WithTimeout(ctx, r.timeout+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := buf.String()
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	if ctx.Err() != nil {
		return out, 0, cpu, fmt.Errorf("go %s: %w", strings.Join(args, " "), ctx.Err())
	}
	if err == nil {
		return out, passed, cpu, nil
	}
	if _, ok := err.(*exec.ExitError); !ok {
		return out, 0, cpu, fmt.Errorf("running go test: %w", err)
	}
	if strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]") {
		return out, unbuildable, cpu, nil
	}
	return out, failed, cpu, nil
}
