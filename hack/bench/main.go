// Command bench measures drydock against the tools its users would pick
// instead, on the real components, in one process on one machine: each
// figure runs drydock and its baseline alternately, takes medians and prints
// the ratio next to the goal. Timings are not tests; `-smoke` runs every
// figure once so that the harness itself is exercised in CI.
//
//	go run ./hack/bench [-reps 7] [-smoke] [-write docs/benchmarks.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.reps, "reps", 7, "repetitions of each measurement (medians are reported)")
	flag.BoolVar(&cfg.smoke, "smoke", false, "one repetition of each figure: checks the harness, not the speed")
	flag.StringVar(&cfg.write, "write", "", "also write the results as Markdown to this file")
	flag.StringVar(&cfg.registry, "registry", envOr("DRYDOCK_TEST_REGISTRY", "127.0.0.1:5000"), "registry to push fixtures to")
	flag.StringVar(&cfg.only, "only", "", "run only figures whose id contains this")
	flag.Parse()
	if cfg.smoke {
		cfg.reps = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	reps     int
	smoke    bool
	write    string
	registry string
	only     string
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// run prepares the shared environment, measures every figure and prints
// the table. A figure that fails is reported and makes run fail, so a
// broken harness is noticed.
func run(ctx context.Context, cfg config, out, log io.Writer) error {
	env, err := prepare(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("preparing: %w", err)
	}
	defer env.close()
	var results []result
	var failed []string
	for _, f := range figures() {
		if cfg.only != "" && !strings.Contains(f.id, cfg.only) {
			continue
		}
		fmt.Fprintf(log, "bench: %s ...\n", f.name)
		r, err := f.measure(ctx, env)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", f.id, err))
			fmt.Fprintf(log, "bench: %s failed: %v\n", f.id, err)
			continue
		}
		r.figure = f
		results = append(results, r)
	}
	table := render(results, env.machine())
	fmt.Fprint(out, table)
	if cfg.write != "" {
		if err := writeFile(cfg.write, table); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d figure(s) failed: %v", len(failed), failed)
	}
	return nil
}

// writeFile writes via a temp file and rename: no partial file on failure.
func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
