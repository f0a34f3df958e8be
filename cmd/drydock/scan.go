package main

import (
	"encoding/json"
	"fmt"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

// vulnFlags are the vulnerability gate's flags, shared by scan, harden and
// mirror.
type vulnFlags struct {
	db, failOn string
	vex        []string
}

func (f *vulnFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.db, "vuln-db", "", "OSV vulnerability database folder (OSV JSON records and/or osv.dev per-ecosystem all.zip files); read offline")
	fl.StringVar(&f.failOn, "fail-on", "", "refuse when an unsuppressed finding is at or above this severity: unknown, low, medium, high or critical")
	fl.StringSliceVar(&f.vex, "vex", nil, "OpenVEX document (JSON) whose not_affected/fixed statements suppress findings (listed, never dropped); repeatable")
}

// load reads the database, the VEX documents and the limit; db is nil
// when --vuln-db is not given.
func (f *vulnFlags) load() (*scan.DB, []*vex.VEX, *attest.Severity, error) {
	if f.db == "" {
		if f.failOn != "" || len(f.vex) > 0 {
			return nil, nil, nil, fmt.Errorf("--fail-on and --vex need --vuln-db DIR")
		}
		return nil, nil, nil, nil
	}
	db, err := scan.LoadDB(f.db)
	if err != nil {
		return nil, nil, nil, err
	}
	var docs []*vex.VEX
	for _, p := range f.vex {
		d, err := scan.LoadVEX(p)
		if err != nil {
			return nil, nil, nil, err
		}
		docs = append(docs, d)
	}
	if f.failOn == "" {
		return db, docs, nil, nil
	}
	s, err := attest.ParseSeverity(f.failOn)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--fail-on: %w", err)
	}
	return db, docs, &s, nil
}

// gate builds the harden/mirror gate for one signer; nil without
// --vuln-db.
func (f *vulnFlags) gate(signer signature.Signer, ao []attest.Option) (*scan.Gate, error) {
	db, docs, limit, err := f.load()
	if err != nil || db == nil {
		return nil, err
	}
	// No Packages: the gate matches the SBOM harden and mirror make.
	return &scan.Gate{DB: db, VEX: docs, FailOn: limit, Signer: signer, AttestOptions: ao}, nil
}

type scanOutput struct {
	Ref    string             `json:"ref"`
	Result *attest.VulnResult `json:"result"`
}

// NewCmdScan matches an image's signed SBOM against an offline OSV
// database.
func NewCmdScan() *cobra.Command {
	var (
		trust  trustFlags
		vf     vulnFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "scan IMAGE --vuln-db DIR (--key cosign.pub | keyless flags) [--vex FILE] [--fail-on SEVERITY] [--output text|json]",
		Short: "Match an image's signed SBOM against an offline OSV database (exit 1 at --fail-on)",
		Long: `Resolve IMAGE once to a digest, verify its signature and its signed SBOM
attestation (SPDX or CycloneDX, as harden attaches) with --key, and match the
SBOM's packages (deb, npm, PyPI and Go purls) against the OSV database in
--vuln-db, offline. Findings are printed worst first; --vex FILE applies
OpenVEX statements, whose not_affected or fixed findings are listed apart as
suppressed (never dropped). With --fail-on SEVERITY an unsuppressed finding
at or above it exits 1; an image without a signed SBOM is refused (exit 1).

Severity comes from the advisory: the database's rating
(database_specific.severity, as GitHub advisories carry), else the highest
CVSS v3/v4 base score; advisories that state none (most Debian ones) are
"unknown", below low. Fill the folder from osv.dev (see README, "Vulnerability
gate").`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: use text or json", output)
			}
			if vf.db == "" {
				return fmt.Errorf("no vulnerability database: pass --vuln-db DIR")
			}
			v, err := trust.verifier(cmd.Context())
			if err != nil {
				return err
			}
			g, err := vf.gate(nil, nil)
			if err != nil {
				return err
			}
			d, res, refused := g.Check(cmd.Context(), args[0], v)
			if res == nil {
				return refused
			}
			if err := writeScan(cmd, output, d, res); err != nil {
				return err
			}
			return refused
		},
	}
	trust.addFlags(cmd)
	vf.addFlags(cmd)
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

// writeScan prints the findings: JSON, or the digest and a table.
func writeScan(cmd *cobra.Command, output string, d name.Digest, res *attest.VulnResult) error {
	if output == "json" {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(scanOutput{Ref: d.String(), Result: res})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: ", d)
	return scan.WriteText(cmd.OutOrStdout(), res)
}
