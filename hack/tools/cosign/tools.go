//go:build tools

// Package tools pins the real cosign CLI that drydock's interoperability
// tests run against, at the cosign version drydock links (go.mod). Building
// inside this module (rather than `go install pkg@version`) keeps the
// version in one reviewed go.mod/go.sum and away from the main module's
// dependency graph, which must never contain cosign's CLI packages.
package tools

import (
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
)
