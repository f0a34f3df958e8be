package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PackagesFunc lists the packages of the pushed image d (its SBOM).
type PackagesFunc func(ctx context.Context, d name.Digest) ([]Package, error)

// Gate scans a hardened image between its push and its signature
// (drydock harden/mirror --vuln-db): over the limit, nothing is signed and
// no tag moves; otherwise, once signed, the scan result and the VEX
// documents are attested with the same key.
type Gate struct {
	// DB is the vulnerability database.
	DB *DB
	// VEX are the OpenVEX documents applied to the findings and attested.
	VEX []*vex.VEX
	// FailOn, when set, refuses an image with an unsuppressed finding at
	// or above it.
	FailOn *attest.Severity
	// Packages lists the image's packages; nil means the SBOM harden made
	// (Result.SBOM).
	Packages PackagesFunc
	// Signer signs the vulnerability and OpenVEX attestations.
	Signer signature.Signer
	// AttestOptions are passed to every attestation written.
	AttestOptions []attest.Option

	// Result is the last scan's result, set by the wrapped SignFunc.
	Result *attest.VulnResult
}

// Wrap returns a SignFunc that scans d, refuses it over the limit, then
// runs sign and attests the scan.
func (g *Gate) Wrap(sign build.SignFunc) build.SignFunc {
	return func(ctx context.Context, d name.Digest, res *build.Result) error {
		started := time.Now()
		pkgs, err := g.packages(ctx, d, res)
		if err != nil {
			return fmt.Errorf("scanning %s: listing its packages: %w", d, err)
		}
		r, err := Match(g.DB, pkgs)
		if err != nil {
			return fmt.Errorf("scanning %s: %w", d, err)
		}
		Suppress(r, g.VEX...)
		g.Result = r
		if g.FailOn != nil {
			if w := r.Over(*g.FailOn); w != nil {
				return RefuseOver(d.String(), "not signed or tagged: ", w, *g.FailOn)
			}
		}
		if err := sign(ctx, d, res); err != nil {
			return err
		}
		return g.attest(ctx, d, r, started)
	}
}

// RefuseOver is the refusal of an image whose worst finding w reaches
// the limit (Gate.FailOn, named by the field FieldFailOn): one sentence
// naming the image and the finding, after what (if anything) was withheld.
func RefuseOver(image, withheld string, w *attest.VulnFinding, limit attest.Severity) error {
	return attest.Refuse(image, "severity", func(n func(string) string) (string, string) {
		return fmt.Sprintf("%s%s (%s) affects %s %s, at or above %s %s (fixed in %s); upgrade it, rebuild without it, or suppress it with a VEX statement",
			withheld, w.ID, w.Severity, w.Package, w.Version, n(FieldFailOn), limit, orNone(w.FixedIn)), ""
	})
}

// FieldFailOn names Gate.FailOn in RefuseOver's refusal.
const FieldFailOn = "FailOn"

func orNone(s string) string {
	if s == "" {
		return "no release yet"
	}
	return s
}

// attest writes the vulnerability attestation and, when VEX documents
// were applied, one OpenVEX attestation per document.
func (g *Gate) attest(ctx context.Context, d name.Digest, r *attest.VulnResult, started time.Time) error {
	p := Predicate(r, g.DB, started, time.Now())
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("attesting the scan of %s: %w", d, err)
	}
	if err := attest.AttestPredicate(ctx, d, g.Signer, attest.PredicateVuln, raw, g.AttestOptions...); err != nil {
		return err
	}
	for _, doc := range g.VEX {
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("attesting the VEX statements of %s: %w", d, err)
		}
		if err := attest.AttestPredicate(ctx, d, g.Signer, attest.PredicateOpenVEX, raw, g.AttestOptions...); err != nil {
			return err
		}
	}
	return nil
}

// Predicate is the cosign vuln predicate for a scan result.
func Predicate(r *attest.VulnResult, db *DB, started, finished time.Time) *attest.VulnPredicate {
	return &attest.VulnPredicate{
		Invocation: attest.VulnInvocation{
			Parameters: map[string]string{"db": db.Dir()},
			URI:        provenance.BuilderID(),
			BuilderID:  provenance.BuilderID(),
		},
		Scanner: attest.VulnScanner{
			URI:     "https://github.com/drydock-dev/drydock",
			Version: provenance.Version(),
			DB:      attest.VulnDB{URI: "file://" + db.Dir(), Version: fmt.Sprintf("%d advisories", db.Len())},
			Result:  *r,
		},
		Metadata: attest.VulnMetadata{ScanStartedOn: started.UTC(), ScanFinishedOn: finished.UTC()},
	}
}

// packages lists d's packages with Packages when set; otherwise it takes
// the SBOM harden already made of d (build.WithSBOM), so the gate matches
// exactly what the SBOM attestation lists and the image is catalogued
// once, not twice.
func (g *Gate) packages(ctx context.Context, d name.Digest, res *build.Result) ([]Package, error) {
	switch {
	case g.Packages != nil:
		return g.Packages(ctx, d)
	case res != nil && res.SBOM != nil:
		return fromSBOM(res.SBOM), nil
	}
	return nil, fmt.Errorf("no SBOM of %s was made to scan (harden and mirror make one before signing)", d)
}

func fromSBOM(s *sbom.SBOM) []Package {
	var out []Package
	for _, p := range s.Packages() {
		out = append(out, Package{Name: p.Name, Version: p.Version, PURL: p.PURL})
	}
	return out
}
