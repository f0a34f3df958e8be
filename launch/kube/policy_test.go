package kube

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/yaml"
)

// testPub is a P-256 public key for golden output only (nothing verifies with it).
const testPub = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIQ2z1K6lYG6m2v1wU8y3n6d0R9hZ
c2N3j1mD3m4Zc0k8b3p9l1r6s7kQm2a5v4Xw1Z0sY8cR3f2o9hJ6yV5qLw==
-----END PUBLIC KEY-----
`

func TestPoliciesGolden(t *testing.T) {
	for _, tc := range []struct{ flavour, golden string }{
		{ForCEL, "policy.cel.yaml"},
		{ForPolicyController, "policy.policy-controller.yaml"},
		{ForKyverno, "policy.kyverno.yaml"},
	} {
		t.Run(tc.flavour, func(t *testing.T) {
			objs, err := Policies(tc.flavour, testPub, []string{"registry.internal/mcp/**"})
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, Write(&out, objs...))
			golden(t, tc.golden, out.Bytes())
		})
	}
}

func TestCELPolicyStrict(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, Write(&out, CELPolicy()...))
	s := runtime.NewScheme()
	require.NoError(t, admissionv1.AddToScheme(s))
	dec := serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
	docs := strings.Split(out.String(), "---\n")
	require.Len(t, docs, 2)
	obj, _, err := dec.Decode([]byte(docs[0]), nil, nil)
	require.NoError(t, err)
	p := obj.(*admissionv1.ValidatingAdmissionPolicy)
	require.Len(t, p.Spec.Validations, 15)
	require.Equal(t, admissionv1.Fail, *p.Spec.FailurePolicy)
	obj, _, err = dec.Decode([]byte(docs[1]), nil, nil)
	require.NoError(t, err)
	b := obj.(*admissionv1.ValidatingAdmissionPolicyBinding)
	require.Equal(t, "drydock-pod-spec", b.Spec.PolicyName)
	require.Equal(t, []admissionv1.ValidationAction{"Deny"}, b.Spec.ValidationActions)
	require.Equal(t, map[string]string{"drydock.dev/enforce": "true"}, b.Spec.MatchResources.NamespaceSelector.MatchLabels)
}

// TestSignaturePolicies reads the third-party kinds back (their Go types
// are not in go.mod) and checks the parts that carry the trust.
func TestSignaturePolicies(t *testing.T) {
	var cip map[string]any
	var out bytes.Buffer
	require.NoError(t, Write(&out, ClusterImagePolicy(testPub, []string{"registry.internal/mcp/**"})))
	require.NoError(t, yaml.UnmarshalStrict(out.Bytes(), &cip))
	spec := cip["spec"].(map[string]any)
	require.Equal(t, "enforce", spec["mode"])
	auth := spec["authorities"].([]any)[0].(map[string]any)
	require.Equal(t, testPub, auth["key"].(map[string]any)["data"])
	require.NotContains(t, auth, "ctlog")
	require.Equal(t, "https://slsa.dev/provenance/v1", auth["attestations"].([]any)[0].(map[string]any)["predicateType"])
	require.Equal(t, true, spec["policy"].(map[string]any)["includeSpec"])

	var ky map[string]any
	out.Reset()
	require.NoError(t, Write(&out, KyvernoPolicy(testPub, []string{"registry.internal/mcp/**"})))
	require.NoError(t, yaml.UnmarshalStrict(out.Bytes(), &ky))
	rules := ky["spec"].(map[string]any)["rules"].([]any)
	vi := rules[0].(map[string]any)["verifyImages"].([]any)[0].(map[string]any)
	require.Equal(t, []any{"registry.internal/mcp/*"}, vi["imageReferences"])
	require.Equal(t, true, vi["required"])
	require.Equal(t, true, vi["verifyDigest"])
	keys := vi["attestors"].([]any)[0].(map[string]any)["entries"].([]any)[0].(map[string]any)["keys"].(map[string]any)
	require.Equal(t, testPub, keys["publicKeys"])
	exprs := rules[1].(map[string]any)["validate"].(map[string]any)["cel"].(map[string]any)["expressions"].([]any)
	require.Len(t, exprs, 15)
	for _, e := range exprs {
		require.NotContains(t, e.(map[string]any)["expression"], "variables.")
	}
}

func TestPoliciesRefuseFlavour(t *testing.T) {
	_, err := Policies("opa", testPub, nil)
	require.EqualError(t, err, `flavour "opa": use policy-controller, kyverno or cel`)
}
