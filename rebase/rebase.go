// Package rebase does drydock's registry-level work with go-containerregistry
// and no daemon: it lays an upstream image's app layers onto a hardened base
// (or keeps the upstream stack, in place), adds the hardening layer from
// rebase/hardening, rewrites the config and writes an all-OCI manifest that
// keeps the upstream annotations and names its base. Pushing the result
// mounts the existing layer blobs across repositories instead of copying.
package rebase

import (
	"errors"
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotation keys the result carries.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// ErrNotBase means the named upstream base's layers are not a prefix of the
// upstream image's layers, so the app layers cannot be told apart.
var ErrNotBase = errors.New("not the image's base")

// Input is what Assemble puts together.
type Input struct {
	// Upstream is the image being hardened.
	Upstream v1.Image
	// OldBase and NewBase are the upstream's base and the hardened base.
	// Both nil keeps the upstream stack (in place).
	OldBase, NewBase v1.Image
	// Carry is the layer of tools carried over from the upstream base
	// (CarryLayer), put right on the hardened base, where the upstream base
	// was; nil when nothing is carried. Only with NewBase.
	Carry v1.Layer
	// Hardening is the layer from rebase/hardening, put on top.
	Hardening v1.Layer
	// Config is the hardened runtime config and metadata; its RootFS and
	// History are replaced by the assembled ones.
	Config *v1.ConfigFile
	// Annotations are added to the upstream manifest's annotations (the
	// upstream's own base.* annotations are dropped first).
	Annotations map[string]string
}

// Stack is the layer stack the hardening layer goes on: the hardened base's
// layers then the upstream's app layers, or the upstream's layers in place.
func Stack(upstream, oldBase, newBase v1.Image) ([]v1.Layer, error) {
	up, err := upstream.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading upstream layers: %w", err)
	}
	if oldBase == nil && newBase == nil {
		return up, nil
	}
	if oldBase == nil || newBase == nil {
		return nil, errors.New("rebasing needs both the upstream base and the hardened base")
	}
	n, err := PrefixLen(oldBase, upstream)
	if err != nil {
		return nil, err
	}
	nb, err := newBase.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading hardened base layers: %w", err)
	}
	return append(append([]v1.Layer{}, nb...), up[n:]...), nil
}

// PrefixLen checks that base's layers are the first layers of img and
// returns how many there are.
func PrefixLen(base, img v1.Image) (int, error) {
	bl, err := base.Layers()
	if err != nil {
		return 0, fmt.Errorf("reading base layers: %w", err)
	}
	il, err := img.Layers()
	if err != nil {
		return 0, fmt.Errorf("reading image layers: %w", err)
	}
	if len(bl) > len(il) {
		return 0, fmt.Errorf("%w: the base has %d layers, the image %d", ErrNotBase, len(bl), len(il))
	}
	for i, l := range bl {
		a, err := l.Digest()
		if err != nil {
			return 0, err
		}
		b, err := il[i].Digest()
		if err != nil {
			return 0, err
		}
		if a != b {
			return 0, fmt.Errorf("%w: layer %d differs (%s vs %s)", ErrNotBase, i, a, b)
		}
	}
	return len(bl), nil
}

// Assemble builds the hardened image. Config.Created is the source date:
// the hardening layer's history entry carries it and no history entry is
// later than it (missing or later times become it), so the config depends
// on the inputs and that date only. Unlike mutate.Rebase it starts from an
// OCI empty image and gives every layer an OCI media type, so the manifest
// never mixes Docker and OCI types (ggcr#2101), and it keeps the upstream's
// manifest annotations, which mutate.Rebase drops.
func Assemble(in Input) (v1.Image, error) {
	var adds []mutate.Addendum
	upHist, err := history(in.Upstream)
	if err != nil {
		return nil, fmt.Errorf("reading upstream: %w", err)
	}
	upLayers, err := in.Upstream.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading upstream layers: %w", err)
	}
	skip := 0
	if in.NewBase != nil {
		if skip, err = PrefixLen(in.OldBase, in.Upstream); err != nil {
			return nil, err
		}
		nbHist, err := history(in.NewBase)
		if err != nil {
			return nil, fmt.Errorf("reading hardened base: %w", err)
		}
		nbLayers, err := in.NewBase.Layers()
		if err != nil {
			return nil, fmt.Errorf("reading hardened base layers: %w", err)
		}
		if adds, err = addenda(nbLayers, nbHist, 0); err != nil {
			return nil, err
		}
		if in.Carry != nil {
			adds = append(adds, mutate.Addendum{Layer: in.Carry, MediaType: types.OCILayer, History: CarryHistory(in.Config.Created)})
		}
	} else if in.Carry != nil {
		return nil, errors.New("a carry layer goes on a new base: without one the upstream's files are all kept")
	}
	app, err := addenda(upLayers, upHist, skip)
	if err != nil {
		return nil, err
	}
	adds = append(adds, app...)
	adds = append(adds, mutate.Addendum{
		Layer:     in.Hardening,
		MediaType: types.OCILayer,
		History:   HardeningHistory(in.Config.Created),
	})
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading assembled config: %w", err)
	}
	out := in.Config.DeepCopy()
	out.RootFS, out.History = cf.RootFS, clampHistory(cf.History, in.Config.Created)
	if img, err = mutate.ConfigFile(img, out); err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	m, err := in.Upstream.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading upstream manifest: %w", err)
	}
	anns := maps.Clone(m.Annotations)
	if anns == nil {
		anns = map[string]string{}
	}
	delete(anns, AnnotationBaseName)
	delete(anns, AnnotationBaseDigest)
	maps.Copy(anns, in.Annotations)
	return mutate.Annotations(img, anns).(v1.Image), nil
}

// layerHistory pairs each layer with its history line; skip drops the
// first skip layers (the upstream base) and their history.
func addenda(layers []v1.Layer, hist []v1.History, skip int) ([]mutate.Addendum, error) {
	var nonEmpty []v1.History
	for _, h := range hist {
		if !h.EmptyLayer {
			nonEmpty = append(nonEmpty, h)
		}
	}
	var adds []mutate.Addendum
	for i := skip; i < len(layers); i++ {
		mt, err := layers[i].MediaType()
		if err != nil {
			return nil, fmt.Errorf("reading layer %d media type: %w", i, err)
		}
		a := mutate.Addendum{Layer: layers[i], MediaType: ociLayerType(mt)}
		// Images whose history does not line up with their layers get none
		// rather than a wrong one.
		if len(nonEmpty) == len(layers) {
			a.History = nonEmpty[i]
		}
		adds = append(adds, a)
	}
	return adds, nil
}

func history(img v1.Image) ([]v1.History, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return cf.History, nil
}

// ociLayerType maps Docker layer media types to their OCI equivalents; the
// blob bytes are the same, only the manifest's label changes.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

// LayerImage wraps one layer as a minimal OCI image for platform, so
// BuildKit can take the hardening layer as an llb.Image input.
func LayerImage(l v1.Layer, platform v1.Platform) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
		History: v1.History{CreatedBy: "drydock harden: hardening layer", Comment: "drydock"}})
	if err != nil {
		return nil, fmt.Errorf("wrapping hardening layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	return mutate.ConfigFile(img, cf)
}

// HardeningHistory is the history entry of the hardening layer, dated at the
// source date.
func HardeningHistory(date v1.Time) v1.History {
	return v1.History{Created: date, CreatedBy: "drydock harden: hardening layer", Comment: "drydock"}
}

// CarryHistory is the history entry of the carry layer, dated at the
// source date.
func CarryHistory(date v1.Time) v1.History {
	return v1.History{Created: date, CreatedBy: "drydock harden: tools carried from the upstream base", Comment: "drydock"}
}

// clampHistory caps every history time at date: the inputs' entries keep
// their own earlier times, and nothing later than the source date (a build
// time, say) survives.
func clampHistory(hist []v1.History, date v1.Time) []v1.History {
	out := make([]v1.History, len(hist))
	for i, h := range hist {
		if h.Created.IsZero() || h.Created.After(date.Time) {
			h.Created = date
		}
		out[i] = h
	}
	return out
}
