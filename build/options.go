package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/drydock-dev/drydock/build/startcmd"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/rebase"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// SignFunc signs (and attests) a pushed digest. Harden calls it after the
// push and before the tag moves, so a reader of the tag never sees an
// unsigned image. res describes how d was built, for a provenance
// attestation.
type SignFunc func(ctx context.Context, d name.Digest, res *Result) error

// Option configures Harden.
type Option func(*options) error

type options struct {
	base, oldBase string
	strategy      Strategy
	bases         *policies.Bases
	basesGiven    bool // WithBases was used: its bases are configured, not placeholders
	smoke         SmokeFunc
	noSmoke       string // why no start check runs, for the result
	policy        *policies.Policy
	sign          SignFunc
	addr          string
	progress      io.Writer
	progressMode  string
	remote        []remote.Option
	sourceDate    *time.Time // nil: SOURCE_DATE_EPOCH, else the upstream's creation time
	engine        string     // "" means the strategy's engine
	rebuilder     Rebuilder
	rebaser       Rebaser
	layerCache    *string              // nil: the user's cache directory
	layerIndex    *startcmd.LayerIndex // nil: one for this harden
	spool         *rebase.Spool        // nil: one for this harden
	carry         []string
	smokeCalls    []SmokeCall
	sbom          bool // WithSBOM
	sbomHooks     []SBOMHook
}

func makeOptions(opts ...Option) (*options, error) {
	o := &options{
		policy:       policies.Default(),
		progress:     io.Discard,
		progressMode: "auto",
		strategy:     StrategyAuto,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if !o.strategy.Known() {
		return nil, fmt.Errorf("strategy %q: use one of %s", o.strategy, StrategyNames())
	}
	if o.bases == nil {
		o.bases = defaultBases()
	}
	if o.rebuilder == nil {
		o.rebuilder = buildkitRebuilder{o}
	}
	if o.rebaser == nil {
		o.rebaser = registryRebaser{}
	}
	if o.layerCache == nil {
		dir := defaultLayerCache()
		o.layerCache = &dir
	}
	o.remote = append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.remote...)
	return o, nil
}

// WithSmokeCalls are tool calls the start check makes on the upstream and
// the hardened image; one that succeeds upstream must succeed hardened.
// Default: none.
func WithSmokeCalls(calls ...SmokeCall) Option {
	return func(o *options) error {
		for i, c := range calls {
			if c.Tool == "" {
				return fmt.Errorf("smoke call %d names no tool", i+1)
			}
		}
		o.smokeCalls = append(o.smokeCalls, calls...)
		return nil
	}
}

// WithStrategy picks how to harden: auto (default), rebuild, inplace or rebase.
func WithStrategy(s Strategy) Option {
	return func(o *options) error { o.strategy = s; return nil }
}

// WithBases sets the bases file used to pick the hardened base from the
// upstream's runtime and to find known upstream bases. Default:
// policies.DefaultBases().
func WithBases(b *policies.Bases) Option {
	return func(o *options) error { o.bases, o.basesGiven = b, b != nil; return nil }
}

// WithSmoke runs an MCP smoke comparison before signing. Default: none.
func WithSmoke(f SmokeFunc) Option { return func(o *options) error { o.smoke = f; return nil } }

// WithoutSmoke records why no start check runs (Result.SmokeSkipped), so
// the output can say so plainly. Default: "no start check was asked for".
func WithoutSmoke(reason string) Option {
	return func(o *options) error { o.smoke, o.noSmoke = nil, reason; return nil }
}

// WithBase sets the hardened base image the app layers are moved onto.
// Default: the bases file's base for the upstream's runtime when WithBases
// is given, else a minimal static base drydock generates (see Harden). Not
// used by inplace.
func WithBase(ref string) Option { return func(o *options) error { o.base = ref; return nil } }

// WithOldBase names the upstream base image explicitly. By default it is read
// from the upstream manifest's org.opencontainers.image.base.* annotations.
func WithOldBase(ref string) Option { return func(o *options) error { o.oldBase = ref; return nil } }

// WithPolicy sets the runtime policy written into the label. Default: policies.Default().
func WithPolicy(p *policies.Policy) Option {
	return func(o *options) error {
		if p == nil {
			return errors.New("nil policy")
		}
		o.policy = p
		return nil
	}
}

// WithSigner signs the result before it is tagged. Without a signer the
// image is pushed by digest only and no tag is written.
func WithSigner(f SignFunc) Option { return func(o *options) error { o.sign = f; return nil } }

// WithBuildKitAddr sets the BuildKit address. Default: BUILDKIT_HOST, else DefaultAddr.
func WithBuildKitAddr(addr string) Option {
	return func(o *options) error { o.addr = addr; return nil }
}

// WithProgress shows BuildKit's progress on w in mode (auto, plain, tty,
// quiet, rawjson). Default: none.
func WithProgress(w io.Writer, mode string) Option {
	return func(o *options) error { o.progress, o.progressMode = w, mode; return nil }
}

// WithRemoteOptions adds go-containerregistry options (auth, transport).
// Default: the Docker config keychain.
func WithRemoteOptions(ro ...remote.Option) Option {
	return func(o *options) error { o.remote = append(o.remote, ro...); return nil }
}

// WithLayerCache sets where the hardening pass keeps what it read from each
// layer, by layer digest ("" disables it). Default:
// ${XDG_CACHE_HOME:-~/.cache}/drydock/layers.
func WithLayerCache(dir string) Option {
	return func(o *options) error { o.layerCache = &dir; return nil }
}

// WithLayerIndex shares ix, what the start command's views keep of each
// layer, with other hardens (a mirror run's entries read the same bases).
// Default: an index of this harden's own.
func WithLayerIndex(ix *startcmd.LayerIndex) Option {
	return func(o *options) error { o.layerIndex = ix; return nil }
}

// WithSpool shares s, the layers already inflated, with other hardens (a
// mirror run's entries read the same bases). Default: a spool of this
// harden's own (spoolBytes), removed when it returns.
func WithSpool(s *rebase.Spool) Option {
	return func(o *options) error { o.spool = s; return nil }
}

// spoolBytes bounds a harden's own spool (temporary disk space).
const spoolBytes = 1 << 30

// defaultLayerCache is "" when the user has no cache directory.
func defaultLayerCache() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		var err error
		if base, err = os.UserCacheDir(); err != nil {
			return ""
		}
	}
	return filepath.Join(base, "drydock", "layers")
}
