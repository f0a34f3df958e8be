// Command mutate is drydock's mutation check over its security-critical
// conditions. For each target in the targets file (a file, the functions in
// it, the package and -run pattern of the tests that pin them) it makes one
// small change at a time (== and !=, < and <=, > and >=, && and ||, a
// dropped !, an if condition made constant, a removed return, append or
// call), runs the tests through go test -overlay (the tree is never
// edited), and prints every mutation the tests did not notice. It exits 1
// if any survive.
//
//	go run ./hack/mutate [-targets hack/mutate/targets.txt] [-j 1] [-pending] [-only SUBSTR] [-list]
//
// Run it from the module root (make test-mutation does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	targetsFile := flag.String("targets", "hack/mutate/targets.txt", "the targets file")
	jobs := flag.Int("j", 1, "mutations tested at once (the dev machines have 2 cores)")
	pending := flag.Bool("pending", false, "also run the targets marked pending (owned by branches not yet merged)")
	only := flag.String("only", "", "run only the targets whose file contains this string")
	list := flag.Bool("list", false, "list the mutations without running tests")
	timeout := flag.Duration("timeout", 2*time.Minute, "go test -timeout for one mutation")
	flag.Parse()

	// Ctrl-C or SIGTERM stops the go test runs and removes the temporary files.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Stdout, config{
		targetsFile: *targetsFile, jobs: max(*jobs, 1), pending: *pending,
		only: *only, list: *list, timeout: *timeout,
	})
	if errors.Is(err, errSurvivors) {
		os.Exit(1)
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
}

type config struct {
	targetsFile string
	jobs        int
	pending     bool
	only        string
	list        bool
	timeout     time.Duration
}

var errSurvivors = errors.New("mutations survived")

func run(ctx context.Context, w io.Writer, c config) error {
	f, err := os.Open(c.targetsFile)
	if err != nil {
		return fmt.Errorf("reading targets: %w", err)
	}
	targets, err := parseTargets(f, c.targetsFile)
	f.Close()
	if err != nil {
		return err
	}
	survived, checked := 0, 0
	for _, t := range targets {
		if c.only != "" && !strings.Contains(t.file, c.only) {
			continue
		}
		if !t.enabled && !c.pending {
			fmt.Fprintf(w, "pending (not run; -pending runs it): %s\n", t)
			continue
		}
		src, err := os.ReadFile(t.file)
		if err != nil {
			return fmt.Errorf("target on line %d: %w", t.line, err)
		}
		ms, err := mutants(t.file, src, t.funcs)
		if err != nil {
			return fmt.Errorf("target on line %d: %w", t.line, err)
		}
		fmt.Fprintf(w, "%s: %d mutations\n", t, len(ms))
		if c.list {
			for _, m := range ms {
				fmt.Fprintf(w, "  %s:%s\n", t.file, m)
			}
			continue
		}
		r := &runner{timeout: c.timeout}
		start := time.Now()
		res, err := r.target(ctx, t, src, ms, c.jobs)
		if err != nil {
			return err
		}
		took := time.Since(start)
		n := float64(max(len(ms), 1))
		fmt.Fprintf(w, "  %d killed, %d did not build, %d survived in %s (a mutation: %.1fs wall, %.1fs CPU)\n",
			res.killed, res.unbuildable, len(res.survivors), took.Round(time.Second), took.Seconds()/n, res.cpu.Seconds()/n)
		for _, m := range res.survivors {
			fmt.Fprintf(w, "  SURVIVED %s:%s\n", t.file, m)
		}
		if t.enabled {
			checked++
			survived += len(res.survivors)
		}
	}
	if c.list {
		return nil
	}
	fmt.Fprintf(w, "mutation check: %d survived in %d enabled targets\n", survived, checked)
	if survived > 0 {
		return errSurvivors
	}
	return nil
}
