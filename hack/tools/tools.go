//go:build tools

// Package tools pins the daemons and CLIs the dev environment builds from
// the Go module proxy. buildkit's go.mod carries exclude directives, so
// `go install pkg@version` refuses it; building inside this module works.
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
