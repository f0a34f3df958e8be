package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/launch/smoke"
	"github.com/drydock-dev/drydock/policies"
	"github.com/spf13/cobra"
)

type hardenFlags struct {
	base, oldBase, policy, strategy   string
	buildkit, progress, output, bases string
	smoke                             bool
	carry, smokeCalls                 []string
	sourceDateEpoch                   string
	sbomFormat                        string
	sign                              signFlags
	vuln                              vulnFlags
	// gate is set by hardenOptions when --vuln-db asks for a scan.
	gate *scan.Gate
}

// NewCmdHarden rebuilds an upstream image onto a hardened base.
func NewCmdHarden() *cobra.Command {
	var f hardenFlags
	cmd := &cobra.Command{
		Use:   "harden SRC --to DST [--base IMAGE] [--strategy auto|rebuild|inplace|rebase] [--carry PATH]... [--smoke=false] [--smoke-call TOOL=JSON]... [--key KEY [--certificate cert.pem]]",
		Short: "Harden an upstream MCP image (rebuild, inplace or rebase), label, smoke-test, sign and tag it",
		Long: `Resolve SRC to a digest and harden it with one of three strategies:
  rebuild  BuildKit: Merge(base, Diff(upstream base, upstream), hardening layer)
  inplace  BuildKit: the upstream filesystem plus the hardening layer
  rebase   registry level (go-containerregistry, no daemon): the app layers
           on the base plus the hardening layer, blobs mounted, all-OCI
auto (default) runs rebuild when the upstream base is known (--old-base, the
org.opencontainers.image.base.* annotations, or a bases-file upstream base
that is a layer prefix), rebase when it is known but BuildKit is unreachable
or when it was read from the image history (the layers above the ENTRYPOINT
["/bin/bash", "-l", "-c"] that starts Nixpacks' generated Dockerfile), and
inplace otherwise; the output says which ran and why. With --bases and no
--base the hardened base is the bases file's for the runtime detected from
the entrypoint and config. With neither, drydock generates its own minimal
static base (passwd and group with 65532, the upstream's CA certificates,
/tmp 1777, /home/nonroot; the same upstream always gives the same base
digest), named in the output.

Every strategy puts the same hardening layer on top: no setuid/setgid bits or
file capabilities, no world-writable paths outside the policy's tmpfs, no
device nodes, escaping symlinks neutralised, passwd/group/home for the
numeric user, and (rebuild, rebase; inplace when the policy sets removeTools)
no shells, package managers or compilers. Hard links are followed to their
inode, as the engines unpack them; an image with an entry written through a
symlink from a lower layer, or a hard link to a missing path or directory,
is refused (engines disagree on or fail at such layers).
--output json includes the report.

The start command is decided now, not at the first start: the upstream's
entrypoint and cmd (sh -c scripts, npm/pnpm/yarn/bun scripts, uv run, #!
lines and login-shell profiles seen through, never run) become an exec-form
entrypoint naming the program's absolute path, with PATH reduced to what the
policy's user can search. A command that needs a shell (pipes, variables set
at run time, a shell script) or whose program that user cannot reach (under
/root, say) is refused before anything is pushed. Output: "start: BEFORE →
AFTER" (JSON "start"); the provenance records it.
The start check (--smoke, on by default whenever a container engine answers
"docker version") starts the upstream and the result sandboxed; they must
answer MCP initialize/tools/prompts/resources lists alike, or nothing is
signed or tagged. --smoke=false skips it; without an engine it is skipped
and the output says so ("smoke: no start check ran (...)", JSON
"smokeSkipped"); an explicit --smoke without an engine is an error.
--smoke-call TOOL=JSON (repeatable, e.g. git_log='{"max":1}', or just TOOL
for no arguments) also calls that tool on both after tools/list: a call that
succeeds upstream (no JSON-RPC error, isError false) must succeed on the
result, or nothing is signed and the error names the tool and both results.

Servers that shell out to a tool of their base (git for a git server) lose
it when rebuild or rebase drop the upstream base. --carry PATH (repeatable;
an absolute path, or a name looked up in the upstream's PATH) copies that
executable from the upstream with everything it loads (its ELF interpreter
and shared libraries, read from the dynamic section as ld.so resolves them,
nothing run; a #! script's interpreter) into a layer on the hardened base.
inplace keeps them where they are. Tool removal leaves carried paths; the
hardening pass still applies to them (setuid bits cleared). A missing
executable or library is refused, naming both. The output lists the carried
paths (JSON "carried"); the provenance records them.

It sets a numeric non-root USER and the dev.drydock.policy label
(policies/default.yaml unless --policy), pushes the result to DST's
repository by digest, signs it with --key (and --certificate, see below),
attaches a signed SLSA
provenance v1 attestation (upstream, bases, strategy, policy and its sha256,
builder, drydock version) and a signed SBOM attestation of the hardened image
(see --sbom-format), and only then points DST at it. The SBOM lists what the
result holds (dpkg, npm, Python dist-info, Go build info, nix store packages),
not the upstream: what hardening removed is not in it. If it cannot be made,
nothing is signed or tagged.
The image is reproducible: every timestamp comes from one source date
(--source-date-epoch, else SOURCE_DATE_EPOCH, else the upstream's creation
time, recorded in the provenance), so the same inputs give the same digest;
drydock verify --rebuild checks that.
Without --key the image is pushed by digest and DST is not tagged: a tag never
names an unsigned image. The last line of output is DST@sha256:...

Vulnerability gate: --vuln-db DIR (an OSV database on disk, see README,
"Vulnerability gate") lists the pushed image's packages with the SBOM
catalogers and matches them offline before anything is signed; findings go
to stderr worst first. --vex FILE applies OpenVEX statements (not_affected or
fixed findings are listed as suppressed, never dropped). With --fail-on
SEVERITY a finding at or above it refuses the image: nothing is signed or
tagged (exit 1, naming the worst finding). Otherwise the scan is attached
as a signed vulnerability attestation ("cosign verify-attestation --type
vuln") and each VEX document as a signed OpenVEX one (--type openvex).

BuildKit: --buildkit-addr, else BUILDKIT_HOST, else ` + build.DefaultAddr + `.

` + signingHelp(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst, _ := cmd.Flags().GetString("to")
			opts, err := hardenOptions(&f, cmd)
			if err != nil {
				return err
			}
			res, err := build.Harden(cmd.Context(), args[0], dst, opts...)
			if f.gate != nil && f.gate.Result != nil {
				_ = scan.WriteText(cmd.ErrOrStderr(), f.gate.Result)
			}
			if err != nil {
				if res != nil && f.output == "json" {
					_ = json.NewEncoder(cmd.OutOrStdout()).Encode(res)
				}
				return err
			}
			if !res.Signed {
				fmt.Fprintf(cmd.ErrOrStderr(), "not tagging %s: the image is unsigned (pass --key to sign and tag)\n", dst)
			}
			if f.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			printHardenText(cmd.ErrOrStderr(), res)
			fmt.Fprintln(cmd.OutOrStdout(), res.Ref)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.String("to", "", "destination image, e.g. registry.internal/mcp/github:1 (required)")
	_ = cmd.MarkFlagRequired("to")
	fl.StringVar(&f.base, "base", "", "hardened base image (default: the --bases file's base for the detected runtime; without --bases, a minimal static base drydock generates)")
	fl.StringVar(&f.oldBase, "old-base", "", "upstream base image (default: from the image's org.opencontainers.image.base.* annotations, the bases file, or a Nixpacks image's history)")
	fl.StringVar(&f.policy, "policy", "", "runtime policy file, YAML or JSON (default: policies/default.yaml built in)")
	fl.StringVar(&f.strategy, "strategy", string(build.StrategyAuto), "how to harden: auto, rebuild (BuildKit), inplace (BuildKit) or rebase (registry, no daemon)")
	fl.StringVar(&f.bases, "bases", "", "bases file mapping runtimes to hardened bases (default: none; drydock generates a minimal static base)")
	fl.BoolVar(&f.smoke, "smoke", true, smokeHelp)
	fl.StringArrayVar(&f.smokeCalls, "smoke-call", nil, "with the start check, also call tool TOOL with JSON object arguments on upstream and hardened (TOOL=JSON, or TOOL); repeatable")
	fl.StringArrayVar(&f.carry, "carry", nil, "executable to carry from the upstream with its shared libraries (absolute path or name in the upstream's PATH); repeatable")
	fl.StringVar(&f.buildkit, "buildkit-addr", "", "BuildKit address (default: BUILDKIT_HOST or "+build.DefaultAddr+")")
	fl.StringVar(&f.progress, "progress", "auto", "BuildKit progress on stderr: auto, plain, tty, quiet")
	fl.StringVar(&f.output, "output", "text", "output format: text or json")
	f.sign.addFlags(cmd, keyHelp+"; without it nothing is signed or tagged")
	fl.StringVar(&f.sbomFormat, "sbom-format", sbom.FormatSPDX, sbomFormatHelp)
	f.vuln.addFlags(cmd)
	fl.StringVar(&f.sourceDateEpoch, "source-date-epoch", "", "seconds since 1970 UTC every timestamp in the image comes from (default: SOURCE_DATE_EPOCH, else the upstream's creation time)")
	return cmd
}

// hardenOptions is where flags become build options.
func hardenOptions(f *hardenFlags, cmd *cobra.Command) ([]build.Option, error) {
	if f.output != "text" && f.output != "json" {
		return nil, fmt.Errorf("--output %q: use text or json", f.output)
	}
	if err := sbom.CheckFormat(f.sbomFormat); err != nil {
		return nil, fmt.Errorf("--sbom-format: %w", err)
	}
	opts := []build.Option{
		build.WithBase(f.base),
		build.WithOldBase(f.oldBase),
		build.WithStrategy(build.Strategy(f.strategy)),
		build.WithBuildKitAddr(f.buildkit),
		build.WithProgress(cmd.ErrOrStderr(), f.progress),
	}
	for _, c := range f.carry {
		if err := build.CheckCarry(c); err != nil {
			return nil, fmt.Errorf("--carry: %w", err)
		}
	}
	opts = append(opts, build.WithCarry(f.carry...))
	calls, err := parseSmokeCalls(f.smokeCalls)
	if err != nil {
		return nil, err
	}
	if f.sourceDateEpoch != "" {
		t, err := build.ParseSourceDateEpoch(f.sourceDateEpoch)
		if err != nil {
			return nil, fmt.Errorf("--source-date-epoch: %w", err)
		}
		opts = append(opts, build.WithSourceDateEpoch(t))
	}
	if f.bases != "" {
		b, err := policies.LoadBases(f.bases)
		if err != nil {
			return nil, err
		}
		opts = append(opts, build.WithBases(b))
	}
	check, skipped, err := startCheck(cmd, f.smoke)
	if err != nil {
		return nil, err
	}
	switch {
	case check != nil:
		opts = append(opts, build.WithSmoke(check), build.WithSmokeCalls(calls...))
	case len(calls) > 0:
		// Asked-for calls never pass silently unmade.
		return nil, fmt.Errorf("--smoke-call needs the start check, which would not run (%s); drop --smoke=false or start the engine (DOCKER_HOST)", skipped)
	default:
		opts = append(opts, build.WithoutSmoke(skipped))
	}
	policy := policies.Default()
	if f.policy != "" {
		p, err := policies.Load(f.policy)
		if err != nil {
			return nil, err
		}
		policy = p
		opts = append(opts, build.WithPolicy(p))
	}
	if f.sign.given() {
		// Loaded before building, so a wrong password or a certificate
		// for another key costs no build.
		signer, cert, err := f.sign.signer(cmd.Context())
		if err != nil {
			return nil, err
		}
		// Sign, then attest how it was built, both carrying the
		// certificate; Harden tags only after both.
		// The gate scans before anything is signed; the SBOM of the pushed
		// image is made before anything is signed and attested after the
		// provenance, still before the tag moves.
		sign := provenance.SignFunc(signer, policy, time.Now(), attestOptions(cert)...)
		if f.gate, err = f.vuln.gate(signer, attestOptions(cert)); err != nil {
			return nil, err
		}
		if f.gate != nil {
			sign = f.gate.Wrap(sign)
		}
		opts = append(opts, build.WithSBOM(),
			build.WithSigner(build.SignWithSBOM(sign, signer, f.sbomFormat, attestOptions(cert)...)))
	} else if f.vuln.db != "" {
		return nil, fmt.Errorf("--vuln-db needs --key: the scan gates signing and its result is attested with that key")
	}
	return opts, nil
}

const smokeHelp = "start upstream and hardened under the policy's translation (network none) as drydock run does and compare their MCP lists; refuse to sign or tag on a difference (default: on when a container engine answers; --smoke=false skips it)"

// startCheck turns --smoke into the start check: on by default when the
// engine answers, with the reason when it does not run; an explicit
// --smoke without an engine is an error. harden and mirror share it.
func startCheck(cmd *cobra.Command, on bool) (build.SmokeFunc, string, error) {
	if !on {
		return nil, "skipped: --smoke=false", nil
	}
	if err := smoke.Available(cmd.Context()); err != nil {
		if cmd.Flags().Changed("smoke") {
			return nil, "", fmt.Errorf("--smoke: %w; start the engine (or set DOCKER_HOST), or pass --smoke=false", err)
		}
		return nil, fmt.Sprintf("not run: %v; the image was not started before signing (set DOCKER_HOST to an engine to check it)", err), nil
	}
	return smokeCheck, "", nil
}

// parseSmokeCalls reads --smoke-call TOOL=JSON (or TOOL) values; the JSON
// must be an object, the tool's arguments.
func parseSmokeCalls(vals []string) ([]build.SmokeCall, error) {
	var calls []build.SmokeCall
	for _, v := range vals {
		tool, args, hasArgs := strings.Cut(v, "=")
		if tool = strings.TrimSpace(tool); tool == "" {
			return nil, fmt.Errorf("--smoke-call %q: name the tool, as TOOL=JSON or TOOL", v)
		}
		c := build.SmokeCall{Tool: tool}
		if hasArgs {
			dec := json.NewDecoder(strings.NewReader(args))
			dec.UseNumber()
			if err := dec.Decode(&c.Arguments); err != nil || c.Arguments == nil || dec.More() {
				return nil, fmt.Errorf("--smoke-call %q: the arguments of %s must be one JSON object, e.g. %s='{\"path\":\".\"}'", v, tool, tool)
			}
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// printHardenText tells a human which strategy ran, why, and what changed.
func printHardenText(w io.Writer, res *build.Result) {
	fmt.Fprintf(w, "strategy %s (%s): %s\n", res.Strategy, res.Engine, res.StrategyReason)
	if res.Hardening != nil {
		fmt.Fprintf(w, "hardening: %s\n", res.Hardening.Summary())
	}
	if s := res.Start; s != nil && s.Kept != "" {
		fmt.Fprintf(w, "start: %s (%s)\n", s.Before, s.Kept)
	} else if s != nil {
		fmt.Fprintf(w, "start: %s → %s (in %s)\n", s.Before, s.After, s.WorkingDir)
	}
	if len(res.Carried) > 0 {
		fmt.Fprintf(w, "carried (%s): %s\n", strings.Join(res.Carry, ", "), strings.Join(res.Carried, " "))
	}
	if res.Smoke != nil {
		fmt.Fprintf(w, "smoke: upstream and hardened list the same %d tools\n", len(res.Smoke.Upstream.Tools))
		for _, c := range res.Smoke.Calls {
			fmt.Fprintf(w, "smoke: %s\n", callLine(c))
		}
	} else {
		fmt.Fprintf(w, "smoke: no start check ran (%s)\n", res.SmokeSkipped)
	}
}

// callLine says how one smoke call went on both sides.
func callLine(c build.SmokeCallOutcome) string {
	side := func(r *build.SmokeCallResult) string {
		switch {
		case r == nil:
			return "not made"
		case r.OK:
			return "ok"
		}
		return fmt.Sprintf("failed (%s)", r.Text)
	}
	up := c.Upstream
	return fmt.Sprintf("call %s: upstream %s, hardened %s", c.Tool, side(&up), side(c.Hardened))
}
