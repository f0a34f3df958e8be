package mirror

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the final table for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tSTRATEGY\tUPSTREAM\tHARDENED\tSMOKE\tPKGS\tVULNS\tTIME\tREASON")
	for _, e := range r.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1fs\t%s\n", e.Name, e.Status, dash(string(e.Strategy)),
			dash(short(e.Upstream)), dash(short(e.Hardened)), e.Smoke, pkgs(e), vulnCell(e), e.Seconds, oneLine(e.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.summary())
	return err
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as Markdown, for CI step summaries
// ($GITHUB_STEP_SUMMARY).
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## drydock mirror → `%s` (shard %s)\n\n%s\n\n", r.Prefix, r.Shard, r.summary())
	b.WriteString("| name | status | strategy | upstream digest | hardened digest | smoke | packages | vulnerabilities | time | reason |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range r.Entries {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.1fs | %s |\n", mdCell(e.Name), statusIcon(e.Status), dash(string(e.Strategy)),
			code(e.Upstream), code(e.Hardened), e.Smoke, pkgs(e), vulnCell(e), e.Seconds, mdCell(oneLine(e.Reason)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) summary() string {
	return fmt.Sprintf("%d hardened, %d skipped, %d failed of %d (catalog %d, shard %s, %d jobs) in %.1fs",
		r.Hardened, r.Skipped, r.Failed, len(r.Entries), r.Catalog, r.Shard, r.Jobs, r.Seconds)
}

// pkgs is the entry's package count, "-" when no scan ran.
func pkgs(e EntryResult) string {
	if e.Packages == 0 {
		return "-"
	}
	return fmt.Sprint(e.Packages)
}

func statusIcon(s string) string {
	if s == StatusFailed {
		return "**failed**"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func code(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + s + "`"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
