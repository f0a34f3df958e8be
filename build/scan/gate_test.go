package scan_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

func pushRandom(t *testing.T) name.Digest {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/mcp/node")
	require.NoError(t, err)
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	require.NoError(t, remote.Write(repo.Tag("build"), img))
	h, err := img.Digest()
	require.NoError(t, err)
	return repo.Digest(h.String())
}

func newKey(t *testing.T) signature.SignerVerifier {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	return sv
}

const vexServerFS = vexHead + `{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
	{"vulnerability":{"name":"CVE-2099-0001"},"products":[{"@id":"pkg:deb/debian/sudo"}],"status":"not_affected","justification":"vulnerable_code_cannot_be_controlled_by_adversary"}]}`

// The gate finds the fixtures' real packages in the test database,
// refuses before signing, lets a VEX statement suppress (and list) the
// findings, and passes once a rebuild dropped the packages.
func TestGate(t *testing.T) {
	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	doc, err := scan.ParseVEX([]byte(vexServerFS), "vex.json")
	require.NoError(t, err)
	without := func(names ...string) []scan.Package {
		var out []scan.Package
		for _, p := range fixturePackages {
			drop := false
			for _, n := range names {
				drop = drop || p.Name == n
			}
			if !drop {
				out = append(out, p)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name           string
		pkgs           []scan.Package
		vex            []*vex.VEX
		wantSigned     bool
		wantErr        string
		wantFindings   []string
		wantSuppressed []string
	}{
		{"refused over --fail-on high", fixturePackages, nil, false,
			`: not signed or tagged: GHSA-test-fs01 (high) affects @modelcontextprotocol/server-filesystem 2026.8.31, at or above FailOn high (fixed in 2026.9.1); upgrade it, rebuild without it, or suppress it with a VEX statement (check "severity")`,
			[]string{"GHSA-test-fs01", "DRYDOCK-TEST-SUDO", "GHSA-test-pip01"}, []string{}},
		{"suppressed by VEX", fixturePackages, []*vex.VEX{doc}, true, "",
			[]string{"GHSA-test-pip01"}, []string{"GHSA-test-fs01", "DRYDOCK-TEST-SUDO"}},
		{"rebuilt without the packages", without("sudo", "@modelcontextprotocol/server-filesystem"), nil, true, "",
			[]string{"GHSA-test-pip01"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := pushRandom(t)
			key := newKey(t)
			high := attest.SeverityHigh
			g := &scan.Gate{DB: db, VEX: tc.vex, FailOn: &high, Signer: key,
				Packages: func(context.Context, name.Digest) ([]scan.Package, error) { return tc.pkgs, nil }}
			signed := false
			sign := func(ctx context.Context, d name.Digest, _ *build.Result) error {
				signed = true
				return attest.Sign(ctx, d, key)
			}

			err := g.Wrap(sign)(context.Background(), d, &build.Result{})

			require.Equal(t, tc.wantSigned, signed)
			require.Equal(t, tc.wantFindings, ids(g.Result.Findings))
			require.Equal(t, tc.wantSuppressed, ids(g.Result.Suppressed))
			if tc.wantErr != "" {
				require.EqualError(t, err, d.String()+tc.wantErr)
				require.ErrorIs(t, err, attest.ErrRefused)
				return
			}
			require.NoError(t, err)
			res, err := attest.Verify(context.Background(), d, key, attest.WithAttestation(attest.PredicateVuln))
			require.NoError(t, err)
			require.Len(t, res.Attestations, 1)
			p, err := attest.ParseVulnPredicate(res.Attestations[0].Predicate)
			require.NoError(t, err)
			require.Equal(t, tc.wantFindings, ids(p.Scanner.Result.Findings))
			require.Equal(t, tc.wantSuppressed, ids(p.Scanner.Result.Suppressed))
			require.Equal(t, len(tc.pkgs), p.Scanner.Result.Packages)
			vr, err := attest.Verify(context.Background(), d, key, attest.WithAttestation(attest.PredicateOpenVEX))
			if tc.vex == nil {
				require.ErrorIs(t, err, attest.ErrRefused, "no VEX given, none attested")
				return
			}
			require.NoError(t, err)
			var signedDoc struct {
				Statements []struct {
					Status string `json:"status"`
				} `json:"statements"`
			}
			require.NoError(t, json.Unmarshal(vr.Attestations[0].Predicate, &signedDoc))
			require.Len(t, signedDoc.Statements, 2)
			require.Equal(t, "not_affected", signedDoc.Statements[0].Status)
		})
	}
}

func ids(fs []attest.VulnFinding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// Image reads the packages from the image's signed SBOM, and refuses an
// image whose SBOM is not signed by the key.
func TestImage(t *testing.T) {
	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	ctx := context.Background()
	spdx := `{"spdxVersion":"SPDX-2.3","packages":[
		{"name":"pip","versionInfo":"23.0.1","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/pip@23.0.1"}]},
		{"name":"mcp-server-stdlib","versionInfo":"0.1.0","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/mcp-server-stdlib@0.1.0"}]},
		{"name":"bash","versionInfo":"5.2.15-2+b8"}]}`

	d := pushRandom(t)
	key, other := newKey(t), newKey(t)
	require.NoError(t, attest.Sign(ctx, d, key))
	_, err = scan.Image(ctx, d, key, db, nil)
	require.ErrorIs(t, err, attest.ErrRefused, "no SBOM: refused, not an empty scan")

	require.NoError(t, attest.AttestPredicate(ctx, d, other, attest.PredicateSPDX, json.RawMessage(spdx)))
	_, err = scan.Image(ctx, d, key, db, nil)
	require.ErrorIs(t, err, attest.ErrRefused, "an SBOM by another key is not read")

	require.NoError(t, attest.AttestPredicate(ctx, d, key, attest.PredicateSPDX, json.RawMessage(spdx)))
	r, err := scan.Image(ctx, d, key, db, nil)
	require.NoError(t, err)
	require.Equal(t, 3, r.Packages)
	require.Equal(t, []string{"GHSA-test-pip01"}, ids(r.Findings))
}

func TestPackagesFromSBOM(t *testing.T) {
	cdx := `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
		{"name":"@modelcontextprotocol/server-filesystem","version":"2026.8.31","purl":"pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31",
		 "components":[{"name":"zod","version":"3.25.76","purl":"pkg:npm/zod@3.25.76"}]}]}`
	got, err := scan.PackagesFromSBOM(attest.PredicateCycloneDX, []byte(cdx))
	require.NoError(t, err)
	require.Equal(t, []scan.Package{
		{Name: "@modelcontextprotocol/server-filesystem", Version: "2026.8.31", PURL: "pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"},
		{Name: "zod", Version: "3.25.76", PURL: "pkg:npm/zod@3.25.76"},
	}, got)
	_, err = scan.PackagesFromSBOM(attest.PredicateSPDX, []byte(cdx))
	require.ErrorContains(t, err, "not an SPDX JSON document")
	_, err = scan.PackagesFromSBOM(attest.PredicateVuln, []byte(cdx))
	require.ErrorContains(t, err, "neither SPDX nor CycloneDX")
}

// Check (drydock scan) returns the findings with the refusal when one
// reaches FailOn, so the CLI can print them first; under the limit or
// without one it refuses nothing; an error before the scan has no result.
func TestGateCheck(t *testing.T) {
	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	ctx := context.Background()
	spdx := `{"spdxVersion":"SPDX-2.3","packages":[
		{"name":"pip","versionInfo":"23.0.1","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/pip@23.0.1"}]}]}`
	d := pushRandom(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, d, key))
	require.NoError(t, attest.AttestPredicate(ctx, d, key, attest.PredicateSPDX, json.RawMessage(spdx)))
	severity := func(s string) *attest.Severity {
		v, err := attest.ParseSeverity(s)
		require.NoError(t, err)
		return &v
	}
	tests := []struct {
		name   string
		failOn *attest.Severity
		want   string // the refusal; "" for none
	}{
		{"no limit", nil, ""},
		{"under the limit", severity("high"), ""},
		{"at the limit", severity("medium"), d.String() + ": GHSA-test-pip01 (medium) affects pip 23.0.1, at or above FailOn medium (fixed in 23.3); upgrade it, rebuild without it, or suppress it with a VEX statement (check \"severity\")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &scan.Gate{DB: db, FailOn: tt.failOn}
			got, res, err := g.Check(ctx, d.Context().Tag("build").String(), key)
			require.Equal(t, d, got, "the tag is resolved once, to the scanned digest")
			require.NotNil(t, res)
			require.Equal(t, []string{"GHSA-test-pip01"}, ids(res.Findings))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, attest.ErrRefused)
			require.Equal(t, tt.want, err.Error())
		})
	}
	t.Run("no signed SBOM", func(t *testing.T) {
		g := &scan.Gate{DB: db, FailOn: severity("low")}
		_, res, err := g.Check(ctx, d.String(), newKey(t))
		require.ErrorIs(t, err, attest.ErrRefused)
		require.Nil(t, res)
	})
}
