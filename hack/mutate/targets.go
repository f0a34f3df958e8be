package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// A target is one line of the targets file: the functions of one file whose
// conditions are mutated, and the tests that must kill every mutation.
type target struct {
	line    int
	enabled bool     // "on"; "pending" targets are listed and run only with -pending
	file    string   // relative to the module root
	funcs   []string // "Name" or "Type.Name" for methods
	pkg     string   // the package whose tests run, e.g. ./policies
	run     string   // the go test -run pattern
}

func (t target) String() string {
	return fmt.Sprintf("%s (%s) by %s -run '%s'", t.file, strings.Join(t.funcs, ","), t.pkg, t.run)
}

// parseTargets reads lines of "STATE FILE FUNCS PACKAGE RUN"; blank lines
// and lines starting with # are skipped.
func parseTargets(r io.Reader, name string) ([]target, error) {
	var out []target
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			return nil, fmt.Errorf("%s:%d: want 5 fields (state file funcs package run-pattern), got %d", name, n, len(f))
		}
		t := target{line: n, file: f[1], funcs: strings.Split(f[2], ","), pkg: f[3], run: f[4]}
		switch f[0] {
		case "on":
			t.enabled = true
		case "pending":
		default:
			return nil, fmt.Errorf("%s:%d: state %q must be on or pending", name, n, f[0])
		}
		if !strings.HasPrefix(t.pkg, "./") {
			return nil, fmt.Errorf("%s:%d: package %q must be a relative path such as ./policies", name, n, t.pkg)
		}
		if _, err := regexp.Compile(t.run); err != nil {
			return nil, fmt.Errorf("%s:%d: run pattern %q: %w", name, n, t.run, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}
