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
	// The libraries' one InputError (standard library only).
	"github.com/drydock-dev/drydock/internal/inputerr",
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
	// Reads a certificate's SAN and OIDC issuer as cosign does (already
	// linked through cosign's certificate checks: no added weight).
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate",
	// signature/options passes a context to KMS public key reads; kms and
	// its providers are imported only with -tags kms (cloud SDKs stay out
	// of the default binary), never cosign's pkg/signature.
	"github.com/sigstore/sigstore/pkg/signature/options",
	"github.com/sigstore/sigstore/pkg/signature/kms",
	"github.com/sigstore/sigstore/pkg/signature/kms/aws",
	"github.com/sigstore/sigstore/pkg/signature/kms/azure",
	"github.com/sigstore/sigstore/pkg/signature/kms/gcp",
	"github.com/sigstore/sigstore/pkg/signature/kms/hashivault",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	// go test runs under the go command; without it the import rules
	// would go unchecked, so that is a failure, not a skip.
	require.NoError(t, err, "the go command is needed to check the import rules")
	out, err := exec.Command(goBin, append([]string{"list"}, args...)...).Output()
	require.NoError(t, err, "go list %v", args)
	return strings.Fields(string(out))
}

// buildTags are the builds checked: the default one and -tags kms.
var buildTags = []string{"", "kms"}

func TestDependencies(t *testing.T) {
	for _, tags := range buildTags {
		deps := goList(t, "-tags", tags, "-deps", ".")
		require.Contains(t, deps, "github.com/drydock-dev/drydock/attest")
		for _, dep := range deps {
			for _, bad := range forbiddenDeps {
				if dep == strings.TrimSuffix(bad, "/") || strings.HasPrefix(dep, strings.TrimSuffix(bad, "/")+"/") {
					t.Errorf("attest (tags %q) depends on %s (forbidden: %s)", tags, dep, bad)
				}
			}
		}
	}
}

func TestDirectImports(t *testing.T) {
	var imports []string
	for _, tags := range buildTags {
		imports = append(imports, goList(t, "-tags", tags, "-f", `{{join .Imports "\n"}}`, ".")...)
	}
	for _, imp := range imports {
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
