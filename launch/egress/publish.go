package egress

import (
	"context"
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Binary is a static drydock binary for linux/Arch, the gateway of that
// platform.
type Binary struct {
	Arch, Path string
}

// ParseBinary reads "PATH" (the platform is read from the ELF header) or
// "linux/ARCH=PATH".
func ParseBinary(s string) (Binary, error) {
	if plat, path, ok := strings.Cut(s, "="); ok {
		arch, found := strings.CutPrefix(plat, "linux/")
		if !found || machines[arch] == 0 || path == "" {
			return Binary{}, fmt.Errorf("--binary %q: write linux/amd64=PATH or linux/arm64=PATH, or PATH alone", s)
		}
		return Binary{Arch: arch, Path: path}, nil
	}
	f, err := elf.Open(s)
	if err != nil {
		return Binary{}, fmt.Errorf("%w: %s is not an ELF executable (%v); build drydock with GOOS=linux CGO_ENABLED=0", ErrNotStatic, s, err)
	}
	defer f.Close()
	for arch, m := range machines {
		if f.Machine == m {
			return Binary{Arch: arch, Path: s}, nil
		}
	}
	return Binary{}, fmt.Errorf("%w: %s is built for %v; the gateway image holds linux/amd64 or linux/arm64", ErrNotStatic, s, f.Machine)
}

// PublishOption configures Publish.
type PublishOption func(*publishOptions)

type publishOptions struct {
	remote []remote.Option
	attest []attest.Option
}

// WithRemoteOptions sets the registry options (auth, transport) of the push,
// the signature and the tag. Default: the docker config keychain.
func WithRemoteOptions(ro ...remote.Option) PublishOption {
	return func(o *publishOptions) { o.remote = ro }
}

// WithAttestOptions adds signing options (a certificate to attach, say);
// they come after the remote options. Default: none.
func WithAttestOptions(ao ...attest.Option) PublishOption {
	return func(o *publishOptions) { o.attest = append(o.attest, ao...) }
}

// Publish builds the gateway image from bins (an image index when there is
// more than one), pushes it by digest to dst's repository, signs that
// digest (and each platform image of an index) with signer, and only then
// moves the tag dst: a reader of the tag never sees an unsigned gateway.
// It returns the signed digest, the value of a floor's egress.image.
func Publish(ctx context.Context, dst name.Tag, bins []Binary, signer signature.Signer, opts ...PublishOption) (name.Digest, error) {
	if len(bins) == 0 {
		return name.Digest{}, inputerr.New(func(n func(string) string) string {
			return "building the gateway image: no drydock binary given; pass " + n("bins")
		}, nil, "bins")
	}
	o := publishOptions{remote: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}}
	for _, opt := range opts {
		opt(&o)
	}
	ro := append(slices.Clone(o.remote), remote.WithContext(ctx))
	var (
		idx   v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		img   v1.Image
		archs []string
	)
	for _, b := range bins {
		if slices.Contains(archs, b.Arch) {
			return name.Digest{}, fmt.Errorf("building the gateway image: two binaries for linux/%s; give one per platform", b.Arch)
		}
		archs = append(archs, b.Arch)
		i, err := imageFor(b.Path, b.Arch)
		if err != nil {
			return name.Digest{}, err
		}
		img = i
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: i, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: b.Arch}}})
	}
	var (
		h   v1.Hash
		err error
	)
	if len(bins) == 1 {
		h, err = img.Digest()
	} else {
		h, err = idx.Digest()
	}
	if err != nil {
		return name.Digest{}, fmt.Errorf("building the gateway image: %w", err)
	}
	d := dst.Context().Digest(h.String())
	if len(bins) == 1 {
		err = remote.Write(d, img, ro...)
	} else {
		err = remote.WriteIndex(d, idx, ro...)
	}
	if err != nil {
		return name.Digest{}, fmt.Errorf("pushing the gateway image to %s: %w", d.Context(), err)
	}
	if err := attest.Sign(ctx, d, signer, append([]attest.Option{attest.WithRemoteOptions(o.remote...)}, o.attest...)...); err != nil {
		return name.Digest{}, fmt.Errorf("signing the gateway image %s: %w", d, err)
	}
	var taggable remote.Taggable = img
	if len(bins) > 1 {
		taggable = idx
	}
	if err := remote.Tag(dst, taggable, ro...); err != nil {
		return name.Digest{}, fmt.Errorf("tagging the signed gateway image %s as %s: %w", d, dst, err)
	}
	return d, nil
}
