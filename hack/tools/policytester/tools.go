//go:build tools

// Package tools pins policy-controller's cmd/tester so that `go mod tidy`
// keeps its dependencies; hack/dev-env builds it with `go build`.
package tools

import _ "github.com/sigstore/policy-controller/cmd/tester"
