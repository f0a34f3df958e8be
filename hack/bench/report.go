package main

import (
	"fmt"
	"slices"
	"strings"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// verdict says whether a figure meets its goal and by how much it misses.
func verdict(r result) (ratio float64, met string) {
	d := median(r.drydock)
	switch {
	case r.maxRatio > 0:
		b := median(r.base)
		if b == 0 {
			return 0, "n/a"
		}
		ratio = d / b
		if ratio <= r.maxRatio {
			return ratio, "yes"
		}
		return ratio, fmt.Sprintf("no (+%.0f%%)", (ratio/r.maxRatio-1)*100)
	case r.maxAbs > 0:
		if d <= r.maxAbs {
			return 0, "yes"
		}
		return 0, fmt.Sprintf("no (+%.0f%%)", (d/r.maxAbs-1)*100)
	}
	return 0, "n/a"
}

func render(results []result, machine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# drydock benchmarks\n\nMachine: %s. Medians of %s; drydock and its baseline alternate in one process.\n\n", machine, reps(results))
	b.WriteString("| figure | drydock | baseline | ratio | goal | met | baseline is |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		ratio, met := verdict(r)
		base, rs := "—", "—"
		if len(r.base) > 0 {
			base = format(median(r.base), r.unit)
			rs = fmt.Sprintf("%.2f×", ratio)
		}
		what := r.baseline
		if what == "" {
			what = "—"
		}
		if r.note != "" {
			what += " (" + r.note + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.name, format(median(r.drydock), r.unit), base, rs, r.goal, met, what)
	}
	b.WriteString("\nRerun: `make bench` (write this file: `make bench BENCH_WRITE=1`).\n")
	return b.String()
}

func reps(results []result) string {
	n := 0
	for _, r := range results {
		n = max(n, len(r.drydock))
	}
	return fmt.Sprintf("up to %d runs", n)
}

func format(v float64, unit string) string {
	if unit == "MB" {
		return fmt.Sprintf("%.1f MB", v)
	}
	return fmt.Sprintf("%.3f s", v)
}
