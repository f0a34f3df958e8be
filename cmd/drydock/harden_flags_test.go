package main

import (
	"encoding/json"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/stretchr/testify/require"
)

func TestParseSmokeCalls(t *testing.T) {
	tests := []struct {
		name    string
		vals    []string
		want    []build.SmokeCall
		wantErr string
	}{
		{name: "none", vals: nil, want: nil},
		{name: "tool only", vals: []string{"git_version"}, want: []build.SmokeCall{{Tool: "git_version"}}},
		{name: "tool with arguments", vals: []string{`echo={"text":"a=b","n":3}`},
			want: []build.SmokeCall{{Tool: "echo", Arguments: map[string]any{"text": "a=b", "n": json.Number("3")}}}},
		{name: "empty object", vals: []string{"list={}"}, want: []build.SmokeCall{{Tool: "list", Arguments: map[string]any{}}}},
		{name: "repeated, in order", vals: []string{"b", "a"}, want: []build.SmokeCall{{Tool: "b"}, {Tool: "a"}}},
		{name: "no tool", vals: []string{`={"a":1}`}, wantErr: `--smoke-call "={\"a\":1}": name the tool`},
		{name: "arguments not an object", vals: []string{`echo=["x"]`}, wantErr: "the arguments of echo must be one JSON object"},
		{name: "arguments null", vals: []string{`echo=null`}, wantErr: "the arguments of echo must be one JSON object"},
		{name: "arguments not JSON", vals: []string{`echo={text:x}`}, wantErr: "the arguments of echo must be one JSON object"},
		{name: "trailing value", vals: []string{`echo={} {}`}, wantErr: "the arguments of echo must be one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSmokeCalls(tt.vals)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestHardenFlagErrors: bad --carry and --smoke-call values are refused
// before anything is resolved or built.
func TestHardenFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"relative carry", []string{"--carry", "usr/bin/git"}, `--carry: executable "usr/bin/git" is relative`},
		{"unclean carry", []string{"--carry", "/usr/bin/../bin/git"}, "write the path as /usr/bin/git"},
		{"bad smoke call", []string{"--smoke-call", "echo=[1]"}, "the arguments of echo must be one JSON object"},
		{"smoke call without the check", []string{"--smoke=false", "--smoke-call", "git_version"}, "--smoke-call needs the start check, which would not run (skipped: --smoke=false)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := drydock(t, nil, append([]string{"harden", "127.0.0.1:1/nowhere:1", "--to", "127.0.0.1:1/out:1"}, tt.args...)...)
			require.Equal(t, exitError, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
		})
	}
}

// TestSmokeReport: build's report of a start check reads, in harden's JSON
// output, exactly as launch/smoke's result did.
func TestSmokeReport(t *testing.T) {
	l := &smoke.Listing{Server: "s 1", ProtocolVersion: "2025-06-18", Capabilities: []string{"tools"}, Tools: []string{"echo abc"}, Prompts: []string{"p"}, Resources: []string{"r"}}
	res := &smoke.Result{Match: false, Upstream: l, Hardened: &smoke.Listing{Server: "s 2"},
		Calls: []smoke.CallOutcome{
			{Tool: "echo", Upstream: smoke.CallResult{OK: true, Text: "hi"}, Hardened: &smoke.CallResult{Text: "boom"}},
			{Tool: "git", Upstream: smoke.CallResult{OK: true, Text: "v"}},
		},
		Differences: []string{"server: upstream \"s 1\", hardened \"s 2\""}}
	want, err := json.Marshal(res)
	require.NoError(t, err)
	got, err := json.Marshal(smokeReport(res))
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
	require.Contains(t, string(got), `"hardened":{"ok":false,"text":"boom"}`)
	require.Nil(t, smokeReport(nil))
}
