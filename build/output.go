package build

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrOutputRejected means the pushed image's layers are not the stack the
// hardening layer was computed for; it is never signed or tagged.
var ErrOutputRejected = errors.New("built image rejected")

// checkOutput reads the pushed image back and refuses it unless its layers
// are exactly the stack the hardening layer was computed for, followed by
// that hardening layer: the hardened base's layers then the upstream's app
// layers (rebuild, rebase), or the upstream's layers (inplace). The
// hardening pass only vouches for that filesystem. BuildKit's overlayfs
// differ was seen to emit a diff layer that whited out the whole upstream
// base; an image like that must never be signed.
func checkOutput(out name.Digest, stack []v1.Layer, hardening v1.Layer, ro []remote.Option) error {
	img, err := remote.Image(out, ro...)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", out, err)
	}
	got, err := diffIDs(img)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", out, err)
	}
	var want []v1.Hash
	for _, l := range append(append([]v1.Layer{}, stack...), hardening) {
		id, err := l.DiffID()
		if err != nil {
			return fmt.Errorf("reading layer diff ID: %w", err)
		}
		want = append(want, id)
	}
	const hint = "refusing it (if buildkitd uses the overlayfs snapshotter, run it with --oci-worker-snapshotter=native)"
	if len(got) != len(want) {
		return fmt.Errorf("%w: %s has %d layers [%s], want %d [%s] (the expected stack then the hardening layer); %s", ErrOutputRejected, out, len(got), layerList(got), len(want), layerList(want), hint)
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("%w: %s: layer %d is %s, want %s (the expected stack then the hardening layer); %s", ErrOutputRejected, out, i, got[i], want[i], hint)
		}
	}
	return nil
}
