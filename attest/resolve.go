package attest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Resolve resolves ref once to the digest of the image that will run: a tag
// or digest of an image gives that image's digest; one of an image index
// gives the digest of the child for the platform (WithPlatform, default
// linux and this machine's architecture), because that child is what a
// container engine pulls and so what must be signed. The manifest is read,
// not just its header, so the digest is the hash of what the registry
// serves. Refusals: the image is not there (check "resolve"), the registry
// served content whose digest is not the one asked for (check "manifest"),
// the index has no image for the platform (check "platform"). Other registry
// errors are not refusals.
func Resolve(ctx context.Context, ref name.Reference, opts ...Option) (name.Digest, error) {
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := getManifest(ref, o)
	if err != nil {
		return name.Digest{}, err
	}
	d := ref.Context().Digest(desc.Digest.String())
	if !desc.MediaType.IsIndex() {
		return d, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return name.Digest{}, fmt.Errorf("reading index %s: %w", d, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("reading index %s: %w", d, err)
	}
	for _, child := range m.Manifests {
		if child.Platform == nil || !child.MediaType.IsImage() || !child.Platform.Satisfies(o.platform) {
			continue
		}
		cd := ref.Context().Digest(child.Digest.String())
		if _, err := getManifest(cd, o); err != nil {
			return name.Digest{}, err
		}
		return cd, nil
	}
	return name.Digest{}, refusePlatform(d.String(), o.platform.String())
}

// ResolveManifest resolves ref once to the digest of the manifest it names,
// an image or an image index (what Sign signs: an index with all its
// children). Refusals are as for Resolve.
func ResolveManifest(ctx context.Context, ref name.Reference, opts ...Option) (name.Digest, error) {
	o, err := makeOptions(ctx, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := getManifest(ref, o)
	if err != nil {
		return name.Digest{}, err
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// getManifest GETs ref's manifest; go-containerregistry hashes the body and
// rejects one that does not match a requested digest.
func getManifest(ref name.Reference, o *options) (*remote.Descriptor, error) {
	desc, err := remote.Get(ref, o.remote...)
	if err == nil {
		return desc, nil
	}
	if isNotFound(err) {
		return nil, refuseNotFound(ref.String())
	}
	if _, byDigest := ref.(name.Digest); byDigest && !isTransportError(err) {
		// The request went through and the registry answered 200, yet
		// go-containerregistry refused the body: its hash is not ref's digest.
		return nil, refuseManifest(ref.String(), err)
	}
	return nil, fmt.Errorf("resolving %s: %w", ref, err)
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// isTransportError reports errors of the connection or the HTTP exchange
// itself, as opposed to a well-formed answer with the wrong content.
func isTransportError(err error) bool {
	var te *transport.Error
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &te) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// defaultPlatform is the platform whose image runs on this machine.
func defaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}
