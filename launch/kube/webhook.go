package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReviewSize bounds an AdmissionReview body (the API server sends at
// most a few MiB; a Pod is far smaller).
const maxReviewSize = 8 << 20

// Webhook is a validating admission webhook for Pods: every container
// image is verified with drydock's verifier (launch.Verify: signature with
// repository binding, label, the cluster's floor) and the Pod spec must be
// what the verified label translates to.
type Webhook struct {
	verify func(ctx context.Context, ref string) (*launch.Verified, error)

	// Message words a refusal for the API server (and so for the user who
	// applied the Pod); the CLI passes its own, which names its flags and
	// commands where the libraries name their fields. Default: err.Error().
	Message func(err error) string
}

// NewWebhook returns a webhook verifying with opts (WithVerifier is
// required, WithFloor is the cluster's floor). Nothing is cached on disk.
func NewWebhook(opts ...launch.Option) *Webhook {
	opts = append(slices.Clone(opts), launch.WithCacheDir(""))
	return &Webhook{verify: func(ctx context.Context, ref string) (*launch.Verified, error) {
		return launch.Verify(ctx, ref, opts...)
	}}
}

// ServeHTTP answers an admission.k8s.io/v1 AdmissionReview.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(rw, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewSize+1))
	if err != nil || len(body) > maxReviewSize {
		http.Error(rw, "unreadable or oversized AdmissionReview", http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(rw, "the body is not an AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if err := w.review(r.Context(), review.Request); err != nil {
		resp.Allowed = false
		msg := err.Error()
		if w.Message != nil {
			msg = w.Message(err)
		}
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden, Message: msg}
	}
	review.Request, review.Response = nil, resp
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(&review)
}

func (w *Webhook) review(ctx context.Context, req *admissionv1.AdmissionRequest) error {
	if req.Kind.Kind != "Pod" || req.Kind.Group != "" {
		return fmt.Errorf("this webhook reviews Pods, not %s; register it for pods only", req.Kind.Kind)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return fmt.Errorf("decoding the Pod: %w", err)
	}
	return w.Review(ctx, &pod)
}

// Review verifies every container image of pod and checks the Pod spec
// against the translation of each verified label; the error lists every
// refusal, one sentence each.
func (w *Webhook) Review(ctx context.Context, pod *corev1.Pod) error {
	if len(pod.Spec.EphemeralContainers) > 0 {
		return errors.New("ephemeral containers are refused: they would run outside the label's settings")
	}
	var errs []error
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if err := w.container(ctx, pod, c); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (w *Webhook) container(ctx context.Context, pod *corev1.Pod, c corev1.Container) error {
	// A tag could name another image by the time the kubelet pulls it.
	if _, err := name.NewDigest(c.Image); err != nil {
		return fmt.Errorf("image %s is not pinned by digest (image@sha256:...); drydock kube manifest prints it", c.Image)
	}
	v, err := w.verify(ctx, c.Image)
	if err != nil {
		return err
	}
	if err := v.CheckVolumes(mountPaths(c)...); err != nil {
		return err
	}
	return CheckPod(pod, c, v.Policy)
}

// CheckPod compares container c of pod with what policy p translates to
// (PodSpec): the security context must be the translation's, limits and
// volumes no larger than the label allows, environment variables only the
// label's env.allow names.
func CheckPod(pod *corev1.Pod, c corev1.Container, p *policies.Policy) error {
	claims := map[string]string{}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		if v, ok := vols[m.Name]; ok && v.PersistentVolumeClaim != nil {
			claims[m.MountPath] = v.PersistentVolumeClaim.ClaimName
		}
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	want, err := PodSpec(c.Image, p, claims)
	if err != nil {
		return fmt.Errorf("the Pod's volumes do not fit the label: %w", err)
	}
	wc := want.Containers[0]
	if !equality.Semantic.DeepEqual(c.SecurityContext, wc.SecurityContext) {
		bad("securityContext differs from the label's translation; want %s", compact(wc.SecurityContext))
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceCPU} {
		got, ok := c.Resources.Limits[r]
		limit := wc.Resources.Limits[r]
		if !ok || got.Cmp(limit) > 0 {
			bad("resources.limits.%s must be set and at most %s (the label's)", r, limit.String())
		}
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		bad("the Pod must set automountServiceAccountToken: false")
	}
	if pod.Spec.HostNetwork || pod.Spec.HostPID || pod.Spec.HostIPC {
		bad("the Pod may not use the host's network, PID or IPC namespace")
	}
	for _, port := range c.Ports {
		if port.HostPort != 0 {
			bad("hostPort %d is refused: the label's network mode is %s", port.HostPort, p.Network.Mode)
		}
	}
	checkMounts(c, vols, p, bad)
	if len(c.EnvFrom) > 0 {
		bad("envFrom is refused: list each variable; the label allows %v", p.Env.Allow)
	}
	for _, e := range c.Env {
		if !slices.Contains(p.Env.Allow, e.Name) {
			bad("environment variable %s is not in the label's env.allow %v", e.Name, p.Env.Allow)
		}
	}
	return errors.Join(errs...)
}

// checkMounts allows a mount only at a label tmpfs (a memory emptyDir no
// larger than the tmpfs) or at a declared mount target (a PVC, read-only
// when the label says so).
func checkMounts(c corev1.Container, vols map[string]corev1.Volume, p *policies.Policy, bad func(string, ...any)) {
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			bad("volumeMount %s names no volume", m.MountPath)
			continue
		}
		if i := slices.IndexFunc(p.Tmpfs, func(t policies.Tmpfs) bool { return t.Path == m.MountPath }); i >= 0 {
			size, _ := policies.ParseQuantity(p.Tmpfs[i].Size)
			ed := v.EmptyDir
			if ed == nil || ed.Medium != corev1.StorageMediumMemory || ed.SizeLimit == nil || ed.SizeLimit.Value() > size {
				bad("%s must be an emptyDir with medium Memory and a sizeLimit of at most %s (the label's tmpfs)", m.MountPath, p.Tmpfs[i].Size)
			}
			continue
		}
		if i := slices.IndexFunc(p.Mounts, func(d policies.Mount) bool { return d.Target == m.MountPath }); i >= 0 {
			ro := p.Mounts[i].ReadOnly
			if v.PersistentVolumeClaim == nil || ro && (!m.ReadOnly || !v.PersistentVolumeClaim.ReadOnly) {
				bad("%s must be a PersistentVolumeClaim%s (the label's mount)", m.MountPath, map[bool]string{true: " mounted read-only", false: ""}[ro])
			}
			continue
		}
		bad("volumeMount %s is neither a tmpfs nor a mount the label declares", m.MountPath)
	}
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}
