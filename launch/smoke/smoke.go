// Package smoke checks that a hardened MCP server image still behaves like
// its upstream: it starts both images under the translation of the policy
// (policies.Translate; network mode none) through the engine code drydock run
// uses (launch.StartSandboxed), runs MCP initialize, tools/list and, where the server
// offers them, prompts/list and resources/list with the go-sdk client, then
// the tool calls asked for (WithCalls), and compares the answers.
package smoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ErrMismatch means the hardened image failed to start or answered
// differently from the upstream.
var ErrMismatch = errors.New("smoke check failed")

// Listing is what one server answered.
type Listing struct {
	Server          string   `json:"server"` // name version
	ProtocolVersion string   `json:"protocolVersion"`
	Capabilities    []string `json:"capabilities"`
	// Tools are "name sha256(description, input schema)" so a changed
	// schema shows as a difference without dumping it.
	Tools     []string `json:"tools"`
	Prompts   []string `json:"prompts,omitempty"`
	Resources []string `json:"resources,omitempty"`
}

// Result is the comparison. Match is false when either image failed to
// start or the listings differ; Differences says how, one line each.
type Result struct {
	Match    bool     `json:"match"`
	Upstream *Listing `json:"upstream,omitempty"`
	Hardened *Listing `json:"hardened,omitempty"`
	// Calls are the tool calls made (WithCalls) and how each went.
	Calls       []CallOutcome `json:"calls,omitempty"`
	Differences []string      `json:"differences,omitempty"`
}

// Option configures Compare.
type Option func(*options)

type options struct {
	start   Starter
	engine  launch.Docker
	policy  *policies.Policy
	timeout time.Duration
	args    []string
	calls   []Call
	// done releases what makeOptions opened (the default engine client).
	done func()
}

// Process is a started server: its stdin and stdout, and Stop, which ends
// it (Compare calls Stop once it is done with the server).
type Process struct {
	Stdin  io.WriteCloser
	Stdout io.ReadCloser
	Stop   func()
}

// Starter starts image under spec with args, writing the server's stderr
// to stderr. Compare uses it for both images.
type Starter func(ctx context.Context, image string, spec policies.ContainerSpec, args []string, stderr io.Writer) (*Process, error)

// WithEngine sets the container engine the default Starter uses. Default:
// the engine named by the environment (DOCKER_HOST).
func WithEngine(d launch.Docker) Option { return func(o *options) { o.engine = d } }

// WithStarter replaces how servers are started (tests start processes).
// Default: launch.StartSandboxed on the engine (WithEngine).
func WithStarter(s Starter) Option { return func(o *options) { o.start = s } }

// WithPolicy sets the policy whose translation both images run under, with
// network mode none and no host mounts; the upstream keeps its own user.
// Default: policies.Default().
func WithPolicy(p *policies.Policy) Option { return func(o *options) { o.policy = p } }

// WithTimeout bounds each server's start and listing. Default: 90s.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithArgs passes arguments to both servers (after the image). Default: none.
func WithArgs(args ...string) Option { return func(o *options) { o.args = args } }

func makeOptions(opts []Option) (*options, error) {
	o := &options{timeout: 90 * time.Second, policy: policies.Default(), done: func() {}}
	for _, opt := range opts {
		opt(o)
	}
	if o.start == nil {
		if o.engine == nil {
			c, err := launch.NewDockerClient()
			if err != nil {
				return nil, err
			}
			o.engine, o.done = c, func() { _ = c.Close() }
		}
		o.start = engineStarter(o.engine)
	}
	return o, nil
}

// engineStarter starts servers as run does (launch.StartSandboxed): image
// must be a digest reference, as Harden's are.
func engineStarter(d launch.Docker) Starter {
	return func(ctx context.Context, image string, spec policies.ContainerSpec, args []string, stderr io.Writer) (*Process, error) {
		ref, err := name.NewDigest(image)
		if err != nil {
			return nil, fmt.Errorf("start check of %s: %w; give the image by digest", image, err)
		}
		s, err := launch.StartSandboxed(ctx, d, ref, spec, args, stderr)
		if err != nil {
			return nil, err
		}
		return &Process{Stdin: s.Stdin, Stdout: s.Stdout, Stop: s.Remove}, nil
	}
}

// sandboxes are the specs the two images run under: the policy's
// translation with network mode none and no host mounts (a start check has
// neither an egress proxy nor the user's directories). The upstream keeps
// its image's user: it is checked as published.
func sandboxes(p *policies.Policy) (upstream, hardened policies.ContainerSpec, err error) {
	q := *p
	q.Network = policies.Network{Mode: policies.NetworkNone}
	q.Mounts = nil
	hardened, err = policies.Translate(&q)
	if err != nil {
		return upstream, hardened, fmt.Errorf("smoke: translating the policy: %w", err)
	}
	upstream = hardened
	upstream.User = ""
	return upstream, hardened, nil
}

// Compare runs both images and compares their MCP listings and the results
// of the calls asked for. It returns an error wrapping ErrMismatch (with the
// Result filled in) when they differ, a call that works on the upstream
// fails on the hardened image, or the hardened one does not start, and a
// plain error when the upstream itself cannot be listed or lacks a tool a
// call names (nothing to compare against).
func Compare(ctx context.Context, upstream, hardened string, opts ...Option) (*Result, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	defer o.done()
	upSpec, hardSpec, err := sandboxes(o.policy)
	if err != nil {
		return nil, err
	}
	up, upCalls, err := list(ctx, upstream, upSpec, o)
	if err != nil {
		return nil, fmt.Errorf("smoke: listing upstream %s: %w", upstream, err)
	}
	if err := checkCalls(o.calls, up); err != nil {
		return nil, fmt.Errorf("smoke: upstream %s: %w; fix the smoke calls", upstream, err)
	}
	res := &Result{Upstream: up}
	hard, hardCalls, err := list(ctx, hardened, hardSpec, o)
	if err != nil {
		res.Calls, _ = compareCalls(o.calls, upCalls, nil)
		res.Differences = []string{fmt.Sprintf("hardened image did not answer: %v", err)}
		return res, fmt.Errorf("%w: hardened %s did not answer MCP: %w", ErrMismatch, hardened, err)
	}
	res.Hardened = hard
	res.Differences = Diff(up, hard)
	calls, diffs := compareCalls(o.calls, upCalls, hardCalls)
	res.Calls, res.Differences = calls, append(res.Differences, diffs...)
	res.Match = len(res.Differences) == 0
	if !res.Match {
		return res, fmt.Errorf("%w: hardened %s differs from upstream %s: %s", ErrMismatch, hardened, upstream, strings.Join(res.Differences, "; "))
	}
	return res, nil
}

// Diff lists the differences between two listings.
func Diff(a, b *Listing) []string {
	var out []string
	if a.Server != b.Server {
		out = append(out, fmt.Sprintf("server: upstream %q, hardened %q", a.Server, b.Server))
	}
	if a.ProtocolVersion != b.ProtocolVersion {
		out = append(out, fmt.Sprintf("protocol version: upstream %s, hardened %s", a.ProtocolVersion, b.ProtocolVersion))
	}
	for _, l := range []struct {
		what string
		a, b []string
	}{{"capability", a.Capabilities, b.Capabilities}, {"tool", a.Tools, b.Tools}, {"prompt", a.Prompts, b.Prompts}, {"resource", a.Resources, b.Resources}} {
		for _, x := range l.a {
			if !slices.Contains(l.b, x) {
				out = append(out, fmt.Sprintf("%s %s: missing from hardened", l.what, x))
			}
		}
		for _, x := range l.b {
			if !slices.Contains(l.a, x) {
				out = append(out, fmt.Sprintf("%s %s: only in hardened", l.what, x))
			}
		}
	}
	return out
}

// list starts image under spec, reads its listings and makes the calls.
func list(ctx context.Context, image string, spec policies.ContainerSpec, o *options) (*Listing, []CallResult, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	stderr := &limited{n: 4096}
	p, err := o.start(ctx, image, spec, o.args, stderr)
	if err != nil {
		return nil, nil, err
	}
	// A server that ignores EOF on stdin must not outlive the check.
	defer p.Stop()
	c := mcp.NewClient(&mcp.Implementation{Name: "drydock-smoke", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.IOTransport{Reader: p.Stdout, Writer: p.Stdin}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("initialize: %w (stderr: %s)", err, stderr.String())
	}
	defer s.Close()
	l, err := listing(ctx, s)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (stderr: %s)", err, stderr.String())
	}
	return l, call(ctx, s, o.calls), nil
}

func listing(ctx context.Context, s *mcp.ClientSession) (*Listing, error) {
	init := s.InitializeResult()
	l := &Listing{ProtocolVersion: init.ProtocolVersion, Tools: []string{}}
	if init.ServerInfo != nil {
		l.Server = strings.TrimSpace(init.ServerInfo.Name + " " + init.ServerInfo.Version)
	}
	caps := init.Capabilities
	if caps == nil {
		caps = &mcp.ServerCapabilities{}
	}
	if caps.Tools != nil {
		l.Capabilities = append(l.Capabilities, "tools")
		for t, err := range s.Tools(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("tools/list: %w", err)
			}
			l.Tools = append(l.Tools, t.Name+" "+fingerprint(t.Description, t.InputSchema))
		}
	}
	if caps.Prompts != nil {
		l.Capabilities = append(l.Capabilities, "prompts")
		for p, err := range s.Prompts(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("prompts/list: %w", err)
			}
			l.Prompts = append(l.Prompts, p.Name+" "+fingerprint(p.Description, p.Arguments))
		}
	}
	if caps.Resources != nil {
		l.Capabilities = append(l.Capabilities, "resources")
		for r, err := range s.Resources(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("resources/list: %w", err)
			}
			l.Resources = append(l.Resources, r.URI)
		}
	}
	sort.Strings(l.Tools)
	sort.Strings(l.Prompts)
	sort.Strings(l.Resources)
	return l, nil
}

// fingerprint is a short hash of a description and schema: equal when the
// JSON encodings are equal (encoding/json sorts map keys).
func fingerprint(desc string, schema any) string {
	b, _ := json.Marshal([]any{desc, schema})
	return shortHash(b)
}

// limited keeps the first n bytes written (server stderr for error
// messages). exec.Cmd copies stderr in its own goroutine, which may still be
// writing when a failed handshake reads the text, so both sides lock.
type limited struct {
	mu  sync.Mutex
	buf strings.Builder
	n   int
}

func (l *limited) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		l.buf.Write(q)
	}
	return len(p), nil
}

// String is what was kept, trimmed.
func (l *limited) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.buf.String())
}
