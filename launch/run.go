// Package launch is the companion run: it pins an image to a digest,
// verifies that digest's signature and policy label, and starts exactly that
// digest under the policy's restrictions, proxying the MCP stdio stream.
package launch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrRefused wraps every reason Run declines to start a container.
var ErrRefused = errors.New("launch refused")

// Verified is an image that passed verification: the digest that will run
// and the policy it carries.
type Verified struct {
	Digest       name.Digest
	ConfigDigest v1.Hash
	Policy       *policies.Policy
	Spec         policies.ContainerSpec
	// imageEnv is the image config's environment, the only variables a
	// container may have besides the ones the user passed with --env.
	imageEnv []string
	// Volumes are the image config's VOLUME paths (see CheckVolumes).
	Volumes []string
	// Offline is true when the registry was unreachable and the cached
	// material of the last successful verification was verified instead.
	Offline bool
	// Evidence is what the required attestations held (nil when the floor
	// and --require asked for none).
	Evidence *attest.Evidence
}

// Verify resolves ref once, verifies the signature of that digest, and reads
// and validates its policy label. It never looks at the tag again.
func Verify(ctx context.Context, ref string, opts ...Option) (*Verified, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	return verify(ctx, ref, o, nil)
}

// verify verifies online, recording what it read; if the registry cannot be
// reached it verifies the recording of the last successful verification of
// ref instead, with the same code and the same key (see cache.go).
// early, if not nil, is given the online candidate (see verifyWith).
func verify(ctx context.Context, ref string, o *options, early func(*Verified)) (*Verified, error) {
	if o.cacheDir == "" {
		return verifyWith(ctx, ref, o, remote.DefaultTransport, early)
	}
	rec := &recorder{base: remote.DefaultTransport}
	v, err := verifyWith(ctx, ref, o, rec, early)
	if err == nil {
		if err := saveCache(o.cacheDir, ref, rec); err != nil {
			fmt.Fprintf(o.stderr, "drydock: warning: %v; offline launch of %s will not be possible\n", err, ref)
		}
		return v, nil
	}
	if !unreachable(err) {
		return nil, err
	}
	c, cerr := loadCache(o.cacheDir, ref)
	if cerr != nil {
		return nil, fmt.Errorf("%w; no verified copy of %s is cached for offline use (run it once while the registry is reachable)", err, ref)
	}
	v, verr := verifyWith(ctx, ref, o, newReplay(c), nil)
	if verr != nil {
		return nil, fmt.Errorf("the registry is unreachable and the cached signature, payload and label of %s do not verify: %w", ref, verr)
	}
	v.Offline = true
	return v, nil
}

// verifyWith is the single verification path; t carries every registry
// request (the network, a recorder of it, or a replay of a recording).
//
// The image config is read and its policy checked while the signature is
// verified. early, if not nil, is called with the resulting candidate
// before the signature's verdict: it may prepare, never start, a
// container. verifyWith returns that same candidate only if the signature
// verified; a caller compares pointers to know whether what it prepared
// is what was verified.
func verifyWith(ctx context.Context, ref string, o *options, t http.RoundTripper, early func(*Verified)) (*Verified, error) {
	ro := append(append([]remote.Option(nil), o.remote...), remote.WithTransport(newImmutableCache(t)), remote.WithContext(ctx))
	// One puller for every step: the registry is pinged and authenticated once.
	if p, err := remote.NewPuller(ro...); err == nil {
		ro = append(ro, remote.Reuse(p))
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	ao := append(append([]attest.Option(nil), o.attest...), attest.WithRemoteOptions(ro...))
	d, err := attest.Resolve(ctx, r, ao...)
	if err != nil {
		return nil, err
	}
	sigC := make(chan error, 1)
	go func() {
		_, err := attest.Verify(ctx, d, o.verifier, ao...)
		sigC <- err
	}()
	v, cerr := candidate(d, ro, o)
	if cerr == nil && early != nil {
		early(v)
	}
	// The signature's verdict comes first: an unsigned image is refused as
	// unsigned whatever its label says.
	if err := <-sigC; err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	// Required attestations (floor require, verify --require) are checked
	// before the verified result exists, so before anything starts.
	ev, err := checkRequirements(ctx, d, o, ao)
	if err != nil {
		return nil, err
	}
	v.Evidence = ev
	return v, nil
}

// candidate reads d's config and checks its policy label, translation and
// floor. Until d's signature verifies, the result is only a candidate.
func candidate(d name.Digest, ro []remote.Option, o *options) (*Verified, error) {
	img, err := remote.Image(d, ro...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading config digest of %s: %w", d, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", d, err)
	}
	p, err := policies.FromLabels(cfg.Config.Labels)
	if errors.Is(err, policies.ErrNoLabel) {
		return nil, fmt.Errorf("%w: %s has no %s label; harden it with `drydock harden` first", ErrRefused, d, policies.LabelKey)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRefused, d, err)
	}
	spec, err := policies.Translate(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRefused, d, err)
	}
	if err := o.floor.Check(p); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRefused, d, err)
	}
	spec.Env = append(spec.Env, runtimeProxyEnv(spec, cfg.Config)...)
	return &Verified{
		Digest: d, ConfigDigest: cfgDigest, Policy: p, Spec: spec,
		imageEnv: cfg.Config.Env, Volumes: slices.Sorted(maps.Keys(cfg.Config.Volumes)),
	}, nil
}

// Run verifies ref and runs the verified digest with its policy, proxying
// stdin/stdout and stderr. It returns the server's exit code. Cancelling ctx
// (SIGINT/SIGTERM in the CLI) stops the container and removes it.
func Run(ctx context.Context, ref string, opts ...Option) (int, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return 0, err
	}
	if o.docker == nil {
		cli, err := NewDockerClient()
		if err != nil {
			return 0, err
		}
		defer cli.Close()
		o.docker = cli
	}
	// Asking the engine who it is touches no container, so it runs while
	// the signature is verified: the launch is on an MCP client's startup path.
	engine := sync.OnceValue(func() engineKind { return detectEngine(ctx, o.docker) })
	go engine()
	e := &earlyServer{ctx: ctx, o: o, engine: engine}
	v, err := verify(ctx, ref, o, e.begin)
	s, cleanup, serr := e.take(v)
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return run(ctx, v, o, engine(), s, cleanup)
}

// earlyServer creates and checks the container of the candidate (and, in
// allowlist and public mode, its egress gateway and relay) while its
// signature is verified: the engine's creates are the slowest steps of a
// warm launch. It never starts any of them: run does, once verification
// succeeded, and take removes them otherwise.
type earlyServer struct {
	ctx     context.Context
	o       *options
	engine  func() engineKind
	cand    *Verified
	done    chan struct{}
	s       *server
	cleanup func()
	err     error
}

// begin starts setting up cand's containers, once per launch.
func (e *earlyServer) begin(cand *Verified) {
	if e.done != nil {
		return
	}
	e.cand, e.done = cand, make(chan struct{})
	go func() {
		defer close(e.done)
		e.s, e.cleanup, e.err = setUp(e.ctx, cand, e.o, e.engine(), false)
	}()
}

// take waits for the early setup and returns its container and cleanup if
// they were made for v, the verified image, exactly; otherwise (v nil:
// refused) it removes them. A nil server with a nil error means: set it up
// now.
func (e *earlyServer) take(v *Verified) (*server, func(), error) {
	if e.done == nil {
		return nil, nil, nil
	}
	<-e.done
	if v == nil || v != e.cand {
		if e.s != nil {
			e.s.remove(context.WithoutCancel(e.ctx))
			e.cleanup()
		}
		return nil, nil, nil
	}
	if errors.Is(e.err, errNotPulled) {
		return nil, nil, nil
	}
	return e.s, e.cleanup, e.err
}
