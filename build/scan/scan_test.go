package scan_test

import (
	"archive/zip"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/stretchr/testify/require"
)

// fixturePackages are packages and versions the fixtures really hold
// (the bookworm rootfs of the fat upstream base, the node fixture's MCP
// server, the venv fixture's dist-info directories), as syft's purls.
var fixturePackages = []scan.Package{
	{Name: "sudo", Version: "1.9.13p3-1+deb12u4", PURL: "pkg:deb/debian/sudo@1.9.13p3-1%2Bdeb12u4?arch=amd64&distro=debian-12"},
	{Name: "curl", Version: "7.88.1-10+deb12u15", PURL: "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12"},
	{Name: "git", Version: "1:2.39.5-0+deb12u3", PURL: "pkg:deb/debian/git@2.39.5-0%2Bdeb12u3?arch=amd64&epoch=1&distro=debian-12"},
	{Name: "@modelcontextprotocol/server-filesystem", Version: "2026.8.31", PURL: "pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"},
	{Name: "pip", Version: "23.0.1", PURL: "pkg:pypi/pip@23.0.1"},
	{Name: "setuptools", Version: "66.1.1", PURL: "pkg:pypi/setuptools@66.1.1"},
	{Name: "mcp-server-stdlib", Version: "0.1.0", PURL: "pkg:pypi/mcp-server-stdlib@0.1.0"},
	{Name: "bash", Version: "5.2.15-2+b8"}, // no purl: counted, not matched
}

type row struct{ id, pkg, sev, fixed string }

func rows(fs []attest.VulnFinding) []row {
	out := []row{}
	for _, f := range fs {
		out = append(out, row{f.ID, f.Package, f.Severity.String(), f.FixedIn})
	}
	return out
}

// wantFindings is what testdata/osv says about fixturePackages, worst
// first: not the Debian 11 advisory, not the curl one fixed before
// deb12u15, not the withdrawn one.
var wantFindings = []row{
	{"GHSA-test-fs01", "@modelcontextprotocol/server-filesystem", "high", "2026.9.1"},
	{"DRYDOCK-TEST-SUDO", "sudo", "high", "1.9.13p3-1+deb12u5"},
	{"GHSA-test-pip01", "pip", "medium", "23.3"},
}

func TestMatchFolder(t *testing.T) {
	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	require.Equal(t, 5, db.Len(), "six records, one withdrawn")
	res, err := scan.Match(db, fixturePackages)
	require.NoError(t, err)
	require.Equal(t, 8, res.Packages)
	require.Equal(t, wantFindings, rows(res.Findings))
	require.Empty(t, res.Suppressed)
	require.Equal(t, map[string]int{"high": 2, "medium": 1}, res.Counts())
	require.Equal(t, "GHSA-test-fs01", res.Over(attest.SeverityHigh).ID)
	require.Nil(t, res.Over(attest.SeverityCritical))
}

// osv.dev publishes one all.zip per ecosystem; a folder of those loads
// the same as loose files.
func TestMatchAllZip(t *testing.T) {
	dir := t.TempDir()
	for eco, files := range map[string][]string{
		"Debian": {"DRYDOCK-TEST-SUDO.json", "DRYDOCK-TEST-SUDO-OTHER-RELEASE.json", "DRYDOCK-TEST-CURL-FIXED.json"},
		"npm":    {"GHSA-test-fs01.json"},
		"PyPI":   {"GHSA-test-pip01.json", "GHSA-test-withdrawn.json"},
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, eco), 0o755))
		f, err := os.Create(filepath.Join(dir, eco, "all.zip"))
		require.NoError(t, err)
		zw := zip.NewWriter(f)
		for _, name := range files {
			b, err := os.ReadFile(filepath.Join("testdata/osv", name))
			require.NoError(t, err)
			w, err := zw.Create(name)
			require.NoError(t, err)
			_, err = w.Write(b)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
	}
	db, err := scan.LoadDB(dir)
	require.NoError(t, err)
	require.Equal(t, 5, db.Len())
	res, err := scan.Match(db, fixturePackages)
	require.NoError(t, err)
	require.Equal(t, wantFindings, rows(res.Findings))
}

func TestLoadDBRefusals(t *testing.T) {
	empty := t.TempDir()
	_, err := scan.LoadDB(empty)
	require.ErrorContains(t, err, "no OSV advisory")
	_, err = scan.LoadDB(filepath.Join(empty, "missing"))
	require.Error(t, err)
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "x.json"), []byte(`{"summary":"no id"}`), 0o644))
	_, err = scan.LoadDB(bad)
	require.ErrorContains(t, err, "has no id")
}

func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		name, record, want string
	}{
		{"github moderate", `"database_specific":{"severity":"MODERATE"}`, "medium"},
		{"github low", `"database_specific":{"severity":"LOW"}`, "low"},
		{"cvss 3.1 9.8", `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]`, "critical"},
		{"cvss 3.1 3.1", `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}]`, "low"},
		{"cvss 3.0 6.1", `"severity":[{"type":"CVSS_V3","score":"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}]`, "medium"},
		{"cvss 4.0 9.3", `"severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]`, "critical"},
		{"highest cvss wins", `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"},{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]`, "critical"},
		{"garbage vector", `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/garbage"}]`, "unknown"},
		{"none stated", `"summary":"x"`, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := `{"id":"T-1",` + tc.record + `,"affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, "t.json"), []byte(rec), 0o644))
			db, err := scan.LoadDB(dir)
			require.NoError(t, err)
			res, err := scan.Match(db, []scan.Package{{Name: "a", Version: "1.0.0", PURL: "pkg:npm/a@1.0.0"}})
			require.NoError(t, err)
			require.Len(t, res.Findings, 1)
			require.Equal(t, tc.want, res.Findings[0].Severity.String())
		})
	}
}

func TestWriteText(t *testing.T) {
	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	res, err := scan.Match(db, fixturePackages)
	require.NoError(t, err)
	doc, err := scan.ParseVEX([]byte(vexHead+`{"vulnerability":{"name":"GHSA-test-pip01"},"products":[{"@id":"pkg:pypi/pip"}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}`), "t")
	require.NoError(t, err)
	scan.Suppress(res, doc)
	var b strings.Builder
	require.NoError(t, scan.WriteText(&b, res))
	golden(t, "testdata/findings.txt", b.String())
}

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// golden compares got with a file under testdata.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run go test ./build/scan -update")
	require.Equal(t, string(want), got)
}
