package attest

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
)

// Option configures Sign, Resolve and Verify.
type Option func(*options) error

type options struct {
	// remote holds the go-containerregistry options for every registry call.
	remote []remote.Option
	// remoteSet records that the caller replaced the default remote options.
	remoteSet bool
	// allowed holds extra repository names (normalised) that a signature's
	// docker-reference may name besides the image's own repository.
	allowed []string
}

// WithRemoteOptions sets the go-containerregistry options (auth, transport,
// user agent, retries) used for every registry call, including the ones cosign
// makes. Several calls add up.
//
// Default: remote.WithAuthFromKeychain(authn.DefaultKeychain). Options given
// here replace that default (as cosign's ociremote.WithRemoteOptions does), so
// pass remote.WithAuthFromKeychain yourself to keep keychain auth alongside,
// say, a custom transport. The context of each call is always added last.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) error {
		o.remote = append(o.remote, opts...)
		o.remoteSet = true
		return nil
	}
}

// WithAllowedRepositories lets Verify accept signatures whose payload names one
// of repos as its docker-reference, in addition to the verified image's own
// repository. Use it for mirrors that copy signatures from a source
// repository.
//
// Default: none; a signature must name the image's own repository.
func WithAllowedRepositories(repos ...string) Option {
	return func(o *options) error {
		for _, r := range repos {
			repo, err := name.NewRepository(r)
			if err != nil {
				return fmt.Errorf("parsing allowed repository %q: %w", r, err)
			}
			o.allowed = append(o.allowed, repo.Name())
		}
		return nil
	}
}

// makeOptions applies opts and sets every default; it is the only place
// defaults live.
func makeOptions(ctx context.Context, opts ...Option) (*options, error) {
	o := &options{}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if !o.remoteSet {
		o.remote = []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	}
	// Copy before appending so callers' slices are never written to.
	o.remote = append(append([]remote.Option(nil), o.remote...), remote.WithContext(ctx))
	return o, nil
}

// ociOptions passes the remote options through to cosign.
func (o *options) ociOptions() []ociremote.Option {
	return []ociremote.Option{ociremote.WithRemoteOptions(o.remote...)}
}
