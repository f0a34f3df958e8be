package scan

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Ref resolves ref once to the digest of this platform's image and scans
// that digest (Image).
func Ref(ctx context.Context, ref string, v signature.Verifier, db *DB, docs []*vex.VEX, opts ...attest.Option) (name.Digest, *attest.VulnResult, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	d, err := attest.Resolve(ctx, r, opts...)
	if err != nil {
		return name.Digest{}, nil, err
	}
	res, err := Image(ctx, d, v, db, docs, opts...)
	return d, res, err
}

// Check is drydock scan: Ref with g's database and VEX documents, then
// g's limit. Over the limit the result comes back with the refusal (a
// *attest.RefusalError), so that the findings can be shown first; any other
// error comes with no result.
func (g *Gate) Check(ctx context.Context, ref string, v signature.Verifier, opts ...attest.Option) (name.Digest, *attest.VulnResult, error) {
	d, res, err := Ref(ctx, ref, v, g.DB, g.VEX, opts...)
	if err != nil {
		return d, nil, err
	}
	if g.FailOn != nil {
		if w := res.Over(*g.FailOn); w != nil {
			return d, res, RefuseOver(d.String(), "", w, *g.FailOn)
		}
	}
	return d, res, nil
}

// Summary is one line: packages, findings per severity (worst first) and
// how many VEX suppressed.
func Summary(r *attest.VulnResult) string {
	c := r.Counts()
	var parts []string
	for s := attest.SeverityCritical; s >= attest.SeverityUnknown; s-- {
		if n := c[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	by := ""
	if len(parts) > 0 {
		by = " (" + strings.Join(parts, ", ") + ")"
	}
	return fmt.Sprintf("%d packages, %d findings%s, %d suppressed by VEX", r.Packages, len(r.Findings), by, len(r.Suppressed))
}

// WriteText writes the findings worst first, then the suppressed ones
// with the VEX status and justification that suppressed them.
func WriteText(w io.Writer, r *attest.VulnResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, Summary(r))
	if len(r.Findings) > 0 {
		fmt.Fprintln(tw, "SEVERITY\tID\tPACKAGE\tVERSION\tFIXED IN")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.ID, f.Package, f.Version, orDash(f.FixedIn))
		}
	}
	if len(r.Suppressed) > 0 {
		fmt.Fprintln(tw, "SUPPRESSED\tID\tPACKAGE\tVERSION\tVEX")
		for _, f := range r.Suppressed {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s: %s\n", f.Severity, f.ID, f.Package, f.Version, f.Status, f.Justification)
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
