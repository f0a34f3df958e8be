package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type mirrorFlags struct {
	to, shard, output, summary string
	indexShard                 string
	buildkit                   []string
	jobs                       int
	force, smoke               bool
	sbomFormat                 string
	sign                       signFlags
	vuln                       vulnFlags
}

// NewCmdMirror hardens, signs and attests a whole catalog.
func NewCmdMirror() *cobra.Command {
	var f mirrorFlags
	cmd := &cobra.Command{
		Use:   "mirror CATALOG --to PREFIX [--key cosign.key [--certificate cert.pem]] [--jobs N] [--shard I/N] [--smoke=false] [--output json]",
		Short: "Harden, sign and attest every server of a catalog under one prefix, skipping what is already done",
		Long: `Mirror each server of CATALOG to PREFIX/NAME:TAG (TAG: the server's tag, else
the source's tag, else latest). An entry is skipped when its target already
verifies with the key and its signed provenance records the same upstream
digest, hardened base digest, policy sha256 and strategy; --force re-does all.
Otherwise it is hardened as "drydock harden" does, start-checked, signed and
attested (SLSA provenance and an SBOM of the hardened image, in
--sbom-format, else the catalog's defaults.sbomFormat, else SPDX), and only
then tagged, so a tag never names an unsigned image and a
killed run can simply be started again. The start check (--smoke) runs by
default whenever a container engine answers; --smoke=false skips it (even
when the catalog sets defaults.smoke), and when none ran stderr and the JSON
("smokeSkipped") say why. A server's carry: [PATH...] and smoke: {calls:
[{tool: NAME, arguments: {...}}]} work as harden's --carry and --smoke-call.

--jobs entries run at once, spread over the BuildKit daemons given by repeated
--buildkit-addr (or a comma list in BUILDKIT_HOST); each entry goes to the
least busy one. --shard I/N keeps the entries whose name hashes to shard I of
N, for CI matrix jobs; --index-shard I/N is the same with I counted from 0,
for a Kubernetes indexed Job's $(JOB_COMPLETION_INDEX) (see "drydock kube
mirror-job"). Transient registry and builder errors are retried with
backoff; a failing entry never stops the others, and the exit code is 2 when
any failed.

Status goes to stderr (redrawn in place on a terminal, plain lines
otherwise); the final table (or --output json) to stdout; --summary FILE
writes Markdown for CI step summaries (e.g. $GITHUB_STEP_SUMMARY).

--vuln-db DIR (with --fail-on and --vex as for harden) scans every hardened
entry before it is signed; an entry over --fail-on fails with nothing
signed or tagged. A server's vex: FILE (OpenVEX JSON, relative to the
catalog) applies to that server only. The scan and the VEX documents are
attached as signed attestations; the report gains each entry's package
count and findings by severity ("+N VEX" counts the suppressed ones).
Entries skipped as up to date are not rescanned (use --force after
refreshing the database).
The signing key comes from --key (with --certificate and
--certificate-chain), else from the catalog's defaults.key (with
defaults.certificate and defaults.certificateChain, paths relative to the
catalog); flags replace all three defaults together. With a certificate
whose chain ends in its root CA, a target is skipped only when it verifies
keylessly for that certificate's identity under that root (whichever key
signed it, so a fresh certified key per CI run still skips finished work
while the earlier certificates are valid); otherwise only when it verifies
with this run's key.

` + signingHelp(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, opts, err := mirrorOptions(cmd, args[0], &f)
			if err != nil {
				return err
			}
			rep, runErr := mirror.Run(cmd.Context(), cat, f.to, opts...)
			if rep == nil {
				return runErr
			}
			if rep.SmokeSkipped != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "smoke: no start check ran (%s)\n", rep.SmokeSkipped)
			}
			return errors.Join(writeMirrorReport(cmd.OutOrStdout(), rep, &f), runErr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "mirror prefix, e.g. registry.internal/mcp (required)")
	_ = cmd.MarkFlagRequired("to")
	f.sign.addFlags(cmd, keyHelp+" (default: the catalog's defaults.key)")
	fl.IntVar(&f.jobs, "jobs", 4, "entries worked on at once")
	fl.StringVar(&f.shard, "shard", "1/1", "mirror only shard I of N (entries hashed by name)")
	fl.StringVar(&f.indexShard, "index-shard", "", "like --shard, with I counted from 0: $(JOB_COMPLETION_INDEX)/N in an indexed Job")
	fl.StringArrayVar(&f.buildkit, "buildkit-addr", nil, "BuildKit daemon; repeat or comma-separate for several (default: BUILDKIT_HOST or "+build.DefaultAddr+")")
	fl.StringVar(&f.sbomFormat, "sbom-format", "", sbomFormatHelp+" (default: the catalog's defaults.sbomFormat, else spdx)")
	fl.BoolVar(&f.force, "force", false, "re-harden every entry even when its target is up to date")
	fl.BoolVar(&f.smoke, "smoke", true, smokeHelp)
	fl.StringVar(&f.output, "output", "text", "output format: text (a table) or json")
	fl.StringVar(&f.summary, "summary", "", "also write a Markdown summary to this file")
	f.vuln.addFlags(cmd)
	cmd.AddCommand(NewCmdMirrorImportMetorial())
	return cmd
}

// mirrorOptions is where flags become mirror options.
func mirrorOptions(cmd *cobra.Command, file string, f *mirrorFlags) (*mirror.Catalog, []mirror.Option, error) {
	if f.output != "text" && f.output != "json" {
		return nil, nil, fmt.Errorf("--output %q: use text or json", f.output)
	}
	shard, err := zeroBasedShard(f)
	if err != nil {
		return nil, nil, err
	}
	i, n, err := mirror.ParseShard(shard)
	if err != nil {
		return nil, nil, err
	}
	cat, err := mirror.Load(file)
	if err != nil {
		return nil, nil, err
	}
	sf := f.sign
	if !sf.given() {
		sf.key = cat.KeyPath()
		sf.cert, sf.chain = cat.CertificatePaths()
	}
	if sf.key == "" && sf.cert == "" {
		return nil, nil, fmt.Errorf("no signing key: pass --key cosign.key or set defaults.key in %s", file)
	}
	signer, cert, err := sf.signer(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	status := mirror.NewStatus(cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()))
	opts := []mirror.Option{
		mirror.WithSigner(signer),
		mirror.WithJobs(f.jobs),
		mirror.WithShard(i, n),
		mirror.WithBuildKitAddrs(f.buildkit...),
		mirror.WithForce(f.force),
		mirror.WithEvents(status.Event),
		mirror.WithMessage(cliMessage),
	}
	if cert != nil {
		opts = append(opts, mirror.WithCertificate(cert))
	}
	if f.sbomFormat != "" {
		if err := sbom.CheckFormat(f.sbomFormat); err != nil {
			return nil, nil, fmt.Errorf("--sbom-format: %w", err)
		}
		opts = append(opts, mirror.WithSBOMFormat(f.sbomFormat))
	}
	check, skipped, err := startCheck(cmd, f.smoke)
	if err != nil {
		return nil, nil, err
	}
	if check != nil {
		opts = append(opts, mirror.WithSmoke(check))
	} else {
		opts = append(opts, mirror.WithoutSmoke(skipped))
	}
	g, err := f.vuln.gate(signer, nil)
	if err != nil {
		return nil, nil, err
	}
	if g != nil {
		opts = append(opts, mirror.WithVulnGate(g.DB, g.FailOn, g.Packages, g.VEX...))
	}
	return cat, opts, nil
}

func writeMirrorReport(w io.Writer, rep *mirror.Report, f *mirrorFlags) error {
	if f.summary != "" {
		out, err := os.Create(f.summary)
		if err != nil {
			return fmt.Errorf("writing summary: %w", err)
		}
		err = errors.Join(rep.WriteMarkdown(out), out.Close())
		if err != nil {
			return fmt.Errorf("writing summary %s: %w", f.summary, err)
		}
	}
	if f.output == "json" {
		return rep.WriteJSON(w)
	}
	return rep.WriteTable(w)
}

func isTerminal(w io.Writer) bool {
	fd, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(fd.Fd()))
}

// NewCmdMirrorImportMetorial converts metorial's catalog layout.
func NewCmdMirrorImportMetorial() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "import-metorial DIR [--out catalog.yaml]",
		Short: "Convert a metorial/mcp-containers checkout into a drydock mirror catalog",
		Long: `Read DIR/catalog/<owner>/<repo>/<id>/manifest.json and versions/<commit>/version.json
and write a catalog with one server per image metorial built: name owner--repo--id,
source ghcr.io/metorial/mcp-container--owner--repo--id:<commit> (lowercase; the newest
version by createdAt), upstream: the version, createdAt, runtime and start command of
its build plan (for review). Environment config fields are allowed variables;
argumentsTemplate and cli fields become args with {{NAME}} placeholders ({{NAME?}}
when optional), filled at run time from --env NAME; directory placeholders become
declared read-only mounts at /mnt/<name>. metorial records no network needs: every
server keeps the default policy's network (none) until you add policy.network.allow.
Odd entries (case or layout oddities, duplicates, unbuilt manifests) are notes on
stderr and in the server's notes, never an abort.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, notes, err := mirror.ImportMetorial(args[0])
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "imported %d servers with %d notes\n", len(cat.Servers), len(notes))
			data, err := cat.Encode()
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return fmt.Errorf("writing catalog: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the catalog to this file instead of stdout")
	return cmd
}

// zeroBasedShard turns --index-shard I/N (I from 0) into --shard's I+1/N.
func zeroBasedShard(f *mirrorFlags) (string, error) {
	if f.indexShard == "" {
		return f.shard, nil
	}
	if f.shard != "1/1" {
		return "", errors.New("give --shard or --index-shard, not both")
	}
	var i, n int
	if _, err := fmt.Sscanf(f.indexShard, "%d/%d", &i, &n); err != nil || fmt.Sprintf("%d/%d", i, n) != f.indexShard || i < 0 || i >= n {
		return "", fmt.Errorf("--index-shard %q: want I/N with 0 ≤ I < N, e.g. 0/4", f.indexShard)
	}
	return fmt.Sprintf("%d/%d", i+1, n), nil
}
