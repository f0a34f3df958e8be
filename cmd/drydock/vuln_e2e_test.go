package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/stretchr/testify/require"
)

// testVulnDB is the small OSV database of build/scan's tests: advisories for
// packages the fixtures really hold (sudo 1.9.13p3-1+deb12u4 of the fat
// bookworm base, pip 23.0.1 of the Python venv, the node fixture's server).
const testVulnDB = "../../build/scan/testdata/osv"

// TestVulnGate is issue 15's gate through the CLI on the Nixpacks Python
// fixture: inplace keeps the fat upstream base, whose sudo the database
// rates high, so --fail-on high refuses it with nothing tagged; a VEX
// statement suppresses it (listed, and attested); the registry-level
// rebuild drops the base and with it sudo, and passes. verify --require
// and --max-severity then read the signed scan.
func TestVulnGate(t *testing.T) {
	w := setup(t)
	nx := nixpacksFixture(t, w)
	vexFile := filepath.Join(t.TempDir(), "sudo.vex.json")
	require.NoError(t, os.WriteFile(vexFile, []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://drydock.dev/vex/e2e","author":"drydock tests","timestamp":"2026-11-01T00:00:00Z","version":1,
		"statements":[{"vulnerability":{"name":"CVE-2099-0001"},"products":[{"@id":"pkg:deb/debian/sudo"}],"status":"not_affected","justification":"vulnerable_code_cannot_be_controlled_by_adversary"}]}`), 0o600))
	gate := []string{"--key", w.key, "--vuln-db", testVulnDB, "--fail-on", "high", "--smoke=false"}
	inplace := func(t *testing.T) []string {
		// A daemon of its own: BuildKit v0.34 mixes up layers of the same
		// content pulled under another name.
		return []string{"--strategy", string(build.StrategyInplace), "--buildkit-addr", testenv.FreshBuildKit(t)}
	}

	t.Run("inplace keeps sudo: refused, nothing tagged", func(t *testing.T) {
		tag := w.repo("vuln/python-inplace") + ":1"
		_, r := hardenJSON(t, w, append(append([]string{nx.PythonTag, "--to", tag}, gate...), inplace(t)...)...)
		require.Equal(t, exitRefused, r.code, r.stderr)
		require.Contains(t, r.stderr, "not signed or tagged: DRYDOCK-TEST-SUDO (high) affects sudo 1.9.13p3-1+deb12u4, at or above --fail-on high (fixed in 1.9.13p3-1+deb12u5)")
		require.Regexp(t, `medium\s+GHSA-test-pip01\s+pip\s+23\.0\.1\s+23\.3`, r.stderr, "every finding is listed")
		_, err := crane.Digest(tag)
		require.Error(t, err, "no tag names a refused image")
	})
	t.Run("inplace with a VEX statement: suppressed, listed, signed", func(t *testing.T) {
		tag := w.repo("vuln/python-inplace-vex") + ":1"
		res, r := hardenJSON(t, w, append(append([]string{nx.PythonTag, "--to", tag, "--vex", vexFile}, gate...), inplace(t)...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		require.True(t, res.Signed)
		require.Regexp(t, `high\s+DRYDOCK-TEST-SUDO\s+sudo\s+1\.9\.13p3-1\+deb12u4\s+not_affected: vulnerable_code_cannot_be_controlled_by_adversary`, r.stderr)
		ref := res.Ref
		v := drydock(t, w.env, "verify", ref, "--key", w.pub, "--require", "slsa,vuln,openvex", "--max-severity", "medium")
		require.Equal(t, exitOK, v.code, v.stderr)
		v = drydock(t, w.env, "verify", ref, "--key", w.pub, "--max-severity", "low")
		require.Equal(t, exitRefused, v.code, v.stderr)
		require.Contains(t, v.stderr, "GHSA-test-pip01 (medium) in pip 23.0.1, above the allowed low")
	})
	t.Run("the rebuild drops the fat base: passes", func(t *testing.T) {
		tag := w.repo("vuln/python-auto") + ":1"
		res, r := hardenJSON(t, w, append([]string{nx.PythonTag, "--to", tag}, gate...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, build.StrategyRebase, res.Strategy)
		require.NotContains(t, r.stderr, "DRYDOCK-TEST-SUDO", "sudo left with the upstream base")
		require.Contains(t, r.stderr, "GHSA-test-pip01", "the venv's pip is still there")
		d, err := crane.Digest(tag)
		require.NoError(t, err)
		require.Equal(t, res.Digest, d)

		floor := filepath.Join(t.TempDir(), "floor.yaml")
		require.NoError(t, os.WriteFile(floor, []byte("apiVersion: drydock.dev/v1\nkind: Floor\nrequire: {attestations: [slsa, vuln], maxSeverity: high}\n"), 0o600))
		e := drydock(t, w.env, "policy", "explain", tag, "--key", w.pub, "--floor", floor)
		require.Equal(t, exitOK, e.code, e.stderr)
		require.Contains(t, e.stdout, "# signed attestations: slsa (https://slsa.dev/provenance/v1), sbom (https://spdx.dev/Document), vuln (https://cosign.sigstore.dev/attestation/vuln/v1)")
		require.Contains(t, e.stdout, "# worst: GHSA-test-pip01 (medium) in pip 23.0.1")
		strict := filepath.Join(t.TempDir(), "strict.yaml")
		require.NoError(t, os.WriteFile(strict, []byte("apiVersion: drydock.dev/v1\nkind: Floor\nrequire: {maxSeverity: low}\n"), 0o600))
		v := drydock(t, w.env, "verify", tag, "--key", w.pub, "--floor", strict)
		require.Equal(t, exitRefused, v.code, v.stderr)
		require.True(t, strings.Contains(v.stderr, `(check "severity")`), v.stderr)
	})
}
