package smoke

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// maxResultText bounds the text of a call's result kept in a Result and in
// messages: enough to read an error, not a dump of the tool's output.
const maxResultText = 200

// Call is one tool call the start check makes on both images, after
// initialize and tools/list.
type Call struct {
	Tool      string         `json:"tool"`
	Arguments map[string]any `json:"arguments,omitempty"`
}

// CallResult is how one call went on one image. OK means no JSON-RPC error
// and isError false; Text is the result's text content, or the error,
// truncated.
type CallResult struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// CallOutcome is one call's result on both images. Hardened is nil when
// the hardened image never got that far.
type CallOutcome struct {
	Tool     string      `json:"tool"`
	Upstream CallResult  `json:"upstream"`
	Hardened *CallResult `json:"hardened,omitempty"`
}

// WithCalls makes these tool calls on both images after the listings. A
// call that succeeds on the upstream must succeed on the hardened image;
// one that fails on the upstream is recorded and not compared. Default:
// none.
func WithCalls(calls ...Call) Option { return func(o *options) { o.calls = calls } }

// checkCalls refuses calls that name no tool, or a tool the upstream does
// not list: the check asked for could not be made.
func checkCalls(calls []Call, up *Listing) error {
	var errs []error
	for i, c := range calls {
		if c.Tool == "" {
			errs = append(errs, fmt.Errorf("call %d names no tool", i+1))
			continue
		}
		listed := slices.ContainsFunc(up.Tools, func(t string) bool { return strings.HasPrefix(t, c.Tool+" ") })
		if !listed {
			errs = append(errs, fmt.Errorf("call %d: the upstream lists no tool %q (it has %s)", i+1, c.Tool, toolNames(up.Tools)))
		}
	}
	return errors.Join(errs...)
}

func toolNames(tools []string) string {
	var names []string
	for _, t := range tools {
		n, _, _ := strings.Cut(t, " ")
		names = append(names, n)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// call makes each call on s, in order.
func call(ctx context.Context, s *mcp.ClientSession, calls []Call) []CallResult {
	out := make([]CallResult, 0, len(calls))
	for _, c := range calls {
		res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: c.Tool, Arguments: c.Arguments})
		switch {
		case err != nil:
			out = append(out, CallResult{Text: truncate(err.Error())})
		default:
			out = append(out, CallResult{OK: !res.IsError, Text: truncate(text(res))})
		}
	}
	return out
}

// text is a call result's text content (its other content named by type).
func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		} else {
			parts = append(parts, fmt.Sprintf("[%T]", c))
		}
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

func truncate(s string) string {
	if len(s) <= maxResultText {
		return s
	}
	cut := maxResultText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// compareCalls pairs the results and lists every call that works on the
// upstream and not on the hardened image.
func compareCalls(calls []Call, up, hard []CallResult) ([]CallOutcome, []string) {
	var outs []CallOutcome
	var diffs []string
	for i, c := range calls {
		o := CallOutcome{Tool: c.Tool}
		if i < len(up) {
			o.Upstream = up[i]
		}
		if i < len(hard) {
			h := hard[i]
			o.Hardened = &h
		}
		if o.Upstream.OK && (o.Hardened == nil || !o.Hardened.OK) {
			got := "no answer"
			if o.Hardened != nil {
				got = fmt.Sprintf("%q", o.Hardened.Text)
			}
			diffs = append(diffs, fmt.Sprintf("tool %s: works on the upstream (%q) but fails on the hardened image (%s)", c.Tool, o.Upstream.Text, got))
		}
		outs = append(outs, o)
	}
	return outs, diffs
}
