package launch

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Option configures Run.
type Option func(*options) error

type options struct {
	verifier signature.Verifier
	args     []string
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	docker   Docker
	remote   []remote.Option
	attest   []attest.Option
	floor    *policies.Floor
	cacheDir string
	cacheSet bool
	mounts   []MountRequest
	env      []string
	// lookupEnv reads the host's value of a --env name.
	lookupEnv func(string) (string, bool)
	// proxyBinary and egressNetwork configure network mode allowlist.
	proxyBinary   string
	egressNetwork string
	// egressResolver is the gateway's DNS server; testPublic the prefixes
	// its tests count as public (see withTestPublic).
	egressResolver string
	testPublic     []string
	// gateway is the release default gateway image (see gateway.go).
	gateway *Gateway
	// require adds to the floor's attestation requirements (require.go).
	require attest.Requirements
}

func makeOptions(opts ...Option) (*options, error) {
	o := &options{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv, egressNetwork: "bridge"}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.verifier == nil {
		// Launching unverified is exactly what drydock exists to prevent.
		return nil, inputerr.New(func(n func(string) string) string {
			return "no public key given: pass " + n("WithVerifier")
		}, nil, "WithVerifier")
	}
	if o.floor == nil {
		o.floor = policies.StrictFloor()
	}
	if !o.cacheSet {
		// No cache directory only costs the offline fallback.
		o.cacheDir, _ = DefaultCacheDir()
	}
	o.remote = append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.remote...)
	return o, nil
}

// WithVerifier sets the public key the image's signature must verify with. Required.
func WithVerifier(v signature.Verifier) Option {
	return func(o *options) error { o.verifier = v; return nil }
}

// WithArgs replaces the image's CMD (the entrypoint is kept).
func WithArgs(args []string) Option {
	return func(o *options) error { o.args = args; return nil }
}

// WithStdio sets the streams proxied to the server. Default: the process's own.
func WithStdio(in io.Reader, out, errw io.Writer) Option {
	return func(o *options) error { o.stdin, o.stdout, o.stderr = in, out, errw; return nil }
}

// WithDocker sets the Docker Engine API client. Default: one from the
// environment (DOCKER_HOST) with API version negotiation.
func WithDocker(d Docker) Option {
	return func(o *options) error { o.docker = d; return nil }
}

// WithAttestOptions adds options for attest.Resolve and attest.Verify, such
// as required attestations or allowed mirror repositories. The remote
// options given to launch are always passed after them.
func WithAttestOptions(ao ...attest.Option) Option {
	return func(o *options) error { o.attest = append(o.attest, ao...); return nil }
}

// WithFloor sets the machine's floor the image's policy must stay within.
// Default: policies.StrictFloor(). Use policies.LoadFloor to read the
// user's floor file.
func WithFloor(f *policies.Floor) Option {
	return func(o *options) error { o.floor = f; return nil }
}

// WithMounts binds host directories onto targets the policy declares. Each
// must be under a floor-allowed source; it is read-only unless the request,
// the policy and the floor all allow writing.
func WithMounts(m ...MountRequest) Option {
	return func(o *options) error { o.mounts = append(o.mounts, m...); return nil }
}

// WithEnv passes the host's value of each named variable, if both the
// policy's env.allow and the floor allow the name. Values go to the engine
// in the create request only.
func WithEnv(names ...string) Option {
	return func(o *options) error { o.env = append(o.env, names...); return nil }
}

// WithLookupEnv replaces os.LookupEnv as the source of --env values.
func WithLookupEnv(f func(string) (string, bool)) Option {
	return func(o *options) error { o.lookupEnv = f; return nil }
}

// WithCacheDir sets where verified material is kept for offline launch.
// Default: DefaultCacheDir(). An empty dir disables the cache.
func WithCacheDir(dir string) Option {
	return func(o *options) error { o.cacheDir, o.cacheSet = dir, true; return nil }
}

// WithRemoteOptions adds go-containerregistry options (auth, transport).
func WithRemoteOptions(ro ...remote.Option) Option {
	return func(o *options) error { o.remote = append(o.remote, ro...); return nil }
}

// WithProxyBinary sets the static drydock binary the egress proxy image of
// network mode allowlist is assembled from. Default: os.Executable(), the
// running drydock (which must then be a static Linux build, CGO_ENABLED=0).
func WithProxyBinary(path string) Option {
	return func(o *options) error { o.proxyBinary = path; return nil }
}

// WithEgressNetwork sets the network the egress proxy reaches the allowed
// hosts through. Default: "bridge", the engine's default network.
func WithEgressNetwork(name string) Option {
	return func(o *options) error {
		if name == "" {
			return errors.New("the egress network name is empty")
		}
		o.egressNetwork = name
		return nil
	}
}

// WithEgressResolver sends the egress gateway's name lookups to the DNS
// server at host:port (a corporate resolver, for example). Default: the
// resolver the engine gives the gateway container.
func WithEgressResolver(addr string) Option {
	return func(o *options) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("egress resolver %q: write host:port, e.g. 10.0.0.53:53", addr)
		}
		o.egressResolver = addr
		return nil
	}
}

// withTestPublic makes the gateway count these prefixes as public: tests
// stand in for the internet with listeners on this machine.
func withTestPublic(prefixes ...string) Option {
	return func(o *options) error { o.testPublic = prefixes; return nil }
}
