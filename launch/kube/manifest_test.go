package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const testImage = "registry.internal/mcp/github@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// strictDecode decodes every YAML document of out with the Kubernetes
// serializer in strict mode: an unknown or duplicated field fails.
func strictDecode(t *testing.T, out []byte) []runtime.Object {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme, batchv1.AddToScheme, admissionregv1.AddToScheme} {
		require.NoError(t, add(s))
	}
	dec := serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for _, doc := range strings.Split(string(out), "---\n") {
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		require.NoError(t, err, "strict decoding of\n%s", doc)
		objs = append(objs, obj)
	}
	return objs
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to write %s", path)
	require.Equal(t, string(want), string(got))
}

func policyWith(t *testing.T, edit func(p *policies.Policy)) *policies.Policy {
	t.Helper()
	p := policies.Default()
	if edit != nil {
		edit(p)
	}
	return p
}

func TestManifestsGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		policy *policies.Policy
		opts   []Option
	}{
		{"deployment.default.yaml", policyWith(t, nil), nil},
		{"pod.mounts.yaml", policyWith(t, func(p *policies.Policy) {
			p.Resources = policies.Resources{Memory: "1Gi", CPUs: "0.25", Pids: 64}
			p.Tmpfs = append(p.Tmpfs, policies.Tmpfs{Path: "/home/nonroot/.cache", Size: "16Mi"})
			p.Mounts = []policies.Mount{
				{Target: "/workspace", ReadOnly: true, Required: true},
				{Target: "/scratch", ReadOnly: false},
			}
		}), []Option{WithKind(KindPod), WithName("gh"), WithNamespace("mcp"), WithClaim("/workspace", "gh-workspace")}},
		{"deployment.bridge.yaml", policyWith(t, func(p *policies.Policy) { p.Network.Mode = policies.NetworkBridge }),
			[]Option{WithNamespace("mcp")}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			objs, err := Manifests(testImage, "registry.internal/mcp/github", tc.policy, tc.opts...)
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, Write(&out, objs...))
			golden(t, tc.golden, out.Bytes())
			require.Len(t, strictDecode(t, out.Bytes()), 2)
		})
	}
}

// TestManifestSettings pins the security settings of the default label's
// translation literally, apart from the golden file.
func TestManifestSettings(t *testing.T) {
	objs, err := Manifests(testImage, "registry.internal/mcp/github", policies.Default())
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Write(&out, objs...))
	decoded := strictDecode(t, out.Bytes())
	d := decoded[0].(*appsv1.Deployment)
	np := decoded[1].(*networkingv1.NetworkPolicy)
	ps := d.Spec.Template.Spec
	require.Len(t, ps.Containers, 1)
	c := ps.Containers[0]
	sc := c.SecurityContext
	require.Equal(t, testImage, c.Image)
	require.True(t, c.Stdin)
	require.True(t, *sc.RunAsNonRoot)
	require.Equal(t, int64(65532), *sc.RunAsUser)
	require.Equal(t, int64(65532), *sc.RunAsGroup)
	require.True(t, *sc.ReadOnlyRootFilesystem)
	require.False(t, *sc.AllowPrivilegeEscalation)
	require.False(t, *sc.Privileged)
	require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	require.Empty(t, sc.Capabilities.Add)
	require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
	require.Equal(t, "512Mi", c.Resources.Limits.Memory().String())
	require.Equal(t, "1", c.Resources.Limits.Cpu().String())
	require.Equal(t, "512Mi", c.Resources.Requests.Memory().String())
	require.False(t, *ps.AutomountServiceAccountToken)
	require.Len(t, ps.Volumes, 1)
	require.Equal(t, corev1.StorageMediumMemory, ps.Volumes[0].EmptyDir.Medium)
	require.Equal(t, "64Mi", ps.Volumes[0].EmptyDir.SizeLimit.String())
	require.Equal(t, "/tmp", c.VolumeMounts[0].MountPath)
	require.Equal(t, map[string]string{"app.kubernetes.io/name": "github"}, np.Spec.PodSelector.MatchLabels)
	require.Equal(t, []networkingv1.PolicyType{"Ingress", "Egress"}, np.Spec.PolicyTypes)
	require.Empty(t, np.Spec.Ingress)
	require.Empty(t, np.Spec.Egress)
}

func TestManifestsRefuse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *policies.Policy
		opts   []Option
		want   string
	}{
		{"allowlist", policyWith(t, func(p *policies.Policy) {
			p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.github.com:443"}}
		}), nil, `network mode "allowlist" has no Kubernetes translation yet`},
		{"required mount without claim", policyWith(t, func(p *policies.Policy) {
			p.Mounts = []policies.Mount{{Target: "/workspace", ReadOnly: true, Required: true}}
		}), nil, "the label requires a mount at /workspace: name the PersistentVolumeClaim to bind there with claim /workspace=CLAIM"},
		{"claim for undeclared target", policyWith(t, nil), []Option{WithClaim("/etc", "x")},
			"claim /etc: the label declares no mount at /etc"},
		{"cpu below a milli-CPU", policyWith(t, func(p *policies.Policy) { p.Resources.CPUs = "0.0001" }), nil,
			"resources.cpus: 100000 nano-CPUs is below Kubernetes' smallest CPU unit (1m)"},
		{"invalid label", policyWith(t, func(p *policies.Policy) { p.User = "0:0" }), nil, `runs as root`},
		{"kind", policyWith(t, nil), []Option{WithKind("job")}, `kind "job": use deployment or pod`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Manifests(testImage, "registry.internal/mcp/github", tc.policy, tc.opts...)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDefaultName(t *testing.T) {
	for in, want := range map[string]string{
		"registry.internal/mcp/github":    "github",
		"127.0.0.1:5000/mcp/My_Server.v2": "my-server-v2",
		"r/" + strings.Repeat("a", 70):    strings.Repeat("a", 63),
		"r/__":                            "mcp-server",
	} {
		require.Equal(t, want, DefaultName(in), in)
	}
}
