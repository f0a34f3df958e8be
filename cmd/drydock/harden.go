package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
)

type hardenFlags struct {
	base, oldBase, policy, key, strategy string
	buildkit, progress, output           string
}

// NewCmdHarden rebuilds an upstream image onto a hardened base.
func NewCmdHarden() *cobra.Command {
	var f hardenFlags
	cmd := &cobra.Command{
		Use:   "harden SRC --to DST --base IMAGE",
		Short: "Rebuild an upstream MCP image onto a hardened base, label, sign and tag it",
		Long: `Resolve SRC to a digest, rebuild it with BuildKit as
Merge(base, Diff(upstream base, upstream)), set a numeric non-root USER and the
dev.drydock.policy label (policies/default.yaml unless --policy), push it to
DST's repository by digest, sign it with --key, attach a signed SLSA
provenance v1 attestation (upstream, bases, strategy, policy and its sha256,
builder, drydock version), and only then point DST at it.
Without --key the image is pushed by digest and DST is not tagged: a tag never
names an unsigned image. The last line of output is DST@sha256:...

BuildKit: --buildkit-addr, else BUILDKIT_HOST, else ` + build.DefaultAddr + `.
The key password comes from COSIGN_PASSWORD or a prompt.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst, _ := cmd.Flags().GetString("to")
			opts, err := hardenOptions(f, cmd)
			if err != nil {
				return err
			}
			res, err := build.Harden(cmd.Context(), args[0], dst, opts...)
			if err != nil {
				return err
			}
			if !res.Signed {
				fmt.Fprintf(cmd.ErrOrStderr(), "not tagging %s: the image is unsigned (pass --key to sign and tag)\n", dst)
			}
			if f.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Ref)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.String("to", "", "destination image, e.g. registry.internal/mcp/github:1 (required)")
	_ = cmd.MarkFlagRequired("to")
	fl.StringVar(&f.base, "base", "", "hardened base image (required)")
	fl.StringVar(&f.oldBase, "old-base", "", "upstream base image (default: from the image's org.opencontainers.image.base.* annotations)")
	fl.StringVar(&f.policy, "policy", "", "runtime policy file, YAML or JSON (default: policies/default.yaml built in)")
	fl.StringVar(&f.key, "key", "", "cosign private key to sign with; without it nothing is tagged")
	fl.StringVar(&f.strategy, "strategy", "rebuild", "how to harden: rebuild (BuildKit LLB)")
	fl.StringVar(&f.buildkit, "buildkit-addr", "", "BuildKit address (default: BUILDKIT_HOST or "+build.DefaultAddr+")")
	fl.StringVar(&f.progress, "progress", "auto", "BuildKit progress on stderr: auto, plain, tty, quiet")
	fl.StringVar(&f.output, "output", "text", "output format: text or json")
	return cmd
}

// hardenOptions is where flags become build options.
func hardenOptions(f hardenFlags, cmd *cobra.Command) ([]build.Option, error) {
	if f.strategy != "rebuild" {
		return nil, fmt.Errorf("--strategy %q is not available yet; use rebuild", f.strategy)
	}
	if f.output != "text" && f.output != "json" {
		return nil, fmt.Errorf("--output %q: use text or json", f.output)
	}
	opts := []build.Option{
		build.WithBase(f.base),
		build.WithOldBase(f.oldBase),
		build.WithBuildKitAddr(f.buildkit),
		build.WithProgress(cmd.ErrOrStderr(), f.progress),
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
	if f.key != "" {
		pw, err := password(false)
		if err != nil {
			return nil, err
		}
		signer, err := attest.LoadSigner(f.key, pw)
		if err != nil {
			return nil, err
		}
		started := time.Now()
		// Sign, then attest how it was built; Harden tags only after both.
		opts = append(opts, build.WithSigner(func(ctx context.Context, d name.Digest, res *build.Result) error {
			if err := attest.Sign(ctx, d, signer); err != nil {
				return err
			}
			prov, err := hardenProvenance(res, policy, started)
			if err != nil {
				return err
			}
			return attest.Attest(ctx, d, signer, prov)
		}))
	}
	return opts, nil
}
