package build

import (
	"fmt"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// nixpacksFirst matches the first instruction of the Dockerfile Nixpacks
// generates (src/nixpacks/builder/docker/dockerfile_generation.rs: FROM
// the build or run image, then ENTRYPOINT ["/bin/bash", "-l", "-c"]) as
// BuildKit records it (`ENTRYPOINT ["/bin/bash" "-l" "-c"]`) and as the
// classic builder does (`/bin/sh -c #(nop)  ENTRYPOINT [...]`).
var nixpacksFirst = regexp.MustCompile(`^(/bin/sh -c #\(nop\)\s+)?ENTRYPOINT \["/bin/bash",? "-l",? "-c"\]$`)

// historyBase reads the upstream base's extent from the image history: the
// entries above the last Nixpacks ENTRYPOINT are the base's. It returns how
// many layers the base has and its last history entry, or ok=false when the
// history does not show the boundary or does not match the layers.
func historyBase(cfg *v1.ConfigFile) (layers int, last string, ok bool) {
	at := -1
	for i, h := range cfg.History {
		if nixpacksFirst.MatchString(h.CreatedBy) {
			at = i // the last one: the app's, should a base carry one too
		}
	}
	if at <= 0 {
		return 0, "", false
	}
	total := 0
	for i, h := range cfg.History {
		if !h.EmptyLayer {
			total++
			if i < at {
				layers++
			}
		}
	}
	if layers == 0 || layers >= len(cfg.RootFS.DiffIDs) || total != len(cfg.RootFS.DiffIDs) {
		return 0, "", false
	}
	return layers, cfg.History[at-1].CreatedBy, true
}

// historyOldBase is the upstream base found by historyBase, as an image of
// the upstream's first layers. It exists in no registry, so it is named by
// what it is, not by a reference, and only the registry engine can use it.
func historyOldBase(up *image) (*image, string, error) {
	n, last, ok := historyBase(up.config)
	if !ok {
		return nil, "", nil
	}
	ls, err := up.img.Layers()
	if err != nil {
		return nil, "", fmt.Errorf("reading layers of %s: %w", up.digest, err)
	}
	img, err := mutate.AppendLayers(empty.Image, ls[:n]...)
	if err != nil {
		return nil, "", fmt.Errorf("reading the base layers of %s: %w", up.digest, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, "", fmt.Errorf("digesting the base layers of %s: %w", up.digest, err)
	}
	top := up.config.RootFS.DiffIDs[n-1].String()
	from := fmt.Sprintf("read from the image history (no base annotations): the first %d layers, up to top layer %s, whose last entry is %q, sit right below the ENTRYPOINT [\"/bin/bash\", \"-l\", \"-c\"] that starts Nixpacks' generated Dockerfile",
		n, top[:19], last)
	return &image{digest: up.digest.Context().Digest(d.String()), img: img, fromHistory: true}, from, nil
}
