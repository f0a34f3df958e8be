package build

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Result describes a hardened image.
type Result struct {
	Ref      string `json:"ref"`      // DST@sha256:...
	Digest   string `json:"digest"`   // sha256:...
	Source   string `json:"source"`   // upstream repo@sha256:...
	Base     string `json:"base"`     // hardened base repo@sha256:...
	OldBase  string `json:"oldBase"`  // upstream base repo@sha256:...
	Strategy string `json:"strategy"` // rebuild
	Signed   bool   `json:"signed"`
	Tag      string `json:"tag,omitempty"` // set when the tag was moved
}

// Harden rebuilds src onto the hardened base, labels it with the policy,
// pushes it to dst's repository by digest, signs it (when a signer is set)
// and only then points dst at it.
func Harden(ctx context.Context, src, dst string, opts ...Option) (*Result, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	o.remote = append(o.remote, remote.WithContext(ctx))
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		platform.Variant = "v7"
	}
	dstRef, err := name.ParseReference(dst)
	if err != nil {
		return nil, fmt.Errorf("parsing destination %q: %w", dst, err)
	}
	up, err := resolve(src, platform, o.remote)
	if err != nil {
		return nil, err
	}
	oldBase, err := upstreamBase(up, o.oldBase, platform, o.remote)
	if err != nil {
		return nil, err
	}
	base, err := resolve(o.base, platform, o.remote)
	if err != nil {
		return nil, fmt.Errorf("hardened base: %w", err)
	}
	label, err := o.policy.Encode()
	if err != nil {
		return nil, err
	}
	cfg := HardenedConfig(up.config, label, o.policy.User, up.digest.String(), platform)

	digest, err := solve(ctx, o, solveRequest{
		graph:  Graph(base.digest.String(), oldBase.digest.String(), up.digest.String(), toOCI(platform)),
		config: cfg,
		target: dstRef.Context(),
		annotations: map[string]string{
			AnnotationBaseName:   o.base,
			AnnotationBaseDigest: base.digest.DigestStr(),
		},
	})
	if err != nil {
		return nil, err
	}
	out := dstRef.Context().Digest(digest)
	if err := checkOutput(out, base, oldBase, up, o.remote); err != nil {
		return nil, err
	}
	res := &Result{
		Ref: out.String(), Digest: digest, Source: up.digest.String(),
		Base: base.digest.String(), OldBase: oldBase.digest.String(), Strategy: "rebuild",
	}
	if o.sign == nil {
		return res, nil
	}
	if err := o.sign(ctx, out, res); err != nil {
		return res, fmt.Errorf("signing %s: %w", out, err)
	}
	res.Signed = true
	if tag, ok := dstRef.(name.Tag); ok {
		if err := moveTag(tag, out, o.remote); err != nil {
			return res, err
		}
		res.Tag = tag.String()
	}
	return res, nil
}

// image is one resolved platform image.
type image struct {
	digest name.Digest
	img    v1.Image
	config *v1.ConfigFile
	desc   *remote.Descriptor
}

// resolve pins ref to the digest of the platform image that will be used.
func resolve(ref string, platform v1.Platform, ro []remote.Option) (*image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", ref, err)
	}
	img, err := remote.Image(r.Context().Digest(desc.Digest.String()), append(ro, remote.WithPlatform(platform))...)
	if err != nil {
		return nil, fmt.Errorf("reading %s for %s: %w", ref, platform, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", ref, err)
	}
	return &image{digest: r.Context().Digest(d.String()), img: img, config: cfg, desc: desc}, nil
}

// upstreamBase finds the image whose layers are the upstream's base: an
// explicit reference, else the upstream manifest's base annotations. Its
// layers must be a prefix of the upstream's, or the diff would be wrong.
func upstreamBase(up *image, explicit string, platform v1.Platform, ro []remote.Option) (*image, error) {
	ref := explicit
	if ref == "" {
		m, err := up.img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading manifest of %s: %w", up.digest, err)
		}
		bn, bd := m.Annotations[AnnotationBaseName], m.Annotations[AnnotationBaseDigest]
		if bn == "" || bd == "" {
			return nil, fmt.Errorf("%s: cannot tell which layers are its base: it has no %s/%s annotations; pass --old-base IMAGE", up.digest, AnnotationBaseName, AnnotationBaseDigest)
		}
		bref, err := name.ParseReference(bn)
		if err != nil {
			return nil, fmt.Errorf("%s: annotation %s=%q: %w", up.digest, AnnotationBaseName, bn, err)
		}
		ref = bref.Context().Digest(bd).String()
	}
	old, err := resolve(ref, platform, ro)
	if err != nil {
		return nil, fmt.Errorf("upstream base: %w", err)
	}
	if err := checkPrefix(old.img, up.img); err != nil {
		return nil, fmt.Errorf("upstream base %s is not the base of %s: %w; pass the right --old-base", old.digest, up.digest, err)
	}
	return old, nil
}

func checkPrefix(base, img v1.Image) error {
	bl, err := base.Layers()
	if err != nil {
		return err
	}
	il, err := img.Layers()
	if err != nil {
		return err
	}
	if len(bl) > len(il) {
		return errors.New("it has more layers than the image")
	}
	for i, l := range bl {
		a, err := l.Digest()
		if err != nil {
			return err
		}
		b, err := il[i].Digest()
		if err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("layer %d differs (%s vs %s)", i, a, b)
		}
	}
	return nil
}

// moveTag points tag at the signed digest.
func moveTag(tag name.Tag, d name.Digest, ro []remote.Option) error {
	desc, err := remote.Get(d, ro...)
	if err != nil {
		return fmt.Errorf("reading %s before tagging: %w", d, err)
	}
	if err := remote.Tag(tag, desc, ro...); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", d, tag, err)
	}
	return nil
}

// checkOutput reads the pushed image back and refuses it unless its layers
// are exactly the hardened base's followed by the upstream's app layers.
// BuildKit's overlayfs differ was seen to emit a diff layer that whited out
// the whole upstream base; an image like that must never be signed.
func checkOutput(out name.Digest, base, oldBase, up *image, ro []remote.Option) error {
	img, err := remote.Image(out, ro...)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", out, err)
	}
	got, err := diffIDs(img)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", out, err)
	}
	want, err := diffIDs(base.img)
	if err != nil {
		return err
	}
	upIDs, err := diffIDs(up.img)
	if err != nil {
		return err
	}
	oldIDs, err := diffIDs(oldBase.img)
	if err != nil {
		return err
	}
	want = append(want, upIDs[len(oldIDs):]...)
	if len(got) != len(want) {
		return fmt.Errorf("BuildKit produced %s with %d layers, want %d (the hardened base's then the upstream's app layers); refusing it (if buildkitd uses the overlayfs snapshotter, run it with --oci-worker-snapshotter=native)", out, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("BuildKit produced %s whose layer %d is %s, want %s (the hardened base's then the upstream's app layers); refusing it (if buildkitd uses the overlayfs snapshotter, run it with --oci-worker-snapshotter=native)", out, i, got[i], want[i])
		}
	}
	return nil
}

func diffIDs(img v1.Image) ([]v1.Hash, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return cfg.RootFS.DiffIDs, nil
}
