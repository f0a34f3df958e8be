package attest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Heavy packages attest must never pull in: cosign's CLI and its
// pkg/signature (KMS, k8s, GitLab) triple the binary.
var forbiddenDeps = []string{
	"github.com/sigstore/cosign/v2/cmd/",
	"github.com/sigstore/cosign/v2/pkg/signature",
	"github.com/sigstore/cosign/v2/pkg/policy",
	"k8s.io/api/",
	"k8s.io/apimachinery/",
	"k8s.io/client-go/",
}

// allowedImports are the only non-standard packages attest may import
// directly (prefixes ending in "/" allow a whole module).
var allowedImports = []string{
	"github.com/google/go-containerregistry/",
	"github.com/sigstore/cosign/v2/pkg/cosign",
	"github.com/sigstore/cosign/v2/pkg/oci",
	"github.com/sigstore/cosign/v2/pkg/oci/remote",
	"github.com/sigstore/cosign/v2/pkg/oci/mutate",
	"github.com/sigstore/cosign/v2/pkg/oci/static",
	"github.com/sigstore/cosign/v2/pkg/types",
	"github.com/sigstore/sigstore/pkg/signature",
	"github.com/sigstore/sigstore/pkg/cryptoutils",
	"github.com/sigstore/sigstore/pkg/signature/payload",
	"github.com/sigstore/sigstore/pkg/signature/dsse",
	"github.com/sigstore/sigstore-go/pkg/root",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, append([]string{"list"}, args...)...).Output()
	require.NoError(t, err, "go list %v", args)
	return strings.Fields(string(out))
}

func TestDependencies(t *testing.T) {
	deps := goList(t, "-deps", ".")
	require.Contains(t, deps, "github.com/drydock-dev/drydock/attest")
	for _, dep := range deps {
		for _, bad := range forbiddenDeps {
			if dep == strings.TrimSuffix(bad, "/") || strings.HasPrefix(dep, strings.TrimSuffix(bad, "/")+"/") {
				t.Errorf("attest depends on %s (forbidden: %s)", dep, bad)
			}
		}
	}
}

func TestDirectImports(t *testing.T) {
	for _, imp := range goList(t, "-f", `{{join .Imports "\n"}}`, ".") {
		if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			continue // standard library
		}
		ok := false
		for _, a := range allowedImports {
			if imp == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("attest imports %s, which is not in its allowed set", imp)
		}
	}
}
