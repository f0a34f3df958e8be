package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func generatedPod(t *testing.T, p *policies.Policy) *corev1.Pod {
	t.Helper()
	objs, err := Manifests(testImage, "registry.internal/mcp/github", p, WithKind(KindPod))
	require.NoError(t, err)
	return objs[0].(*corev1.Pod)
}

// fakeWebhook verifies every image as carrying policy p, or fails with err.
func fakeWebhook(p *policies.Policy, err error) *Webhook {
	return &Webhook{verify: func(context.Context, string) (*launch.Verified, error) {
		if err != nil {
			return nil, err
		}
		return &launch.Verified{Policy: p}, nil
	}}
}

func TestWebhookReview(t *testing.T) {
	p := policies.Default()
	for _, tc := range []struct {
		name   string
		edit   func(*corev1.Pod)
		verify error
		want   string // "" admits
	}{
		{"generated pod", func(*corev1.Pod) {}, nil, ""},
		{"verification refused", func(*corev1.Pod) {}, errors.New("no signatures found"), "container server: no signatures found"},
		{"tag", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.internal/mcp/github:1" }, nil,
			"container server: image registry.internal/mcp/github:1 is not pinned by digest (image@sha256:...); drydock kube manifest prints it"},
		{"writable root", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr(false) }, nil,
			"securityContext differs from the label's translation"},
		{"no security context", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext = nil }, nil,
			"securityContext differs from the label's translation"},
		{"cpu above label", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("2")
		}, nil,
			"resources.limits.cpu must be set and at most 1 (the label's)"},
		{"memory missing", func(p *corev1.Pod) { delete(p.Spec.Containers[0].Resources.Limits, corev1.ResourceMemory) }, nil,
			"resources.limits.memory must be set and at most 512Mi (the label's)"},
		{"token", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = nil }, nil,
			"the Pod must set automountServiceAccountToken: false"},
		{"host pid", func(p *corev1.Pod) { p.Spec.HostPID = true }, nil,
			"the Pod may not use the host's network, PID or IPC namespace"},
		{"host port", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		}, nil,
			"hostPort 80 is refused: the label's network mode is none"},
		{"tmpfs on disk", func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.Medium = "" }, nil,
			"/tmp must be an emptyDir with medium Memory and a sizeLimit of at most 64Mi (the label's tmpfs)"},
		{"extra mount", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "etc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "etc", MountPath: "/host-etc"})
		}, nil, "volumeMount /host-etc is neither a tmpfs nor a mount the label declares"},
		{"envFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "all"}}}}
		}, nil, "envFrom is refused: list each variable; the label allows []"},
		{"env", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GITHUB_TOKEN"}} }, nil,
			"environment variable GITHUB_TOKEN is not in the label's env.allow []"},
		{"ephemeral", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, nil, "ephemeral containers are refused: they would run outside the label's settings"},
		{"unverified init container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:latest"}}
		}, nil, "container init: image busybox:latest is not pinned by digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := generatedPod(t, p)
			tc.edit(pod)
			err := fakeWebhook(p, tc.verify).Review(context.Background(), pod)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestWebhookAllowedEnvAndMounts(t *testing.T) {
	p := policies.Default()
	p.Env.Allow = []string{"GITHUB_TOKEN"}
	p.Mounts = []policies.Mount{{Target: "/workspace", ReadOnly: true}}
	objs, err := Manifests(testImage, "r/github", p, WithKind(KindPod), WithClaim("/workspace", "ws"))
	require.NoError(t, err)
	pod := objs[0].(*corev1.Pod)
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GITHUB_TOKEN", Value: "x"}}
	require.NoError(t, fakeWebhook(p, nil).Review(context.Background(), pod))

	pod.Spec.Containers[0].VolumeMounts[1].ReadOnly = false
	require.ErrorContains(t, fakeWebhook(p, nil).Review(context.Background(), pod),
		"/workspace must be a PersistentVolumeClaim mounted read-only (the label's mount)")
}

func TestWebhookHTTP(t *testing.T) {
	p := policies.Default()
	pod := generatedPod(t, p)
	pod.Spec.Containers[0].SecurityContext.Privileged = ptr(true)
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Object: runtime.RawExtension{Raw: raw}},
	}
	body, err := json.Marshal(review)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	fakeWebhook(p, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
	require.Equal(t, http.StatusOK, rec.Code)
	var got admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "u-1", string(got.Response.UID))
	require.False(t, got.Response.Allowed)
	require.Equal(t, int32(403), got.Response.Result.Code)
	require.Contains(t, got.Response.Result.Message, "securityContext differs from the label's translation")

	rec = httptest.NewRecorder()
	fakeWebhook(p, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader([]byte("{}"))))
	require.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestDeployManifestsGolden(t *testing.T) {
	out := write(t, WebhookManifests("registry.internal/drydock@sha256:"+testImage[len(testImage)-64:], "drydock-system", []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))...)
	golden(t, "webhook.yaml", out)
	require.Len(t, strictDecode(t, out), 3)
	job, err := MirrorJob("registry.internal/drydock:1", "build", "registry.internal/mcp", 4, []string{"tcp://buildkitd-0.build:1234", "tcp://buildkitd-1.build:1234"})
	require.NoError(t, err)
	out = write(t, job...)
	golden(t, "mirror-job.yaml", out)
	require.Len(t, strictDecode(t, out), 1)
	require.Contains(t, string(out), "- $(JOB_COMPLETION_INDEX)/4\n")
	_, err = MirrorJob("img", "", "registry.internal/mcp", 4, nil)
	require.EqualError(t, err, "give buildkit: a Pod has no BuildKit daemon of its own (e.g. tcp://buildkitd.build:1234)")
}

// TestWebhookMessage: a refusal reaches the API server in the library's
// words unless the webhook was given its own wording (the CLI's, naming
// its commands).
func TestWebhookMessage(t *testing.T) {
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u-2", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Object: runtime.RawExtension{Raw: mustJSON(t, generatedPod(t, policies.Default()))}},
	})
	require.NoError(t, err)
	refusal := attest.Refuse("r@sha256:1", "signature", func(n func(string) string) (string, string) {
		return "no signature found", "sign it with " + n(attest.FieldSign)
	})
	cli := func(err error) string {
		var re *attest.RefusalError
		require.ErrorAs(t, err, &re)
		return "CLI: " + re.Render(func(f string) string { return map[string]string{attest.FieldSign: "drydock sign"}[f] })
	}
	tests := []struct {
		name    string
		message func(error) string
		want    string
	}{
		{"library words", nil, `container server: r@sha256:1: no signature found (check "signature"); sign it with attest.Sign`},
		{"the CLI's words", cli, `CLI: r@sha256:1: no signature found (check "signature"); sign it with drydock sign`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := fakeWebhook(policies.Default(), refusal)
			w.Message = tt.message
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
			var got admissionv1.AdmissionReview
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.False(t, got.Response.Allowed)
			require.Equal(t, tt.want, got.Response.Result.Message)
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
