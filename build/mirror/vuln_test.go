package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/mirror"
	"github.com/drydock-dev/drydock/build/mirror/mirrortest"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// nodePackages stands in for the SBOM step: what the node fixture holds.
func nodePackages(context.Context, name.Digest) ([]scan.Package, error) {
	return []scan.Package{
		{Name: "@modelcontextprotocol/server-filesystem", Version: "2026.8.31", PURL: "pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"},
		{Name: "pip", Version: "23.0.1", PURL: "pkg:pypi/pip@23.0.1"},
	}, nil
}

// The mirror's gate: an entry over --fail-on fails with nothing tagged,
// one whose catalog VEX suppresses the finding is hardened, signed and
// attested, and the report carries packages and findings per entry.
func TestMirrorVulnGate(t *testing.T) {
	reg := testenv.Registry(t)
	w := mirrortest.New(t, reg)
	w.PushUpstreams(t, 0, 2, "v1")
	vexFile := filepath.Join(w.Dir, "server-filesystem.vex.json")
	require.NoError(t, os.WriteFile(vexFile, []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://drydock.dev/vex/mirror-test","author":"drydock tests","timestamp":"2026-11-01T00:00:00Z","version":1,
		"statements":[{"vulnerability":{"name":"GHSA-test-fs01"},"products":[{"@id":"pkg:npm/%40modelcontextprotocol/server-filesystem"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}`), 0o644))
	w.WriteCatalog(t, reg, 2, build.StrategyRebase, func(i int, s *mirror.Server) {
		if i == 1 {
			s.VEX = vexFile
		}
	})
	db, err := scan.LoadDB("../scan/testdata/osv")
	require.NoError(t, err)
	high := attest.SeverityHigh

	// A CLI words the reasons with its own flag names (WithMessage).
	worded := func(err error) string { return "worded: " + err.Error() }
	rep := run(t, w, reg, mirror.WithJobs(2), mirror.WithVulnGate(db, &high, nodePackages), mirror.WithMessage(worded))

	require.Len(t, rep.Entries, 2)
	refused, passed := rep.Entries[0], rep.Entries[1]
	require.Equal(t, mirror.StatusFailed, refused.Status)
	require.True(t, strings.HasPrefix(refused.Reason, "worded: "), refused.Reason)
	require.Contains(t, refused.Reason, "not signed or tagged: GHSA-test-fs01 (high) affects @modelcontextprotocol/server-filesystem 2026.8.31")
	require.Equal(t, 2, refused.Packages)
	require.Equal(t, map[string]int{"high": 1, "medium": 1}, refused.Findings)
	_, err = remote.Head(mustTag(t, refused.Target))
	require.Error(t, err, "nothing under the refused entry's tag")

	require.Equal(t, mirror.StatusHardened, passed.Status, passed.Reason)
	require.Equal(t, map[string]int{"medium": 1}, passed.Findings)
	require.Equal(t, 1, passed.Suppressed)
	pub, err := attest.LoadVerifier(w.Pub)
	require.NoError(t, err)
	d, err := attest.Resolve(context.Background(), mustTag(t, passed.Target))
	require.NoError(t, err)
	ev, err := attest.Require(context.Background(), d, pub, attest.Requirements{Attestations: []string{"slsa", "vuln", "openvex"}})
	require.NoError(t, err)
	require.Equal(t, []string{"GHSA-test-fs01"}, []string{ev.Vuln.Scanner.Result.Suppressed[0].ID})

	var table, md strings.Builder
	require.NoError(t, rep.WriteTable(&table))
	require.NoError(t, rep.WriteMarkdown(&md))
	require.Contains(t, table.String(), "PKGS")
	require.Regexp(t, `\| `+passed.Name+` \| hardened \|[^\n]*\| 2 \| medium 1 \(\+1 VEX\) \|`, md.String())
	require.Regexp(t, `\| `+refused.Name+` \| \*\*failed\*\* \|[^\n]*\| 2 \| high 1, medium 1 \|`, md.String())
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	require.NoError(t, err)
	return tag
}

func TestCatalogVEX(t *testing.T) {
	dir := t.TempDir()
	write := func(n, s string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	write("bad.vex.json", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"X"},"products":[{"@id":"pkg:npm/a"}],"status":"not_affected"}]}`)
	cat := write("catalog.yaml", "apiVersion: drydock.dev/v1\nkind: Catalog\nservers:\n- name: a\n  source: example.com/a:1\n  vex: bad.vex.json\n")
	_, err := mirror.Load(cat)
	require.ErrorContains(t, err, "servers[0].vex")
	require.ErrorContains(t, err, "statements[0]")
	cat = write("catalog2.yaml", "apiVersion: drydock.dev/v1\nkind: Catalog\nservers:\n- name: a\n  source: example.com/a:1\n  vex: missing.json\n")
	_, err = mirror.Load(cat)
	require.ErrorContains(t, err, "servers[0].vex")
}
