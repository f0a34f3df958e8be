package build

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/drydock-dev/drydock/build/startcmd"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/rebase"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sync/errgroup"
)

// Start is how the hardened image starts, decided at harden time by
// build/startcmd: an exec-form entrypoint with the program's absolute path,
// so it starts without a shell or a PATH lookup.
type Start struct {
	// Before is the upstream's start command (entrypoint then cmd).
	Before string `json:"before"`
	// After is the hardened image's entrypoint (its cmd is empty), quoted
	// for reading.
	After string `json:"after"`
	// Entrypoint is After as the config holds it.
	Entrypoint []string `json:"entrypoint"`
	// WorkingDir is the directory it starts in.
	WorkingDir string `json:"workingDir,omitempty"`
	// Path is the PATH the image sets: only directories the runtime user
	// can search.
	Path string `json:"path,omitempty"`
	// Steps say how Before became After.
	Steps []string `json:"steps,omitempty"`
	// Kept is set when the upstream command was kept as it was, and says
	// why (it needs a shell, which this result keeps).
	Kept string `json:"kept,omitempty"`

	env []string // the config's Env
}

// resolveStart decides (reading layers through ix, nil for a new index, and
// sp, nil to inflate them here)
// how the image whose layers are stack starts for the
// policy's user. A start command that needs a shell is refused, unless the
// result keeps the shell (keepsShell: inplace without removeTools); one whose
// program the runtime user cannot find, reach or run is always refused: the
// image would fail at its first start. upstream, when the stack dropped the
// upstream's base, is where the upstream's login shell read its profile
// files; nil when the stack is the upstream's own layers.
func resolveStart(ix *startcmd.LayerIndex, sp *rebase.Spool, stack []v1.Layer, cfg *v1.ConfigFile, upstream v1.Image, p *policies.Policy, keepsShell bool, src string) (*Start, error) {
	img, err := mutate.AppendLayers(empty.Image, stack...)
	if err != nil {
		return nil, fmt.Errorf("reading the filesystem of %s: %w", src, err)
	}
	// Both views are read at once, through one index: inflating layers is
	// most of a cold harden's time, and the views share the app layers.
	if ix == nil {
		ix = startcmd.NewLayerIndex()
	}
	var fsys, profiles fs.FS
	var eg errgroup.Group
	eg.Go(func() (err error) { fsys, err = ix.ImageFS(sp.Image(img)); return err })
	if upstream != nil {
		eg.Go(func() (err error) { profiles, err = ix.ImageFS(sp.Image(upstream)); return err })
	}
	if err := eg.Wait(); err != nil {
		return nil, fmt.Errorf("reading the filesystem of %s: %w", src, err)
	}
	opts := []startcmd.Option{startcmd.WithRuntimeUser(p.User), startcmd.WithRuntimeEnv(p.Env.Allow...)}
	if profiles != nil {
		opts = append(opts, startcmd.WithProfileFS(profiles))
	}
	c := cfg.Config
	res, err := startcmd.Resolve(fsys, startcmd.ImageConfig{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User}, opts...)
	var shellErr *startcmd.NeedsShellError
	if errors.As(err, &shellErr) && keepsShell {
		return &Start{Before: shellErr.Command, After: shellErr.Command, Entrypoint: c.Entrypoint, WorkingDir: c.WorkingDir,
			Kept: fmt.Sprintf("kept as the upstream wrote it: %s, and this result keeps its shell", shellErr.Reason), env: c.Env}, nil
	}
	if errors.As(err, &shellErr) {
		return nil, fmt.Errorf("refusing %s: the hardened image has no shell to run its start command: %w", src, err)
	}
	if err != nil {
		return nil, fmt.Errorf("refusing %s: it would not start as the policy's user %s: %w", src, p.User, err)
	}
	s := &Start{Before: res.Before, After: res.After, Entrypoint: res.Entrypoint, WorkingDir: res.WorkingDir, Steps: res.Steps, env: res.Env}
	for _, kv := range res.Env {
		if len(kv) > 5 && kv[:5] == "PATH=" {
			s.Path = kv[5:]
		}
	}
	return s, nil
}

// apply writes the start into the hardened config.
func (s *Start) apply(c *v1.Config) {
	if s.Kept != "" {
		return
	}
	c.Entrypoint, c.Cmd, c.Env, c.WorkingDir = s.Entrypoint, nil, s.env, s.WorkingDir
}

// keep names what tool removal must leave: the program and, for a script
// run by its interpreter, the script; by path, so a same-named tool
// elsewhere still goes.
func (s *Start) keep() []string {
	var out []string
	for i, a := range s.Entrypoint {
		if i == 0 || (i == 1 && path.IsAbs(a)) {
			out = append(out, a)
		}
	}
	return out
}
