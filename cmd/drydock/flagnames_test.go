package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/drydock-dev/drydock/launch/kube"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestCLIMessage: the library names the missing input by its option, the
// CLI by its flag, and everything around it stays as it was (build's own
// sentences are pinned by build's TestPlanInputErrors).
func TestCLIMessage(t *testing.T) {
	pass := func(field, problem string, err error) *build.InputError {
		return inputerr.New(func(n func(string) string) string { return problem + "; pass " + n(field) }, err, field)
	}
	rebuild := pass("oldBase", "strategy rebuild: the upstream base of r@sha256:1 was debian:12; BuildKit needs it as an image", nil)
	base := pass("base", "no hardened base for r@sha256:1: no runtime detected", nil)
	tests := []struct {
		name     string
		err      error
		lib, cli string
	}{
		{"old base, wrapped", fmt.Errorf("planning r: %w", rebuild),
			"planning r: strategy rebuild: the upstream base of r@sha256:1 was debian:12; BuildKit needs it as an image; pass oldBase",
			"planning r: strategy rebuild: the upstream base of r@sha256:1 was debian:12; BuildKit needs it as an image; pass --old-base IMAGE"},
		{"base", base,
			"no hardened base for r@sha256:1: no runtime detected; pass base",
			"no hardened base for r@sha256:1: no runtime detected; pass --base IMAGE"},
		{"other errors unchanged", errors.New("pass --x"), "pass --x", "pass --x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.lib, tt.err.Error())
			require.Equal(t, tt.cli, cliMessage(tt.err))
		})
	}
	require.ErrorIs(t, fmt.Errorf("x: %w", pass("oldBase", "p", build.ErrNoUpstreamBase)), build.ErrNoUpstreamBase)
}

// TestCLIMessageLibraries: each library's input errors, made by the
// library itself, name its fields; the CLI prints drydock's flags in their
// place and keeps the rest of the sentence.
func TestCLIMessageLibraries(t *testing.T) {
	ca := keylesstest.NewCA(t, "flag names CA")
	leaf := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	other := ca.IssueNow(t, keylesstest.Subject, keylesstest.Issuer)
	otherSigner, err := attest.LoadPrivateKey(other.KeyPath, nil)
	require.NoError(t, err)
	cert, err := attest.LoadCertificate(leaf.CertPath, "")
	require.NoError(t, err)
	keyDir := t.TempDir()
	_, _, err = attest.GenerateKeyPair(keyDir, []byte("pw"))
	require.NoError(t, err)
	cat, err := mirror.Parse([]byte("apiVersion: drydock.dev/v1\nkind: Catalog\nservers:\n- {name: a, source: 127.0.0.1:1/none/a:1}\n"), filepath.Join(t.TempDir(), "catalog.yaml"))
	require.NoError(t, err)

	keyless := func(ids ...attest.Identity) error {
		_, err := attest.LoadKeylessVerifier(filepath.Join(t.TempDir(), "none.json"), ids...)
		return err
	}
	tests := []struct {
		name     string
		err      error
		lib, cli string
	}{
		{"run without a verifier", second(launch.Run(context.Background(), "127.0.0.1:1/x:1")),
			"no public key given: pass WithVerifier",
			"no public key given: pass --key cosign.pub"},
		{"mount syntax", second(launch.ParseMount("/src")),
			`mount "/src": write SRC:TARGET or SRC:TARGET:rw`,
			`--mount "/src": write SRC:TARGET or SRC:TARGET:rw`},
		{"client", second(launch.ClientConfig("emacs", launch.ServerCommand{Name: "s", Image: "r.example/s:1"})),
			`client "emacs": use one of claude, cursor, vscode`,
			`--client "emacs": use one of claude, cursor, vscode`},
		{"keyless without identity", keyless(),
			"keyless verification needs a certificate identity: pass Identity.Subject (or Identity.SubjectRegExp) and Identity.Issuer",
			"keyless verification needs a certificate identity: pass --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer"},
		{"keyless subject twice", keyless(attest.Identity{Subject: "a", SubjectRegExp: "a", Issuer: "i"}),
			"keyless verification needs exactly one of Identity.Subject and Identity.SubjectRegExp",
			"keyless verification needs exactly one of --certificate-identity and --certificate-identity-regexp"},
		{"keyless no issuer", keyless(attest.Identity{Subject: "a"}),
			"keyless verification needs exactly one of Identity.Issuer and Identity.IssuerRegExp",
			"keyless verification needs exactly one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp"},
		{"keyless bad pattern", keyless(attest.Identity{SubjectRegExp: "(", Issuer: "i"}),
			"parsing Identity.SubjectRegExp \"(\": error parsing regexp: missing closing ): `(`",
			"parsing --certificate-identity-regexp \"(\": error parsing regexp: missing closing ): `(`"},
		{"keyless issuer for anyone", keyless(attest.Identity{Subject: "a", IssuerRegExp: ".*"}),
			`Identity.IssuerRegExp ".*" accepts any identity (it matches ""); name one workflow or account, e.g. ^https://token\.actions\.githubusercontent\.com$`,
			`--certificate-oidc-issuer-regexp ".*" accepts any identity (it matches ""); name one workflow or account, e.g. ^https://token\.actions\.githubusercontent\.com$`},
		{"certificate for another key", cert.CheckKey(otherSigner),
			"the signing key is not the key the certificate was issued for; pass the key that was certified with signer",
			"the signing key is not the key the certificate was issued for; pass the key that was certified with --key"},
		{"key pair exists", second3(attest.GenerateKeyPair(keyDir, []byte("pw"))),
			filepath.Join(keyDir, "cosign.key") + " already exists; remove it or pick another dir",
			filepath.Join(keyDir, "cosign.key") + " already exists; remove it or pick another --out-dir"},
		{"jobs", second(mirror.Run(context.Background(), cat, "127.0.0.1:1/m", mirror.WithJobs(0))),
			"jobs 0: give at least 1",
			"--jobs 0: give at least 1"},
		{"shard", second(mirror.Run(context.Background(), cat, "127.0.0.1:1/m", mirror.WithShard(3, 2))),
			"shard 3/2: want I/N with 1 ≤ I ≤ N",
			"--shard 3/2: want I/N with 1 ≤ I ≤ N"},
		{"shard syntax, wrapped", fmt.Errorf("reading flags: %w", third(mirror.ParseShard("2/4x"))),
			`reading flags: shard "2/4x": want I/N, e.g. 2/4`,
			`reading flags: --shard "2/4x": want I/N, e.g. 2/4`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			require.Equal(t, tt.lib, tt.err.Error())
			require.Equal(t, tt.cli, cliMessage(tt.err))
		})
	}
}

// TestCLIMessageUnknownField: a field drydock has no flag for keeps the
// library's name instead of vanishing from the sentence.
func TestCLIMessageUnknownField(t *testing.T) {
	err := inputerr.Field("jobs", "0", errors.New("give at least 1"))
	require.Equal(t, "jobs 0: give at least 1", err.Render(func(string) string { return "" }))
	_, err2 := attest.LoadKeylessVerifier("x")
	var ie *attest.InputError
	require.ErrorAs(t, err2, &ie)
	require.Equal(t, []string{"Identity.Subject", "Identity.SubjectRegExp", "Identity.Issuer"}, ie.Fields)
	require.Equal(t, "keyless verification needs a certificate identity: pass Identity.Subject (or S) and Identity.Issuer",
		ie.Render(func(f string) string {
			if f == "Identity.SubjectRegExp" {
				return "S"
			}
			return ""
		}))
}

func second[T any](_ T, err error) error          { return err }
func second3[A, B any](_ A, _ B, err error) error { return err }
func third[A, B any](_ A, _ B, err error) error   { return err }

// TestCLIMessageRefusals: attest's refusals and the scan gate's name the
// verifier, the options and the way out by field; the CLI prints its flags
// and commands there (the library's own wording is pinned in attest's
// TestRefusalsNameFields and scan's TestGateCheck).
func TestCLIMessageRefusals(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/mcp/echo:1")
	require.NoError(t, err)
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	h, err := img.Digest()
	require.NoError(t, err)
	d := ref.Context().Digest(h.String())
	keyDir := t.TempDir()
	_, _, err = attest.GenerateKeyPair(keyDir, []byte("pw"))
	require.NoError(t, err)
	pub, err := attest.LoadVerifier(filepath.Join(keyDir, "cosign.pub"))
	require.NoError(t, err)
	_, unsigned := attest.Verify(context.Background(), d, pub)

	high, err := attest.ParseSeverity("high")
	require.NoError(t, err)
	field := func(f string) error {
		return attest.Refuse("i", "c", func(n func(string) string) (string, string) { return "r", "use " + n(f) })
	}
	tests := []struct {
		name string
		err  error
		cli  string
	}{
		{"unsigned, wrapped", fmt.Errorf("verifying: %w", unsigned),
			"verifying: " + d.String() + `: no signature found (check "signature"); sign it with "drydock sign IMAGE --key cosign.key"`},
		{"verifier", field(attest.FieldVerifier), `i: r (check "c"); use --key`},
		{"public key", field(attest.FieldPublicKey), `i: r (check "c"); use --key cosign.pub`},
		{"trusted root", field(attest.FieldTrustedRoot), `i: r (check "c"); use --trusted-root`},
		{"source digest", field(attest.FieldSourceDigest), `i: r (check "c"); use --source-digest`},
		{"unbound bundles", field(attest.FieldUnboundBundles), `i: r (check "c"); use --allow-unbound-bundles`},
		{"attest", field(attest.FieldAttest), `i: r (check "c"); use "drydock sign IMAGE --key cosign.key --attest" (drydock harden attests what it builds)`},
		{"certified", field(attest.FieldSignCertified), `i: r (check "c"); use "drydock sign IMAGE --certificate cert.pem --key key.pem"`},
		{"scan", field(attest.FieldScan), `i: r (check "c"); use "drydock harden SRC --to DST --vuln-db DIR --key cosign.key" (it attests its scan)`},
		{"fail-on", scan.RefuseOver("i", "", &attest.VulnFinding{ID: "V-1", Severity: high, Package: "p", Version: "1"}, high),
			`i: V-1 (high) affects p 1, at or above --fail-on high (fixed in no release yet); upgrade it, rebuild without it, or suppress it with a VEX statement (check "severity")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.err, attest.ErrRefused)
			require.NotContains(t, tt.err.Error(), "--", "the library names no flag")
			require.Equal(t, tt.cli, cliMessage(tt.err))
		})
	}
}

// TestCLIMessageKubeEgressFloor: launch/kube, launch/egress and the floor
// name their inputs by field; the CLI prints its flags (literal sentences).
func TestCLIMessageKubeEgressFloor(t *testing.T) {
	withMount := policies.Default()
	withMount.Mounts = []policies.Mount{{Target: "/workspace", ReadOnly: true, Required: true}}
	tag, err := name.NewTag("127.0.0.1:1/gw:1")
	require.NoError(t, err)
	tests := []struct {
		name     string
		err      error
		lib, cli string
	}{
		{"kind", second(kube.Manifests("r/s@sha256:"+strings.Repeat("a", 64), "r/s", policies.Default(), kube.WithKind("job"))),
			`kind "job": use deployment or pod`, `--kind "job": use deployment or pod`},
		{"claim", second(kube.Manifests("r/s@sha256:"+strings.Repeat("a", 64), "r/s", withMount)),
			"r/s@sha256:" + strings.Repeat("a", 64) + ": the label requires a mount at /workspace: name the PersistentVolumeClaim to bind there with claim /workspace=CLAIM",
			"r/s@sha256:" + strings.Repeat("a", 64) + ": the label requires a mount at /workspace: name the PersistentVolumeClaim to bind there with --claim /workspace=CLAIM"},
		{"for", second(kube.Policies("opa", "", nil)),
			`flavour "opa": use policy-controller, kyverno or cel`, `--for "opa": use policy-controller, kyverno or cel`},
		{"shards", second(kube.MirrorJob("img", "", "registry.internal/mcp", 0, []string{"tcp://b:1"})),
			"shards 0: want at least 1", "--shards 0: want at least 1"},
		{"buildkit", second(kube.MirrorJob("img", "", "registry.internal/mcp", 4, nil)),
			"give buildkit: a Pod has no BuildKit daemon of its own (e.g. tcp://buildkitd.build:1234)",
			"give --buildkit-addr: a Pod has no BuildKit daemon of its own (e.g. tcp://buildkitd.build:1234)"},
		{"to", second(kube.MirrorJob("img", "", "", 4, []string{"tcp://b:1"})),
			"give prefix, the mirror prefix (e.g. registry.internal/mcp)", "give --to, the mirror prefix (e.g. registry.internal/mcp)"},
		{"binary", second(egress.Publish(context.Background(), tag, nil, nil)),
			"building the gateway image: no drydock binary given; pass bins",
			"building the gateway image: no drydock binary given; pass --binary PATH"},
		{"floor, wrapped", fmt.Errorf("%w: %w", launch.ErrRefused, &policies.FloorError{Violations: []policies.Violation{{Field: "resources.pids", Message: "1024 exceeds the floor's maxPids 256"}}}),
			"launch refused: the policy asks for more than this machine's floor allows: resources.pids 1024 exceeds the floor's maxPids 256 (widen the floor file, ~/.config/drydock/floor.yaml or LoadFloor(path), only if you trust the image)",
			"launch refused: the policy asks for more than this machine's floor allows: resources.pids 1024 exceeds the floor's maxPids 256 (widen the floor file, ~/.config/drydock/floor.yaml or --floor, only if you trust the image)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			require.Equal(t, tt.lib, tt.err.Error())
			require.Equal(t, tt.cli, cliMessage(tt.err))
		})
	}
}
