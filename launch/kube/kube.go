// Package kube carries a verified image's signed policy into Kubernetes: the
// workload and NetworkPolicy that run it under the label's settings, the
// admission policies that require them, and a validating admission webhook
// that verifies images with drydock's own verifier.
package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drydock-dev/drydock/launch"
	"io"

	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/drydock-dev/drydock/policies"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
	"strconv"
)

// Workload kinds.
const (
	KindDeployment = "deployment"
	KindPod        = "pod"
)

// Labels set on every generated workload; the NetworkPolicy selects NameLabel.
const (
	NameLabel      = "app.kubernetes.io/name"
	ManagedByLabel = "app.kubernetes.io/managed-by"
)

// Option configures Manifests.
type Option func(*options) error

type options struct {
	name, namespace, kind string
	claims                map[string]string
}

// WithName sets the workload's name. Default: the repository's last path element.
func WithName(n string) Option {
	return func(o *options) error { o.name = n; return nil }
}

// WithNamespace sets metadata.namespace. Default: none (kubectl's current namespace).
func WithNamespace(ns string) Option {
	return func(o *options) error { o.namespace = ns; return nil }
}

// WithKind chooses a Deployment (default) or a bare Pod.
func WithKind(k string) Option {
	return func(o *options) error {
		if k != KindDeployment && k != KindPod {
			return inputerr.Field("kind", strconv.Quote(k), fmt.Errorf("use %s or %s", KindDeployment, KindPod))
		}
		o.kind = k
		return nil
	}
}

// WithClaim binds the PersistentVolumeClaim claim at a mount target the label declares.
func WithClaim(target, claim string) Option {
	return func(o *options) error {
		if claim == "" {
			return inputerr.Field("claim", target, errors.New("the claim name is empty"))
		}
		o.claims[target] = claim
		return nil
	}
}

// FromVerified is Manifests for what launch.Verify returned. An image
// VOLUME that no mount of the generated Pod (a tmpfs, a bound claim)
// covers is refused, as run refuses it: the container runtime would create
// a writable volume there.
func FromVerified(v *launch.Verified, opts ...Option) ([]runtime.Object, error) {
	objs, err := Manifests(v.Digest.String(), v.Digest.Context().String(), v.Policy, opts...)
	if err != nil {
		return nil, err
	}
	var spec *corev1.PodSpec
	switch w := objs[0].(type) {
	case *corev1.Pod:
		spec = &w.Spec
	case *appsv1.Deployment:
		spec = &w.Spec.Template.Spec
	default:
		return nil, fmt.Errorf("kube: unexpected workload %T", objs[0])
	}
	if err := v.CheckVolumes(mountPaths(spec.Containers[0])...); err != nil {
		return nil, err
	}
	return objs, nil
}

// mountPaths are the paths something is mounted at in c.
func mountPaths(c corev1.Container) []string {
	out := make([]string, 0, len(c.VolumeMounts))
	for _, m := range c.VolumeMounts {
		out = append(out, m.MountPath)
	}
	return out
}

// Manifests translates a verified image (digest reference image, its
// verified policy p) into a workload and the NetworkPolicy that confines it.
func Manifests(image, repository string, p *policies.Policy, opts ...Option) ([]runtime.Object, error) {
	o := &options{kind: KindDeployment, claims: map[string]string{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.name == "" {
		o.name = DefaultName(repository)
	}
	np, err := networkPolicy(o, p)
	if err != nil {
		return nil, err
	}
	spec, err := PodSpec(image, p, o.claims)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	labels := map[string]string{NameLabel: o.name, ManagedByLabel: "drydock"}
	meta := metav1.ObjectMeta{Name: o.name, Namespace: o.namespace, Labels: labels}
	var w runtime.Object
	switch o.kind {
	case KindPod:
		w = &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta, Spec: spec}
	default:
		// One replica: an MCP stdio server is a session, not a service.
		w = &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{NameLabel: o.name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
			},
		}
	}
	return []runtime.Object{w, np}, nil
}

// networkPolicy confines the server's Pods: no traffic in or out for mode
// none; for bridge (the label's loud opt-in) only ingress is denied.
func networkPolicy(o *options, p *policies.Policy) (*networkingv1.NetworkPolicy, error) {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: o.name, Namespace: o.namespace, Labels: map[string]string{ManagedByLabel: "drydock"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{NameLabel: o.name}},
		},
	}
	switch p.Network.Mode {
	case policies.NetworkNone:
		// Listed types with no rules deny everything of that type.
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	case policies.NetworkBridge:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	default:
		return nil, fmt.Errorf("network mode %q has no Kubernetes translation yet (it needs the egress gateway of issue #12); run it with drydock run", p.Network.Mode)
	}
	return np, nil
}

// Write prints objects as YAML documents separated by "---".
func Write(w io.Writer, objs ...runtime.Object) error {
	var errs []error
	for i, obj := range objs {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encoding %T: %w", obj, err)
		}
		if i > 0 {
			_, err = io.WriteString(w, "---\n")
			errs = append(errs, err)
		}
		_, err = w.Write(b)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
