// Package provenance turns a hardening result into the signature and SLSA
// provenance drydock attaches before a tag moves. drydock harden and drydock
// mirror both sign through it, so an image hardened either way carries the
// same statement and the mirror can read back what harden wrote.
package provenance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"runtime/debug"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"
)

// SignFunc returns a build.SignFunc that signs the pushed digest, then
// attests how it was built under policy p; build.Harden tags only after
// both succeed. started bounds the run in the provenance.
func SignFunc(signer signature.Signer, p *policies.Policy, started time.Time, opts ...attest.Option) build.SignFunc {
	return func(ctx context.Context, d name.Digest, res *build.Result) error {
		if err := attest.Sign(ctx, d, signer, opts...); err != nil {
			return err
		}
		prov, err := For(res, p, started)
		if err != nil {
			return err
		}
		return attest.Attest(ctx, d, signer, prov, opts...)
	}
}

// For turns a harden result into the provenance drydock attests. The
// hardening report, the start command and the smoke result are taken from
// the result's JSON form (fields "hardening", "start" and "smoke").
func For(res *build.Result, p *policies.Policy, started time.Time) (*attest.Provenance, error) {
	label, err := p.Encode()
	if err != nil {
		return nil, err
	}
	sde := res.SourceDateEpoch
	prov := &attest.Provenance{
		Source: res.Source, Base: res.Base, OldBase: res.OldBase, Strategy: string(res.Strategy),
		Engine: res.Engine, SourceDateEpoch: &sde,
		Policy:    []byte(label),
		BuilderID: BuilderID(),
		Version:   Version(),
		StartedOn: started, FinishedOn: time.Now(),
		Carry: res.Carry,
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encoding harden result: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("encoding harden result: %w", err)
	}
	prov.Report, prov.Smoke, prov.Start = nonNull(fields["hardening"]), nonNull(fields["smoke"]), nonNull(fields["start"])
	prov.Carried = nonNull(fields["carried"])
	return prov, nil
}

func nonNull(v json.RawMessage) json.RawMessage {
	if string(v) == "null" {
		return nil
	}
	return v
}

// BuilderID names who ran drydock: the CI job when there is one (GitHub
// Actions, GitLab CI), else user@host on this machine.
func BuilderID() string {
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		return fmt.Sprintf("%s/%s/actions/runs/%s", os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"), os.Getenv("GITHUB_RUN_ID"))
	}
	if u := os.Getenv("CI_JOB_URL"); u != "" {
		return u
	}
	host, _ := os.Hostname()
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return "drydock://" + name + "@" + host
}

// Version is the main module's version as the Go toolchain stamped it
// ("(devel)" for a source build).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
