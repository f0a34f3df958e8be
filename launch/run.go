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
	// imageVolumes are the image config's VOLUME paths (see prepare).
	imageVolumes []string
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
	return verify(ctx, ref, o)
}

// verify verifies online, recording what it read; if the registry cannot be
// reached it verifies the recording of the last successful verification of
// ref instead, with the same code and the same key (see cache.go).
func verify(ctx context.Context, ref string, o *options) (*Verified, error) {
	if o.cacheDir == "" {
		return verifyWith(ctx, ref, o, remote.DefaultTransport)
	}
	rec := &recorder{base: remote.DefaultTransport}
	v, err := verifyWith(ctx, ref, o, rec)
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
	v, verr := verifyWith(ctx, ref, o, newReplay(c))
	if verr != nil {
		return nil, fmt.Errorf("the registry is unreachable and the cached signature, payload and label of %s do not verify: %w", ref, verr)
	}
	v.Offline = true
	return v, nil
}

// verifyWith is the single verification path; t carries every registry
// request (the network, a recorder of it, or a replay of a recording).
func verifyWith(ctx context.Context, ref string, o *options, t http.RoundTripper) (*Verified, error) {
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
	// The config is fetched while the signature is checked (it is read,
	// never used, before the signature verifies): two fewer round trips on
	// the MCP client's startup path.
	type config struct {
		digest v1.Hash
		file   *v1.ConfigFile
		err    error
	}
	cfgC := make(chan config, 1)
	go func() {
		var c config
		img, err := remote.Image(d, ro...)
		if err != nil {
			c.err = fmt.Errorf("reading %s: %w", d, err)
		} else if c.digest, err = img.ConfigName(); err != nil {
			c.err = fmt.Errorf("reading config digest of %s: %w", d, err)
		} else if c.file, err = img.ConfigFile(); err != nil {
			c.err = fmt.Errorf("reading config of %s: %w", d, err)
		}
		cfgC <- c
	}()
	_, verr := attest.Verify(ctx, d, o.verifier, ao...)
	c := <-cfgC
	if verr != nil {
		return nil, verr
	}
	if c.err != nil {
		return nil, c.err
	}
	cfgDigest, cfg := c.digest, c.file
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
	ev, err := checkRequirements(ctx, d, o, ao)
	if err != nil {
		return nil, err
	}
	return &Verified{
		Digest: d, ConfigDigest: cfgDigest, Policy: p, Spec: spec, Evidence: ev,
		imageEnv: cfg.Config.Env, imageVolumes: slices.Sorted(maps.Keys(cfg.Config.Volumes)),
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
	engine := make(chan engineKind, 1)
	go func() { engine <- detectEngine(ctx, o.docker) }()
	v, err := verify(ctx, ref, o)
	if err != nil {
		return 0, err
	}
	return run(ctx, v, o, <-engine)
}
