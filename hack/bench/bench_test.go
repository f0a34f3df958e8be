package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/testdata/testenv"
)

// TestSmoke runs every figure once so the harness cannot rot; the numbers
// are not checked (timings are not tests), only that each figure produced
// one and the table names it.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (make unit): the benchmark smoke run needs the real components; make test and CI=true run it")
	}
	reg := testenv.Registry(t)
	testenv.Docker(t)
	testenv.BuildKit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	err := run(ctx, config{reps: 1, smoke: true, registry: reg}, &out, &log)
	if err != nil {
		t.Fatalf("run() = %v\n%s", err, log.String())
	}
	for _, f := range figures() {
		if !strings.Contains(out.String(), "| "+f.name+" |") {
			t.Errorf("table has no row for %q:\n%s", f.name, out.String())
		}
	}
}
