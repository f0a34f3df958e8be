package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/stretchr/testify/require"
)

// TestCLIMessage: the library names the missing input by its option, the
// CLI by its flag, and everything around it stays as it was.
func TestCLIMessage(t *testing.T) {
	rebuild := &build.InputError{Field: "oldBase", Or: "use strategy rebase or auto", Problem: "strategy rebuild: the upstream base of r@sha256:1 was debian:12; BuildKit needs it as an image"}
	base := &build.InputError{Field: "base", Or: "add the runtime to the bases file", Problem: "no hardened base for r@sha256:1: no runtime detected"}
	tests := []struct {
		name     string
		err      error
		lib, cli string
	}{
		{"old base, wrapped", fmt.Errorf("planning r: %w", rebuild),
			"planning r: strategy rebuild: the upstream base of r@sha256:1 was debian:12; BuildKit needs it as an image; pass the upstream base image (WithOldBase), or use strategy rebase or auto",
			"planning r: strategy rebuild: the upstream base of r@sha256:1 was debian:12; BuildKit needs it as an image; pass --old-base IMAGE, or use strategy rebase or auto"},
		{"base", base,
			"no hardened base for r@sha256:1: no runtime detected; pass a hardened base image (WithBase), or add the runtime to the bases file",
			"no hardened base for r@sha256:1: no runtime detected; pass --base IMAGE, or add the runtime to the bases file"},
		{"other errors unchanged", errors.New("pass --x"), "pass --x", "pass --x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.lib, tt.err.Error())
			require.Equal(t, tt.cli, cliMessage(tt.err))
		})
	}
	require.ErrorIs(t, fmt.Errorf("x: %w", &build.InputError{Field: "oldBase", Err: build.ErrNoUpstreamBase}), build.ErrNoUpstreamBase)
}
