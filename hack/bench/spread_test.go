package main

import "testing"

func TestPercentileAndSpread(t *testing.T) {
	xs := []float64{0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.4, 0.6, 0.8, 1.0}
	tests := []struct {
		p    float64
		want float64
	}{{10, 0.1}, {50, 0.5}, {90, 0.9}, {100, 1.0}, {0, 0.1}}
	for _, tt := range tests {
		if got := percentile(xs, tt.p); got != tt.want {
			t.Errorf("percentile(xs, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil, 50) = %v, want 0", got)
	}
	if got, want := spread(xs), "0.100–0.900 s"; got != want {
		t.Errorf("spread() = %q, want %q", got, want)
	}
	if got, want := ratioSpread([]float64{1, 2, 3}, []float64{1, 1, 2}), "1.00–2.00×"; got != want {
		t.Errorf("ratioSpread() = %q, want %q", got, want)
	}
}
