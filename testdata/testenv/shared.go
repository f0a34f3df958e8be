package testenv

import (
	"sync"
	"testing"
)

// Shared is an environment that a package's tests build once and share
// (fixture images pushed to the registry, a signing key): the zero value
// is ready, declared beside the tests. Check the components first
// (Registry, Docker, BuildKit), so that their absence skips or fails each
// test by the package's rules, then call Get.
type Shared[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
	err  error
}

// Get returns the environment, building it with build on first use; the
// tests that ask meanwhile wait for it. A build error is remembered: every
// later test fails at once with it instead of building again.
func (s *Shared[T]) Get(t testing.TB, build func() (T, error)) T {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.v, s.err = build()
		s.done = true
	}
	if s.err != nil {
		t.Fatalf("setting up the shared test environment: %v", s.err)
	}
	return s.v
}
