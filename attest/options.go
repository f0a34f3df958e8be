package attest

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
)

// Option configures Sign, Attest, Resolve and Verify.
type Option func(*options) error

type options struct {
	// remote holds the go-containerregistry options for every registry call.
	remote []remote.Option
	// remoteSet records that the caller replaced the default remote options.
	remoteSet bool
	// allowed holds extra repository names (normalised) that a signature's
	// docker-reference may name besides the image's own repository.
	allowed []string
	// unboundBundles accepts bundle signatures that name no repository.
	unboundBundles bool
	// platform is the platform whose image Resolve picks from an index.
	platform v1.Platform
	// predicateType, when set, makes Verify require an attestation of this
	// type.
	predicateType string
	// sourceDigest, when set, pins the upstream digest recorded in the
	// provenance.
	sourceDigest string
	// cert, when set, is attached to every signature and attestation made.
	cert *Certificate
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

// WithUnboundBundles lets Verify accept a Sigstore bundle signature (an OCI
// 1.1 referrer in cosign's new bundle format) whose signed statement names
// no repository, as `cosign sign --new-bundle-format` (cosign v3's
// default) writes it: its subject is the digest alone. Such a signature
// verifies for that digest in every repository, so a copy of the image and
// its bundle in another repository verifies too. Use it only when the key
// or identity signs for this one repository alone, so that the trust
// itself binds the repository. A bundle that names another repository is
// still refused.
//
// Default: refused (check "repository").
func WithUnboundBundles() Option {
	return func(o *options) error {
		o.unboundBundles = true
		return nil
	}
}

// WithPlatform sets the platform Resolve picks from an image index.
//
// Default: linux and the architecture drydock was built for.
func WithPlatform(p v1.Platform) Option {
	return func(o *options) error {
		if p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("platform %q: give os/architecture, e.g. linux/amd64", p.String())
		}
		o.platform = p
		return nil
	}
}

// WithAttestation makes Verify also require an attestation of predicateType
// (such as PredicateSLSAProvenanceV1) that is signed by the same key, whose
// signed statement carries that predicate type, and whose subject is the
// verified digest. The type is read from the signed statement, never from
// the registry's annotations.
//
// Default: attestations are not checked.
func WithAttestation(predicateType string) Option {
	return func(o *options) error {
		if predicateType == "" {
			return errors.New("empty predicate type")
		}
		o.predicateType = predicateType
		return nil
	}
}

// WithSourceDigest makes Verify require a SLSA provenance attestation (as
// WithAttestation(PredicateSLSAProvenanceV1)) that records digest as the
// upstream image's digest.
//
// Default: any upstream.
func WithSourceDigest(digest string) Option {
	return func(o *options) error {
		h, err := v1.NewHash(digest)
		if err != nil {
			return fmt.Errorf("parsing source digest %q (want sha256:<64 hex>): %w", digest, err)
		}
		o.sourceDigest = h.String()
		return nil
	}
}

// makeOptions applies opts and sets every default; it is the only place
// defaults live.
func makeOptions(ctx context.Context, opts ...Option) (*options, error) {
	o := &options{platform: defaultPlatform()}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.sourceDigest != "" && o.predicateType == "" {
		o.predicateType = PredicateSLSAProvenanceV1
	}
	if o.sourceDigest != "" && o.predicateType != PredicateSLSAProvenanceV1 {
		return nil, fmt.Errorf("a source digest is recorded only in %s attestations, not %s", PredicateSLSAProvenanceV1, o.predicateType)
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
