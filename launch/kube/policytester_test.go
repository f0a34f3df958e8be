package kube

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// policyTester finds the policy-tester hack/dev-env builds.
func policyTester(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(testenv.KubeBinDir()), "policy-tester-v0.13.1", "policy-tester")
	if _, err := os.Stat(bin); err != nil {
		testenv.Unavailable(t, "no policy-tester (%v); build it with `hack/dev-env kube`", err)
	}
	return bin
}

// TestClusterImagePolicyWithPolicyTester runs the generated
// ClusterImagePolicy through sigstore's own policy-tester: signed and
// attested passes, unsigned and wrong-key fail, and — unlike drydock's
// verifier — a signature moved with its image to another repository passes.
func TestClusterImagePolicyWithPolicyTester(t *testing.T) {
	bin := policyTester(t)
	reg := testenv.Registry(t)
	ctx := context.Background()
	dir := t.TempDir()
	prefix := reg + "/kube-pt-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	key, other := newSigner(t), newSigner(t)
	attested := func(d name.Digest, s signature.Signer) {
		require.NoError(t, attest.AttestPredicate(ctx, d, s, PredicateSLSAProvenanceV1, []byte(`{"buildDefinition":{"buildType":"https://drydock.dev/test"}}`)))
	}
	p := policies.Default()
	signed := pushLabelled(t, prefix+"/server", p, key)
	attested(signed, key)
	wrong := pushLabelled(t, prefix+"/wrongkey", p, other)
	attested(wrong, other)
	unsigned := pushLabelled(t, prefix+"/unsigned", p, nil)
	moved := moveWithSignature(t, signed, prefix+"/elsewhere")
	h := strings.TrimPrefix(signed.DigestStr(), "sha256:")
	att, err := remoteCopyTag(signed, prefix+"/elsewhere", "sha256-"+h+".att")
	require.NoError(t, err, att)

	pub, err := cryptoutils.MarshalPublicKeyToPEM(mustPublic(t, key))
	require.NoError(t, err)
	cip := filepath.Join(dir, "cip.yaml")
	require.NoError(t, os.WriteFile(cip, write(t, ClusterImagePolicy(string(pub), []string{prefix + "/**"})), 0o644))
	for _, tc := range []struct {
		name  string
		image name.Digest
		ok    bool
	}{
		{"signed and attested", signed, true},
		{"unsigned", unsigned, false},
		{"wrong key", wrong, false},
		{"moved with its signature (policy-controller accepts it)", moved, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, "--policy", cip, "--image", tc.image.String()).CombinedOutput()
			if tc.ok {
				require.NoError(t, err, "%s", out)
				require.Contains(t, string(out), "Verification was successful!")
				return
			}
			require.Error(t, err, "%s", out)
			require.Contains(t, string(out), "attestation key validation failed for authority drydock-key")
		})
	}
}
