package mirror

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Option configures Run.
type Option func(*options) error

type options struct {
	jobs         int
	shard, count int // 1-based shard of count
	addrs        []string
	signer       signature.SignerVerifier
	cert         *attest.Certificate
	verifier     signature.Verifier // what the skip check verifies targets with
	force        bool
	events       func(Event)
	attempts     int
	backoff      time.Duration
	smoke        build.SmokeFunc
	noSmoke      string // why no entry is start-checked
	remote       []remote.Option
	sbomFormat   string    // "" means the catalog's defaults.sbomFormat
	vuln         *vulnGate // WithVulnGate (vuln.go)
	message      func(error) string
}

func makeOptions(opts ...Option) (*options, error) {
	o := &options{jobs: 4, shard: 1, count: 1, attempts: 4, backoff: time.Second, events: func(Event) {}, message: error.Error}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.signer == nil {
		return nil, errors.New("mirroring needs a signing key: nothing is tagged unless it is signed and attested")
	}
	o.verifier = o.signer
	if o.cert != nil {
		// Refused before any entry is built, not after each one.
		if err := o.cert.CheckKey(o.signer); err != nil {
			return nil, err
		}
		// A target counts as done only when it verifies the way its
		// consumers will: keylessly, for this identity under this CA
		// (whichever key signed it). Without a root in the chain the
		// signer's key is all there is to check.
		if kv, err := o.cert.Verifier(); err == nil {
			o.verifier = kv
		}
	}
	if len(o.addrs) == 0 {
		o.addrs = SplitAddrs(build.Addr(""))
	}
	o.remote = append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.remote...)
	return o, nil
}

// WithJobs sets how many entries are worked on at once. Default: 4.
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return inputerr.Field("jobs", strconv.Itoa(n), errors.New("give at least 1"))
		}
		o.jobs = n
		return nil
	}
}

// WithShard keeps only shard i (1-based) of n: an entry belongs to the
// shard its name hashes to, so shards stay put when entries are added.
// Default: 1/1, the whole catalog.
func WithShard(i, n int) Option {
	return func(o *options) error {
		if n < 1 || i < 1 || i > n {
			return inputerr.Field("shard", fmt.Sprintf("%d/%d", i, n), errors.New("want I/N with 1 ≤ I ≤ N"))
		}
		o.shard, o.count = i, n
		return nil
	}
}

// ParseShard parses "I/N".
func ParseShard(s string) (i, n int, err error) {
	if _, err := fmt.Sscanf(s, "%d/%d", &i, &n); err != nil || fmt.Sprintf("%d/%d", i, n) != s {
		return 0, 0, inputerr.Field("shard", strconv.Quote(s), errors.New("want I/N, e.g. 2/4"))
	}
	if n < 1 || i < 1 || i > n {
		return 0, 0, inputerr.Field("shard", strconv.Quote(s), errors.New("want I/N with 1 ≤ I ≤ N"))
	}
	return i, n, nil
}

// WithBuildKitAddrs spreads BuildKit work over these daemons: each entry
// goes to the one with the fewest entries in flight. Default: BUILDKIT_HOST
// (a comma-separated list is several daemons), else build.DefaultAddr.
func WithBuildKitAddrs(addrs ...string) Option {
	return func(o *options) error {
		for _, a := range addrs {
			o.addrs = append(o.addrs, SplitAddrs(a)...)
		}
		return nil
	}
}

// SplitAddrs splits a comma-separated list of BuildKit addresses.
func SplitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// WithSigner signs and attests every hardened image; its public half
// verifies the targets Run may skip. Required.
func WithSigner(s signature.SignerVerifier) Option {
	return func(o *options) error { o.signer = s; return nil }
}

// WithCertificate attaches c (a certificate issued for the signer's key,
// with its chain) to every signature and attestation, so the mirror's
// images verify keylessly against a trusted root and an identity. When
// c's chain ends in its root CA, a target is skipped only if it verifies
// keylessly for c's identity under that root (c.Verifier), whichever key
// signed it, so a fresh key per CI run still skips finished work while its
// earlier certificates are valid; otherwise targets are checked with the
// signer's key. Default: no certificate.
func WithCertificate(c *attest.Certificate) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("no certificate given; load it with attest.LoadCertificate")
		}
		o.cert = c
		return nil
	}
}

// WithMessage words a failed entry's reason in the report (a CLI names its
// own flags where the libraries name their fields); the default is the
// error's text.
func WithMessage(f func(error) string) Option {
	return func(o *options) error {
		if f != nil {
			o.message = f
		}
		return nil
	}
}

// WithForce re-hardens every entry, even those whose target already
// verifies with the same inputs. Default: off.
func WithForce(f bool) Option { return func(o *options) error { o.force = f; return nil } }

// WithEvents receives a status event whenever an entry changes phase, from
// several goroutines one at a time. Default: none.
func WithEvents(f func(Event)) Option {
	return func(o *options) error { o.events = f; return nil }
}

// WithRetry sets how often an entry is tried when it fails with a
// transient registry or builder error, and the first backoff (doubled each
// time, with jitter). Default: 4 attempts, 1s.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) error {
		if attempts < 1 {
			return fmt.Errorf("retry attempts %d: give at least 1", attempts)
		}
		o.attempts, o.backoff = attempts, backoff
		return nil
	}
}

// WithSmoke runs f before signing each entry (see build.WithSmoke).
// Default: none; Run refuses a catalog that sets defaults.smoke without
// one (or WithoutSmoke).
func WithSmoke(f build.SmokeFunc) Option { return func(o *options) error { o.smoke = f; return nil } }

// WithoutSmoke runs no start check, not even when the catalog sets
// defaults.smoke, and records why (Report.SmokeSkipped). Default: unset.
func WithoutSmoke(reason string) Option {
	return func(o *options) error { o.smoke, o.noSmoke = nil, reason; return nil }
}

// WithSBOMFormat is the format of every entry's signed SBOM attestation
// (sbom.FormatSPDX or sbom.FormatCycloneDX). Default: the catalog's
// defaults.sbomFormat, else SPDX.
func WithSBOMFormat(f string) Option {
	return func(o *options) error {
		if err := sbom.CheckFormat(f); err != nil {
			return err
		}
		o.sbomFormat = f
		return nil
	}
}

// WithRemoteOptions adds go-containerregistry options (auth, transport)
// for every registry call. Default: the Docker config keychain.
func WithRemoteOptions(ro ...remote.Option) Option {
	return func(o *options) error { o.remote = append(o.remote, ro...); return nil }
}

// signOptions are the attest options every signature and attestation is
// made with: the registry options, and the certificate when there is one.
func (o *options) signOptions() []attest.Option {
	opts := []attest.Option{attest.WithRemoteOptions(o.remote...)}
	if o.cert != nil {
		opts = append(opts, attest.WithCertificate(o.cert))
	}
	return opts
}

// sbomFormat is the SBOM attestation format: WithSBOMFormat, else the
// catalog's defaults.sbomFormat, else SPDX.
func (m *mirror) sbomFormat() string {
	switch {
	case m.o.sbomFormat != "":
		return m.o.sbomFormat
	case m.c.Defaults.SBOMFormat != "":
		return m.c.Defaults.SBOMFormat
	}
	return sbom.FormatSPDX
}
