package launch

import (
	"errors"
	"io"
	"os"

	"github.com/drydock-dev/drydock/attest"
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
}

func makeOptions(opts ...Option) (*options, error) {
	o := &options{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.verifier == nil {
		// Launching unverified is exactly what drydock exists to prevent.
		return nil, errors.New("no public key given: pass --key cosign.pub")
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

// WithRemoteOptions adds go-containerregistry options (auth, transport).
func WithRemoteOptions(ro ...remote.Option) Option {
	return func(o *options) error { o.remote = append(o.remote, ro...); return nil }
}
