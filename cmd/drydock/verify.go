package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/reproduce"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

type verifyOutput struct {
	Ref      string           `json:"ref"`
	Digest   string           `json:"digest"`
	Verified bool             `json:"verified"`
	Policy   *policies.Policy `json:"policy"`
	// Rebuild is set with --rebuild.
	Rebuild *reproduce.Report `json:"rebuild,omitempty"`
	// Attestations are the required kinds found (with --require or a
	// floor's require section) and Vulnerabilities the signed scan's
	// counts per severity.
	Attestations    map[string]string `json:"attestations,omitempty"`
	Vulnerabilities map[string]int    `json:"vulnerabilities,omitempty"`
}

// NewCmdVerify checks an image's signature and policy label.
func NewCmdVerify() *cobra.Command {
	var (
		output, floorFile string
		vf                verifyFlags
		rebuild           bool
	)
	cmd := &cobra.Command{
		Use:   "verify IMAGE (--key cosign.pub | --trusted-root trusted_root.json --certificate-identity ID --certificate-oidc-issuer URL) [--floor FILE]",
		Short: "Verify an image's signature and policy label (exit 0 verified, 1 refused)",
		Long: `Resolve IMAGE once to a digest, verify that digest's cosign signature with
--key (the signature must be for this digest and this repository), and check
its dev.drydock.policy label. Exit 0 when verified, 1 when refused (the reason
is on stderr), 2 on other errors. The last line of text output is the
verified IMAGE@sha256:...

IMAGE is resolved once; for an image index the image of this machine's
platform is the one whose signature must verify (and the one printed).

Keyless: instead of --key, --trusted-root (sigstore's trusted_root.json
naming the certificate authorities you trust) with --certificate-identity
(or --certificate-identity-regexp) and --certificate-oidc-issuer (or
--certificate-oidc-issuer-regexp) accepts signatures whose certificate that
CA issued to that identity. A pattern must match the whole identity or
issuer (it is anchored), and one that accepts anyone (.*, .+, https://.*)
is refused. It is offline: no transparency log, CT log or
timestamp authority is consulted, so the certificate must be valid now
(see README, "Keyless signing").

--require sbom,vuln (kinds: slsa, sbom, vuln, openvex) requires signed
attestations of those kinds, signed by the same key and naming the verified
digest; --max-severity LEVEL refuses an image whose newest signed
vulnerability scan ("drydock harden --vuln-db") lists an unsuppressed finding
above LEVEL. The floor's require section (require: {attestations: [slsa,
sbom, vuln], maxSeverity: high}) applies as well; the stricter wins.

--attestations also requires a signed SLSA provenance v1 attestation whose
signed statement has that predicate type and names the verified digest as
its subject; --source-digest additionally pins the upstream digest it
records. --allow-repository accepts signatures made for another repository
(a mirror that copied them).

Sigstore bundle signatures (cosign --new-bundle-format, the default of
cosign v3) are read too, but cosign's name no repository, so a copy in any
repository would verify alike: they are refused unless
--allow-unbound-bundles says this key or identity signs this repository
alone. A bundle whose statement names another repository is refused.

The policy must stay within this machine's floor (--floor FILE, else
~/.config/drydock/floor.yaml, else a built-in strict floor), as for run.

--rebuild also reads the verified provenance attestation, hardens again
from the inputs it records (upstream, bases, strategy, engine, policy,
source date) into the scratch repository IMAGE-REPO-drydock-rebuild (by
digest, unsigned, never tagged; BuildKit from BUILDKIT_HOST for the
rebuild and inplace strategies) and requires the same digest. A different
digest is refused (exit 1) naming the first difference: a layer index and
its first differing path, or a config or manifest field.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: use text or json", output)
			}
			v, ao, floor, err := vf.load(cmd.Context(), floorFile)
			if err != nil {
				return err
			}
			req, err := vf.requirements()
			if err != nil {
				return err
			}
			res, err := launch.Verify(cmd.Context(), args[0], launch.WithVerifier(v), launch.WithAttestOptions(ao...), launch.WithFloor(floor), launch.WithRequirements(req))
			if err != nil {
				return err
			}
			out := newVerifyOutput(res)
			if rebuild {
				// reproduce takes the digest launch verified: build never imports launch.
				if err := verifyRebuild(cmd, v, ao, output, &out, res.Digest); err != nil {
					return err
				}
			}
			return printVerified(cmd, output, args[0], res, out)
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	cmd.Flags().BoolVar(&rebuild, "rebuild", false, "also harden again from the verified provenance into a scratch repository and require the same digest")
	vf.addFlags(cmd)
	addFloorFlag(cmd, &floorFile)
	return cmd
}

// newVerifyOutput is what verify reports about a verified image.
func newVerifyOutput(res *launch.Verified) verifyOutput {
	out := verifyOutput{Ref: res.Digest.String(), Digest: res.Digest.DigestStr(), Verified: true, Policy: res.Policy}
	if ev := res.Evidence; ev != nil {
		out.Attestations = ev.Found
		if ev.Vuln != nil {
			out.Vulnerabilities = ev.Vuln.Scanner.Result.Counts()
		}
	}
	return out
}

// printVerified prints verify's report: JSON, or the digest on stdout
// after what was verified on stderr.
func printVerified(cmd *cobra.Command, output, image string, res *launch.Verified, out verifyOutput) error {
	if output == "json" {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Verified signature and policy of %s\n", image)
	if ev := res.Evidence; ev != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), evidenceLines(ev))
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.Digest)
	return nil
}

// verifyRebuild runs --rebuild on the verified digest d and reports it
// (on a refusal with json output, the report goes out before the error).
func verifyRebuild(cmd *cobra.Command, v signature.Verifier, ao []attest.Option, output string, out *verifyOutput, d name.Digest) error {
	rep, err := reproduce.Verify(cmd.Context(), d, v, reproduce.WithAttestOptions(ao...))
	if err != nil {
		if rep != nil && output == "json" {
			out.Verified, out.Rebuild = false, rep
			_ = json.NewEncoder(cmd.OutOrStdout()).Encode(out)
		}
		return err
	}
	out.Rebuild = rep
	fmt.Fprintf(cmd.ErrOrStderr(), "Rebuilt from its provenance (%s, %s engine) to the same digest in %s\n", rep.Inputs.Strategy, rep.Engine, rep.Duration.Round(time.Millisecond))
	if rep.VersionNote != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", rep.VersionNote)
	}
	return nil
}

// load turns the flags into the verifier, attest options and floor.
func (f *verifyFlags) load(ctx context.Context, floorFile string) (signature.Verifier, []attest.Option, *policies.Floor, error) {
	v, err := f.verifier(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	ao, err := f.attestOptions()
	if err != nil {
		return nil, nil, nil, err
	}
	floor, err := policies.LoadFloor(floorFile)
	if err != nil {
		return nil, nil, nil, err
	}
	return v, ao, floor, nil
}

// verifyFlags are the trust flags plus verify's attestation requirements.
type verifyFlags struct {
	trustFlags
	attestations bool
	sourceDigest string
	allowRepos   []string
	unbound      bool
	require      []string
	maxSeverity  string
}

func (f *verifyFlags) addFlags(cmd *cobra.Command) {
	f.trustFlags.addFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.attestations, "attestations", false, "also require a signed SLSA provenance v1 attestation for the verified digest")
	fl.StringVar(&f.sourceDigest, "source-digest", "", "require the provenance to record this upstream digest (sha256:...); implies --attestations")
	fl.StringSliceVar(&f.allowRepos, "allow-repository", nil, "also accept signatures made for this repository (mirrors); repeatable")
	fl.StringSliceVar(&f.require, "require", nil, "also require signed attestations of these kinds: slsa, sbom, vuln, openvex (comma-separated); adds to the floor's require.attestations")
	fl.StringVar(&f.maxSeverity, "max-severity", "", "refuse when the newest signed vulnerability scan has an unsuppressed finding above this severity (none, unknown, low, medium, high, critical); the floor's require.maxSeverity applies too")
	fl.BoolVar(&f.unbound, "allow-unbound-bundles", false, "also accept Sigstore bundle signatures that name no repository (cosign --new-bundle-format, cosign v3's default); only when this key or identity signs this one repository alone")
}

// requirements is where --require and --max-severity become attestation
// requirements.
func (f *verifyFlags) requirements() (attest.Requirements, error) {
	r := attest.Requirements{Attestations: f.require}
	for _, k := range f.require {
		if !slices.Contains(attest.Kinds(), k) {
			return r, fmt.Errorf("--require %q: use %s", k, strings.Join(attest.Kinds(), ", "))
		}
	}
	if f.maxSeverity != "" {
		s, err := attest.ParseSeverity(f.maxSeverity)
		if err != nil {
			return r, fmt.Errorf("--max-severity: %w", err)
		}
		r.MaxSeverity = &s
	}
	return r, nil
}

// attestOptions is where the flags become attest options.
func (f *verifyFlags) attestOptions() ([]attest.Option, error) {
	var ao []attest.Option
	if f.attestations {
		ao = append(ao, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
	}
	if f.sourceDigest != "" {
		ao = append(ao, attest.WithSourceDigest(f.sourceDigest))
	}
	if len(f.allowRepos) > 0 {
		ao = append(ao, attest.WithAllowedRepositories(f.allowRepos...))
	}
	if f.unbound {
		ao = append(ao, attest.WithUnboundBundles())
	}
	return ao, nil
}
