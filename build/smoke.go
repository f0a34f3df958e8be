package build

import (
	"context"
	"errors"

	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
)

// The start check is a seam build owns: Harden asks a SmokeFunc to start
// the upstream and the hardened image and compare their MCP answers, and
// gets a SmokeReport back. The implementation lives on the launch side
// (launch/smoke, on the same container translation as drydock run) and is
// wired in by the CLI, so building never depends on launching.

// ErrSmokeMismatch means the hardened image failed to start or answered
// differently from the upstream. A SmokeFunc wraps it (or returns an error
// that matches it with errors.Is) for that outcome.
var ErrSmokeMismatch = errors.New("smoke check failed")

// SmokeRequest is what one start check compares.
type SmokeRequest struct {
	Upstream, Hardened name.Digest
	// Policy is the runtime policy the hardened image carries; both images
	// run under its translation (without network or host mounts).
	Policy *policies.Policy
	Calls  []SmokeCall
}

// SmokeFunc compares the upstream and hardened images' MCP behaviour.
// Harden calls it after the push and refuses to sign or tag when it
// returns an error; the report goes into Result.Smoke either way.
type SmokeFunc func(ctx context.Context, req SmokeRequest) (*SmokeReport, error)

// SmokeCall is one tool call the start check makes on both images, after
// initialize and tools/list.
type SmokeCall struct {
	Tool      string         `json:"tool"`
	Arguments map[string]any `json:"arguments,omitempty"`
}

// SmokeListing is what one server answered.
type SmokeListing struct {
	Server          string   `json:"server"` // name version
	ProtocolVersion string   `json:"protocolVersion"`
	Capabilities    []string `json:"capabilities"`
	// Tools are "name hash(description, input schema)".
	Tools     []string `json:"tools"`
	Prompts   []string `json:"prompts,omitempty"`
	Resources []string `json:"resources,omitempty"`
}

// SmokeCallResult is how one call went on one image.
type SmokeCallResult struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// SmokeCallOutcome is one call's result on both images. Hardened is nil
// when the hardened image never got that far.
type SmokeCallOutcome struct {
	Tool     string           `json:"tool"`
	Upstream SmokeCallResult  `json:"upstream"`
	Hardened *SmokeCallResult `json:"hardened,omitempty"`
}

// SmokeReport is the comparison. Match is false when either image failed
// to start or the listings differ; Differences says how, one line each.
type SmokeReport struct {
	Match       bool               `json:"match"`
	Upstream    *SmokeListing      `json:"upstream,omitempty"`
	Hardened    *SmokeListing      `json:"hardened,omitempty"`
	Calls       []SmokeCallOutcome `json:"calls,omitempty"`
	Differences []string           `json:"differences,omitempty"`
}
