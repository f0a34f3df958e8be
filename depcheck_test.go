// Package drydock_test keeps drydock's import arrows pointing one way (see
// DESIGN.md, "Packages"): the policy schema depends on nothing of ours, the
// daemon-free registry code and the verification rules know nothing of
// building or launching, and no package reaches up into the CLI.
package drydock_test

import (
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/drydock-dev/drydock"

// arrows: packages under from (the directory and everything below it) must
// not depend, directly or through others, on any package under the listed
// directories.
var arrows = []struct {
	from   string
	forbid []string
	why    string
}{
	{"policies", []string{"attest", "build", "cmd", "launch", "rebase", "hack", "testdata"},
		"the policy schema is what every other package shares; it imports nothing of drydock's"},
	{"rebase", []string{"attest", "build", "cmd", "launch", "hack"},
		"registry-level assembly and the hardening pass run without BuildKit, Docker or cosign"},
	{"attest", []string{"build", "cmd", "launch", "rebase"},
		"the verification rules know nothing of how an image was built or is run"},
	{"launch", []string{"build", "cmd", "rebase"},
		"drydock run (verify and start) needs no build code"},
	{"internal", []string{"attest", "build", "cmd", "launch", "policies", "rebase", "hack", "testdata"},
		"module-private helpers every library shares (the one InputError); they import nothing of drydock's"},
	{"build", []string{"cmd"}, "the CLI sits on top of the libraries, never under them"},
	{"build", []string{"launch"}, "building never starts containers itself: the start check is a seam build owns (build.SmokeFunc), " +
		"implemented by launch/smoke on run's translation and wired in by the CLI"},
}

// deps maps every drydock package to the drydock packages it depends on
// (transitively, test files excluded).
func deps(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	// go test runs under the go command; without it the import rules
	// would go unchecked, so that is a failure, not a skip.
	require.NoError(t, err, "the go command is needed to check the import rules")
	out, err := exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	require.NoError(t, err, "go list ./...")
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		var own []string
		for _, d := range f[1:] {
			if rel, ok := strings.CutPrefix(d, module+"/"); ok {
				own = append(own, rel)
			}
		}
		m[strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")] = own
	}
	return m
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func TestImportArrows(t *testing.T) {
	all := deps(t)
	require.Contains(t, all, "policies", "go list must see the module's packages")
	for _, a := range arrows {
		t.Run(a.from, func(t *testing.T) {
			seen := 0
			for pkg, ds := range all {
				if !under(pkg, a.from) {
					continue
				}
				seen++
				for _, d := range ds {
					for _, f := range a.forbid {
						if under(d, f) {
							t.Errorf("%s depends on %s: %s must not depend on %s/ (%s)", pkg, d, a.from, f, a.why)
						}
					}
				}
			}
			require.NotZero(t, seen, "no package under %s/", a.from)
		})
	}
}

// TestNothingImportsCmd: cmd/drydock is the top; no package (tooling in
// hack/ included) builds on it.
func TestNothingImportsCmd(t *testing.T) {
	for pkg, ds := range deps(t) {
		for _, d := range ds {
			if under(d, "cmd") {
				t.Errorf("%s depends on %s; move what it needs into a library package", pkg, d)
			}
		}
	}
}

// TestLibrariesDoNotImportTestdata: fixtures and test environments reach
// library code only from tests and from helper packages named *test (like
// net/http/httptest).
func TestLibrariesDoNotImportTestdata(t *testing.T) {
	for pkg, ds := range deps(t) {
		if under(pkg, "hack") || strings.HasSuffix(path.Base(pkg), "test") {
			continue
		}
		for _, d := range ds {
			if under(d, "testdata") || under(d, "hack") {
				t.Errorf("%s depends on %s outside its tests", pkg, d)
			}
		}
	}
}
