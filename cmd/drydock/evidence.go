package main

import (
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/launch"
	"github.com/spf13/cobra"
)

// explainAttestations prints, as "#" lines, which signed attestations the
// verified image carries and what its newest signed scan found.
func explainAttestations(cmd *cobra.Command, res *launch.Verified, trust *trustFlags) error {
	v, err := trust.verifier(cmd.Context())
	if err != nil {
		return err
	}
	ev, err := attest.Inspect(cmd.Context(), res.Digest, v)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), evidenceLines(ev))
	return nil
}

// evidenceLines says which kinds were found and summarises the scan.
func evidenceLines(ev *attest.Evidence) string {
	var found, missing []string
	for _, k := range attest.Kinds() {
		if pt := ev.Found[k]; pt != "" {
			found = append(found, k+" ("+pt+")")
		} else {
			missing = append(missing, k)
		}
	}
	lines := []string{"# signed attestations: " + orNoneList(found), "# not found: " + orNoneList(missing)}
	if ev.Vuln != nil {
		r := &ev.Vuln.Scanner.Result
		lines = append(lines, fmt.Sprintf("# vulnerability scan of %s: %s", ev.Vuln.Metadata.ScanFinishedOn.Format("2006-01-02 15:04 MST"), scan.Summary(r)))
		if w := r.Worst(); w != nil {
			lines = append(lines, fmt.Sprintf("# worst: %s (%s) in %s %s", w.ID, w.Severity, w.Package, w.Version))
		}
	}
	return strings.Join(lines, "\n")
}

func orNoneList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
