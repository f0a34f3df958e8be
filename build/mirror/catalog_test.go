package mirror_test

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseCatalog(t *testing.T) {
	const head = "apiVersion: drydock.dev/v1\nkind: Catalog\n"
	tests := []struct {
		name, doc string
		wantErr   []string // each must appear
	}{
		{"minimal", head + "servers:\n- {name: github, source: ghcr.io/github/github-mcp-server:1.2}\n", nil},
		{"overrides", head + `servers:
- name: github
  source: ghcr.io/github/github-mcp-server:1.2
  strategy: rebase
  policy:
    network: {allow: ["api.github.com:443"]}
    env: {allow: [GITHUB_TOKEN]}
    mounts: [{target: /workspace, readOnly: true}]
    resources: {memory: 1Gi}
`, nil},
		{"unknown field with path", head + "servers:\n- {name: a, source: x/y, polcy: {}}\n", []string{"servers[0].polcy: unknown field"}},
		{"unknown policy field", head + "servers:\n- {name: a, source: x/y, policy: {network: {mode: bridge}}}\n", []string{"servers[0].policy.network.mode: unknown field"}},
		{"bad name and duplicate", head + "servers:\n- {name: GitHub, source: x/y}\n- {name: a, source: x/y}\n- {name: a, source: x/z}\n",
			[]string{"servers[0].name: \"GitHub\" must be lowercase", "servers[2].name: \"a\" is already used by servers[1]"}},
		{"bad source and strategy", head + "defaults: {strategy: magic}\nservers:\n- {name: a, source: 'UPPER/x:y:z', strategy: fast}\n",
			[]string{"defaults.strategy: \"magic\"", "servers[0].source:", "servers[0].strategy: \"fast\""}},
		{"bad override values", head + "servers:\n- {name: a, source: x/y, policy: {network: {allow: [nohost]}, env: {allow: ['1X']}, resources: {memory: 1Ki}}}\n",
			[]string{"servers[0].policy.network.allow[0]: \"nohost\" must be host:port", "servers[0].policy.env.allow[0]:", "servers[0].policy.resources.memory:"}},
		{"no servers, wrong kind", "apiVersion: drydock.dev/v1\nkind: Bases\n", []string{"apiVersion: want", "servers: the catalog lists no servers"}},
		{"keyless signing", head + "defaults: {key: leaf.key, certificate: leaf.pem, certificateChain: chain.pem}\nservers:\n- {name: a, source: x/y}\n", nil},
		{"certificate without key", head + "defaults: {certificate: leaf.pem}\nservers:\n- {name: a, source: x/y}\n",
			[]string{"defaults.certificate: needs defaults.key"}},
		{"chain without certificate", head + "defaults: {key: k, certificateChain: chain.pem}\nservers:\n- {name: a, source: x/y}\n",
			[]string{"defaults.certificateChain: needs defaults.certificate"}},
		{"args with placeholders", head + "servers:\n- {name: a, source: x/y, args: ['--token={{TOKEN}}', '--opt={{OPT?}}', stdio], upstream: {version: abc, createdAt: '2025-10-03T03:29:10.696Z', runtime: go, startCommand: ./out}, notes: [n]}\n", nil},
		{"args with stray braces", head + "servers:\n- {name: a, source: x/y, args: [ok, '--key={{KEY}}}', '{{ KEY }}']}\n",
			[]string{"servers[0].args[1]: \"--key={{KEY}}}\": has braces", "servers[0].args[2]: \"{{ KEY }}\": has braces"}},
		{"bad upstream time", head + "servers:\n- {name: a, source: x/y, upstream: {createdAt: yesterday}}\n",
			[]string{"servers[0].upstream.createdAt: \"yesterday\" is not an RFC 3339 time"}},
		{"carry and smoke calls", head + "servers:\n- {name: git, source: x/y, carry: [/usr/bin/git, ssh], smoke: {calls: [{tool: git_status, arguments: {repo_path: /tmp, n: 1}}, {tool: ping}]}}\n", nil},
		{"bad carry and smoke calls", head + "servers:\n- {name: git, source: x/y, carry: [usr/bin/git, '', /usr/../bin/git], smoke: {calls: [{arguments: {a: 1}}]}}\n",
			[]string{"servers[0].carry[0]: executable \"usr/bin/git\" is relative", "servers[0].carry[1]: empty executable", "servers[0].carry[2]: executable \"/usr/../bin/git\": write the path as /bin/git",
				"servers[0].smoke.calls[0].tool: required"}},
		{"unknown call field", head + "servers:\n- {name: git, source: x/y, smoke: {calls: [{tool: t, args: {}}]}}\n", []string{"servers[0].smoke.calls[0].args: unknown field"}},
		{"smoke calls not a list", head + "servers:\n- {name: git, source: x/y, smoke: {call: []}}\n", []string{"servers[0].smoke.call: unknown field"}},
		{"sbom format", head + "defaults: {sbomFormat: cyclonedx}\nservers:\n- {name: a, source: x/y}\n", nil},
		{"bad sbom format", head + "defaults: {sbomFormat: spdx-tag-value}\nservers:\n- {name: a, source: x/y}\n",
			[]string{`defaults.sbomFormat: SBOM format "spdx-tag-value": use one of spdx, cyclonedx`}},
		{"missing policy file", head + "defaults: {policy: nope.yaml}\nservers:\n- {name: a, source: x/y}\n", []string{"defaults.policy: reading policy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mirror.Parse([]byte(tt.doc), filepath.Join(t.TempDir(), "catalog.yaml"))
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.NotEmpty(t, c.Servers)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "catalog.yaml: ", "errors name the file")
			for _, w := range tt.wantErr {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestCatalogPolicy: overrides replace their field, the rest comes from the
// defaults' policy file.
func TestCatalogPolicy(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("resources: {memory: 256Mi, cpus: '1', pids: 64}\nenv: {allow: [DEFAULT_ENV]}\n"), 0o644))
	doc := `apiVersion: drydock.dev/v1
kind: Catalog
defaults: {policy: policy.yaml, strategy: rebase}
servers:
- {name: plain, source: x/plain}
- name: net
  source: x/net
  strategy: auto
  policy: {network: {allow: ["api.example.com:443"]}, env: {allow: [TOKEN]}, resources: {cpus: "2"}}
`
	c, err := mirror.Parse([]byte(doc), filepath.Join(dir, "catalog.yaml"))
	require.NoError(t, err)
	plain, err := c.Policy(0)
	require.NoError(t, err)
	require.Equal(t, []string{"DEFAULT_ENV"}, plain.Env.Allow)
	require.Equal(t, policies.NetworkNone, plain.Network.Mode)
	require.Equal(t, "256Mi", plain.Resources.Memory)
	net, err := c.Policy(1)
	require.NoError(t, err)
	require.Equal(t, policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.example.com:443"}}, net.Network)
	require.Equal(t, []string{"TOKEN"}, net.Env.Allow)
	require.Equal(t, policies.Resources{Memory: "256Mi", CPUs: "2", Pids: 64}, net.Resources)
	d0, _ := plain.Digest()
	d1, _ := net.Digest()
	require.NotEqual(t, d0, d1)
}

func TestShard(t *testing.T) {
	names := make([]string, 200)
	for i := range names {
		names[i] = "server-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	const n = 4
	count := map[int]int{}
	for _, name := range names {
		s := mirror.ShardOf(name, n)
		require.Equal(t, s, mirror.ShardOf(name, n), "deterministic")
		require.True(t, s >= 1 && s <= n)
		count[s]++
	}
	require.Len(t, count, n, "every shard gets entries")
	for s, k := range count {
		require.Greater(t, k, 200/n/2, "shard %d is far too small", s)
	}
	tests := []struct {
		in      string
		i, n    int
		wantErr bool
	}{{"1/1", 1, 1, false}, {"3/4", 3, 4, false}, {"0/4", 0, 0, true}, {"5/4", 0, 0, true}, {"1/0", 0, 0, true}, {"2/4x", 0, 0, true}, {"a/b", 0, 0, true}}
	for _, tt := range tests {
		i, n, err := mirror.ParseShard(tt.in)
		require.Equal(t, tt.wantErr, err != nil, tt.in)
		require.Equal(t, []int{tt.i, tt.n}, []int{i, n}, tt.in)
	}
}

type tempErr struct{}

func (tempErr) Error() string   { return "try later" }
func (tempErr) Temporary() bool { return true }

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("manifest unknown"), false},
		{tempErr{}, true},
		{errors.Join(errors.New("pushing"), tempErr{}), true},
		{fmt.Errorf("reading: %w", errors.Join(&url.Error{Op: "Get", Err: errors.New("https refused")}, tempErr{})), true},
		{build.ErrNoBuildKit, true},
		{build.ErrOutputRejected, true},
		{build.ErrNoUpstreamBase, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, mirror.Transient(tt.err), "%v", tt.err)
	}
}

func TestStatusPlain(t *testing.T) {
	var b strings.Builder
	s := mirror.NewStatus(&b, false)
	s.Event(mirror.Event{Index: 1, Total: 12, Name: "a", Phase: mirror.PhaseQueued})
	s.Event(mirror.Event{Index: 1, Total: 12, Name: "a", Phase: mirror.PhasePlanning})
	s.Event(mirror.Event{Index: 1, Total: 12, Name: "a", Phase: mirror.PhaseHardening, Detail: "rebase (registry)"})
	s.Event(mirror.Event{Index: 1, Total: 12, Name: "a", Phase: mirror.StatusFailed, Result: &mirror.EntryResult{Status: mirror.StatusFailed, Reason: "boom"}})
	require.Equal(t, "[ 1/12] a: hardening rebase (registry)\n[ 1/12] a: FAILED: boom\n", b.String(), "no escape codes when not a terminal")
}

// TestCatalogCarryAndCalls: the values reach the server as written.
func TestCatalogCarryAndCalls(t *testing.T) {
	doc := "apiVersion: drydock.dev/v1\nkind: Catalog\nservers:\n- name: git\n  source: x/y\n  carry: [/usr/bin/git]\n  smoke:\n    calls:\n    - {tool: git_status, arguments: {repo_path: /tmp}}\n"
	c, err := mirror.Parse([]byte(doc), filepath.Join(t.TempDir(), "catalog.yaml"))
	require.NoError(t, err)
	s := c.Servers[0]
	require.Equal(t, []string{"/usr/bin/git"}, s.Carry)
	require.NotNil(t, s.Smoke)
	require.Len(t, s.Smoke.Calls, 1)
	require.Equal(t, "git_status", s.Smoke.Calls[0].Tool)
	require.Equal(t, map[string]any{"repo_path": "/tmp"}, s.Smoke.Calls[0].Arguments)
}
