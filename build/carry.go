package build

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/rebase"
	"github.com/drydock-dev/drydock/rebase/closure"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CheckCarry says whether p can name an executable to carry: an absolute
// path, or a bare name looked up in the upstream's PATH.
func CheckCarry(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty executable: name it by absolute path, e.g. /usr/bin/git")
	case strings.Contains(p, "/") && !path.IsAbs(p):
		return fmt.Errorf("executable %q is relative: name it by absolute path, e.g. /usr/bin/git", p)
	case path.IsAbs(p) && path.Clean(p) != p:
		return fmt.Errorf("executable %q: write the path as %s", p, path.Clean(p))
	}
	return nil
}

// WithCarry names executables of the upstream to keep working in the
// hardened image: they and their shared-library closure (rebase/closure,
// read from the ELF dynamic sections as ld.so resolves them) are copied
// from the upstream into a layer on the hardened base for rebuild and
// rebase, which drop the upstream base; inplace keeps them where they are.
// Either way tool removal leaves them and the hardening pass still applies
// to them. Default: none.
func WithCarry(paths ...string) Option {
	return func(o *options) error {
		for _, p := range paths {
			if err := CheckCarry(p); err != nil {
				return fmt.Errorf("carry: %w", err)
			}
			if !slices.Contains(o.carry, p) {
				o.carry = append(o.carry, p)
			}
		}
		slices.Sort(o.carry)
		return nil
	}
}

// carry finds what the carried executables need in the upstream and, when
// the strategy drops the upstream base, the layer that brings it along.
// paths are absolute image paths, sorted.
func carry(up *image, exes []string, strategy Strategy, date time.Time) (paths []string, layer v1.Layer, err error) {
	fsys, err := closure.FromImage(up.img)
	if err != nil {
		return nil, nil, fmt.Errorf("carrying %s from %s: %w", strings.Join(exes, ", "), up.digest, err)
	}
	defer fsys.Close()
	names, err := closure.Of(fsys, exes, closure.WithPath(envPath(up.config.Config.Env)))
	if err != nil {
		return nil, nil, fmt.Errorf("carrying %s from %s: %w", strings.Join(exes, ", "), up.digest, err)
	}
	for _, n := range names {
		paths = append(paths, "/"+n)
	}
	if !strategy.NeedsHardenedBase() {
		return paths, nil, nil
	}
	if layer, err = rebase.CarryLayer(up.img, names, date); err != nil {
		return nil, nil, fmt.Errorf("carrying %s from %s: %w", strings.Join(exes, ", "), up.digest, err)
	}
	return paths, layer, nil
}

// envPath is the PATH of an image config's environment, else Docker's
// default.
func envPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

// withCarry puts the carry layer right on the hardened base's layers, where
// the upstream base was.
func withCarry(stack []v1.Layer, base v1.Image, layer v1.Layer) ([]v1.Layer, error) {
	if layer == nil {
		return stack, nil
	}
	bl, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading hardened base layers: %w", err)
	}
	return slices.Insert(slices.Clone(stack), len(bl), layer), nil
}
