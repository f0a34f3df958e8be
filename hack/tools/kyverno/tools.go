//go:build tools

// Package tools pins the Kyverno CLI so that `go mod tidy` keeps its
// dependencies; hack/dev-env kyverno builds it with `go build`.
package tools

import _ "github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno"
