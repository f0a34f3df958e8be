package testenv

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// fatalRecorder stands in for a test that calls Fatalf (which would end
// the calling goroutine).
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestSharedBuildsOnce(t *testing.T) {
	var s Shared[*int]
	var mu sync.Mutex
	builds := 0
	build := func() (*int, error) {
		mu.Lock()
		defer mu.Unlock()
		builds++
		v := 7
		return &v, nil
	}
	var wg sync.WaitGroup
	got := make([]*int, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = s.Get(t, build) }()
	}
	wg.Wait()
	if builds != 1 {
		t.Fatalf("built %d times, want 1", builds)
	}
	for _, g := range got {
		if g != got[0] || *g != 7 {
			t.Fatalf("Get = %v, want the one environment", g)
		}
	}
}

func TestSharedRemembersFailure(t *testing.T) {
	var s Shared[string]
	builds := 0
	build := func() (string, error) { builds++; return "", errors.New("registry refused the push") }
	for range 2 {
		r := &fatalRecorder{TB: t}
		s.Get(r, build)
		if want := "setting up the shared test environment: registry refused the push"; r.msg != want {
			t.Fatalf("Fatalf(%q), want %q", r.msg, want)
		}
	}
	if builds != 1 {
		t.Fatalf("built %d times, want 1 (the error is remembered)", builds)
	}
}
