package build

import "testing"

// TestStrategyBehaviour pins what each strategy implies, written out.
func TestStrategyBehaviour(t *testing.T) {
	tests := []struct {
		s                                       Strategy
		upstreamBase, hardenedBase, removeTools bool
		engine                                  string
		registryOnly                            bool
	}{
		{"auto", false, true, true, "", false},
		{"rebuild", true, true, true, "buildkit", false},
		{"rebase", true, true, true, "registry", true},
		{"inplace", false, false, false, "buildkit", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			if got := tt.s.NeedsUpstreamBase(); got != tt.upstreamBase {
				t.Errorf("NeedsUpstreamBase() = %v, want %v", got, tt.upstreamBase)
			}
			if got := tt.s.NeedsHardenedBase(); got != tt.hardenedBase {
				t.Errorf("NeedsHardenedBase() = %v, want %v", got, tt.hardenedBase)
			}
			if got := tt.s.RemovesTools(); got != tt.removeTools {
				t.Errorf("RemovesTools() = %v, want %v", got, tt.removeTools)
			}
			if got := tt.s.Engine(); got != tt.engine {
				t.Errorf("Engine() = %q, want %q", got, tt.engine)
			}
			if got := tt.s.RegistryOnly(); got != tt.registryOnly {
				t.Errorf("RegistryOnly() = %v, want %v", got, tt.registryOnly)
			}
		})
	}
	fallback := []struct {
		s              Strategy
		forced, engine string
		want           bool
	}{
		{"auto", "", "buildkit", true},
		{"auto", "buildkit", "buildkit", false},
		{"auto", "", "registry", false},
		{"rebuild", "", "buildkit", false},
		{"inplace", "", "buildkit", false},
	}
	for _, f := range fallback {
		if got := f.s.fallsBackToRegistry(f.forced, f.engine); got != f.want {
			t.Errorf("%s.fallsBackToRegistry(%q, %q) = %v, want %v", f.s, f.forced, f.engine, got, f.want)
		}
	}
}

// TestStrategyNamesAndPin: the spellings users pass, and what a planned
// build asks for again (auto stays auto, keeping its registry fallback).
func TestStrategyNamesAndPin(t *testing.T) {
	if got := StrategyNames(); got != "auto, rebuild, inplace, rebase" {
		t.Errorf("StrategyNames() = %q", got)
	}
	for _, tt := range []struct {
		s                      Strategy
		known, decidesPerImage bool
	}{
		{"auto", true, true}, {"rebuild", true, false}, {"inplace", true, false}, {"rebase", true, false},
		{"", false, false}, {"Auto", false, false}, {"unknown", false, false},
	} {
		if got := tt.s.Known(); got != tt.known {
			t.Errorf("%q.Known() = %v, want %v", tt.s, got, tt.known)
		}
		if got := tt.s.DecidesPerImage(); got != tt.decidesPerImage {
			t.Errorf("%q.DecidesPerImage() = %v, want %v", tt.s, got, tt.decidesPerImage)
		}
	}
	for _, tt := range []struct{ requested, planned, want Strategy }{
		{"auto", "rebuild", "auto"},
		{"auto", "inplace", "auto"},
		{"rebuild", "rebuild", "rebuild"},
		{"rebase", "rebase", "rebase"},
		{"inplace", "inplace", "inplace"},
	} {
		if got := tt.requested.Pin(tt.planned); got != tt.want {
			t.Errorf("%s.Pin(%s) = %s, want %s", tt.requested, tt.planned, got, tt.want)
		}
	}
}
