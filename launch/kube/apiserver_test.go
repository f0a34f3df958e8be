package kube

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// cluster is a real API server for one test, with a namespace where the
// drydock Pod-spec policy applies.
type cluster struct {
	k   *testenv.Kube
	cs  *kubernetes.Clientset
	dyn *dynamic.DynamicClient
	ns  string
}

func newCluster(t *testing.T, apiserverArgs ...string) *cluster {
	t.Helper()
	k := testenv.KubeAPIServer(t, apiserverArgs...)
	cfg := &rest.Config{Host: k.URL, BearerToken: k.Token, TLSClientConfig: rest.TLSClientConfig{CAData: k.CAData}}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	c := &cluster{k: k, cs: cs, dyn: dyn, ns: "mcp"}
	_, err = cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: c.ns, Labels: map[string]string{EnforceLabel: "true"},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return c
}

// resources maps the kinds drydock prints to their API resources.
func resourceFor(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool) {
	plural := map[string]string{
		"Pod": "pods", "Deployment": "deployments", "NetworkPolicy": "networkpolicies",
		"ValidatingAdmissionPolicy": "validatingadmissionpolicies", "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
		"ValidatingWebhookConfiguration": "validatingwebhookconfigurations", "Service": "services", "ServiceAccount": "serviceaccounts",
		"Job": "jobs",
	}[gvk.Kind]
	namespaced := !strings.HasPrefix(gvk.Kind, "Validating")
	return gvk.GroupVersion().WithResource(plural), namespaced
}

// apply creates every YAML document of out as drydock printed it (unknown
// fields included, so the server's strict field validation sees them).
func (c *cluster) apply(t *testing.T, out []byte, dryRun bool) error {
	t.Helper()
	for _, doc := range strings.Split(string(out), "---\n") {
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &u.Object))
		gvr, namespaced := resourceFor(u.GroupVersionKind())
		opts := metav1.CreateOptions{FieldValidation: "Strict"}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		var err error
		if namespaced {
			_, err = c.dyn.Resource(gvr).Namespace(c.ns).Create(context.Background(), u, opts)
		} else {
			_, err = c.dyn.Resource(gvr).Create(context.Background(), u, opts)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func write(t *testing.T, objs ...runtime.Object) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Write(&b, objs...))
	return b.Bytes()
}

// TestAPIServer runs on one API server: it takes many seconds to start.
func TestAPIServer(t *testing.T) {
	c := newCluster(t)

	t.Run("manifests pass strict server-side dry-run", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			policy *policies.Policy
			opts   []Option
		}{
			{"deployment", policies.Default(), []Option{WithNamespace(c.ns)}},
			{"pod", policies.Default(), []Option{WithNamespace(c.ns), WithKind(KindPod)}},
			{"bridge", policyWith(t, func(p *policies.Policy) { p.Network.Mode = policies.NetworkBridge }), []Option{WithNamespace(c.ns)}},
		} {
			objs, err := Manifests(testImage, "registry.internal/mcp/github", tc.policy, tc.opts...)
			require.NoError(t, err)
			require.NoError(t, c.apply(t, write(t, objs...), true), tc.name)
		}
		require.NoError(t, c.apply(t, write(t, CELPolicy()...), true))
	})

	t.Run("strict validation is on", func(t *testing.T) {
		// The check above means something only if the server refuses an unknown field.
		objs, err := Manifests(testImage, "registry.internal/mcp/github", policies.Default(), WithNamespace(c.ns), WithKind(KindPod))
		require.NoError(t, err)
		out := bytes.Replace(write(t, objs[0]), []byte("  stdin: true\n"), []byte("  stdin: true\n    stdinn: true\n"), 1)
		require.ErrorContains(t, c.apply(t, out, true), `unknown field "spec.containers[0].stdinn"`)
	})

	t.Run("CEL policy admits the generated Pod and denies each weakened one", func(t *testing.T) {
		require.NoError(t, c.apply(t, write(t, CELPolicy()...), false))
		pod := func() *corev1.Pod {
			objs, err := Manifests(testImage, "registry.internal/mcp/github", policies.Default(), WithNamespace(c.ns), WithKind(KindPod))
			require.NoError(t, err)
			return objs[0].(*corev1.Pod)
		}
		create := func(p *corev1.Pod) error {
			_, err := c.cs.CoreV1().Pods(c.ns).Create(context.Background(), p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		}
		// The policy takes effect once the API server has compiled it: poll
		// with a Pod it must deny (readiness, not a sleep).
		rootPod := pod()
		rootPod.Spec.Containers[0].SecurityContext.RunAsNonRoot = ptr(false)
		deadline := time.Now().Add(time.Minute)
		for create(rootPod) == nil {
			require.True(t, time.Now().Before(deadline), "the ValidatingAdmissionPolicy never took effect")
			time.Sleep(100 * time.Millisecond)
		}
		require.NoError(t, create(pod()), "the generated Pod must be admitted")

		sc := func(p *corev1.Pod) *corev1.SecurityContext { return p.Spec.Containers[0].SecurityContext }
		for _, tc := range []struct {
			name   string
			weaken func(p *corev1.Pod)
			want   string
		}{
			{"tag instead of digest", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.internal/mcp/github:1" },
				"every container image must be pinned by digest (image@sha256:...); drydock kube manifest prints it"},
			{"runAsNonRoot false", func(p *corev1.Pod) { sc(p).RunAsNonRoot = ptr(false) },
				"every container must set securityContext.runAsNonRoot: true"},
			{"runAsNonRoot unset", func(p *corev1.Pod) { sc(p).RunAsNonRoot = nil },
				"every container must set securityContext.runAsNonRoot: true"},
			{"runAsUser 0", func(p *corev1.Pod) { sc(p).RunAsUser = ptr(int64(0)) },
				"every container must set a non-root securityContext.runAsUser and runAsGroup (the label's user, e.g. 65532)"},
			{"runAsGroup 0", func(p *corev1.Pod) { sc(p).RunAsGroup = ptr(int64(0)) },
				"every container must set a non-root securityContext.runAsUser and runAsGroup (the label's user, e.g. 65532)"},
			{"writable root", func(p *corev1.Pod) { sc(p).ReadOnlyRootFilesystem = ptr(false) },
				"every container must set securityContext.readOnlyRootFilesystem: true"},
			{"privilege escalation", func(p *corev1.Pod) { sc(p).AllowPrivilegeEscalation = ptr(true) },
				"every container must set securityContext.allowPrivilegeEscalation: false"},
			// The API server itself refuses privileged with allowPrivilegeEscalation
			// false, before any admission policy runs.
			{"privileged", func(p *corev1.Pod) { sc(p).Privileged = ptr(true) },
				"cannot set `allowPrivilegeEscalation` to false and `privileged` to true"},
			{"capabilities not dropped", func(p *corev1.Pod) { sc(p).Capabilities.Drop = []corev1.Capability{"NET_RAW"} },
				"every container must drop capabilities [ALL]"},
			{"capability added", func(p *corev1.Pod) { sc(p).Capabilities.Add = []corev1.Capability{"NET_ADMIN"} },
				"no container may add capabilities"},
			{"seccomp unconfined", func(p *corev1.Pod) {
				sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			}, "every container must run with seccompProfile type RuntimeDefault"},
			{"no limits", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = corev1.ResourceRequirements{} },
				"every container must set resources.limits.memory and resources.limits.cpu"},
			{"hostPort", func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080}}
			}, "no container may use a hostPort"},
			{"service account token", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr(true) },
				"the Pod must set automountServiceAccountToken: false"},
			{"host network", func(p *corev1.Pod) { p.Spec.HostNetwork = true },
				"the Pod may not use the host's network, PID or IPC namespace"},
			{"hostPath volume", func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
			}, "volumes must be memory emptyDirs with a sizeLimit (the label's tmpfs) or PersistentVolumeClaims (its mounts)"},
			{"disk emptyDir", func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.Medium = corev1.StorageMediumDefault },
				"volumes must be memory emptyDirs with a sizeLimit (the label's tmpfs) or PersistentVolumeClaims (its mounts)"},
			{"weak init container", func(p *corev1.Pod) {
				ic := *p.Spec.Containers[0].DeepCopy()
				ic.Name, ic.Stdin = "init", false
				ic.SecurityContext.ReadOnlyRootFilesystem = ptr(false)
				p.Spec.InitContainers = []corev1.Container{ic}
			}, "every container must set securityContext.readOnlyRootFilesystem: true"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := pod()
				tc.weaken(p)
				err := create(p)
				require.Error(t, err, "the weakened Pod was admitted")
				require.Contains(t, err.Error(), tc.want)
			})
		}
	})
}
