package build

import (
	"fmt"
	"os"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// EnvSourceDateEpoch is the reproducible-builds variable Harden reads when
// no WithSourceDateEpoch option is given (https://reproducible-builds.org/specs/source-date-epoch/).
const EnvSourceDateEpoch = "SOURCE_DATE_EPOCH"

// WithSourceDateEpoch sets the one date every timestamp drydock writes is
// taken from: the config's created time, the history entries (clamped to
// it) and the entries of the hardening layer (clamped to it). Default:
// SOURCE_DATE_EPOCH when set, else the upstream image's creation time, so
// that the same inputs give the same digest whenever and wherever they run.
func WithSourceDateEpoch(t time.Time) Option {
	return func(o *options) error {
		if t.IsZero() {
			return fmt.Errorf("source date epoch: zero time")
		}
		t = t.UTC()
		o.sourceDate = &t
		return nil
	}
}

// WithEngine forces what assembles the layers (EngineBuildKit or
// EngineRegistry) instead of what the strategy implies, so a recorded build
// can be repeated exactly: auto may have fallen back to the registry for a
// rebuild. Default: the strategy's engine.
func WithEngine(e string) Option {
	return func(o *options) error {
		if e != "" && e != EngineBuildKit && e != EngineRegistry {
			return fmt.Errorf("engine %q: use %s or %s", e, EngineBuildKit, EngineRegistry)
		}
		o.engine = e
		return nil
	}
}

// ParseSourceDateEpoch reads a SOURCE_DATE_EPOCH value: whole seconds since
// 1970 UTC.
func ParseSourceDateEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("source date epoch %q: want whole seconds since 1970-01-01 UTC (e.g. $(git log -1 --format=%%ct))", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// sourceDate picks the source date: the option, else SOURCE_DATE_EPOCH,
// else the upstream's creation time (which the upstream digest pins), else
// the Unix epoch for an upstream that records none.
func sourceDate(o *options, up *v1.ConfigFile) (time.Time, error) {
	if o.sourceDate != nil {
		return *o.sourceDate, nil
	}
	if env := os.Getenv(EnvSourceDateEpoch); env != "" {
		t, err := ParseSourceDateEpoch(env)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", EnvSourceDateEpoch, err)
		}
		return t, nil
	}
	if !up.Created.IsZero() {
		// Seconds, as SOURCE_DATE_EPOCH has: the provenance records it as such.
		return up.Created.Time.UTC().Truncate(time.Second), nil
	}
	return time.Unix(0, 0).UTC(), nil
}

// forceEngine applies WithEngine. The rebase strategy has no BuildKit form;
// rebuild and inplace can be assembled by either engine (auto's fallback
// does that), so a recorded run can be repeated with the engine it used.
func (p *plan) forceEngine(engine string) error {
	if engine == "" || engine == p.engine {
		return nil
	}
	if p.strategy.RegistryOnly() && engine == EngineBuildKit {
		return fmt.Errorf("engine %s: the %s strategy is assembled at the registry level only", engine, StrategyRebase)
	}
	p.engine = engine
	p.reason += fmt.Sprintf("; engine %s as asked", engine)
	return nil
}
