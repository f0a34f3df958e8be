package kube

import (
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Paths inside the webhook's Pod where its Secret and ConfigMap are mounted.
const (
	webhookTLSDir = "/etc/drydock/tls"
	webhookKeyDir = "/etc/drydock/key"
	webhookPort   = 8443
)

// WebhookManifests is the webhook's deployment: a Deployment running image
// (a drydock build) as `drydock kube webhook` under the same hardened
// settings drydock gives servers, a Service, and the
// ValidatingWebhookConfiguration for Pods in namespaces labelled
// EnforceLabel=true. The TLS pair is the Secret drydock-webhook-tls, the
// public key the ConfigMap drydock-webhook-key (key cosign.pub); caBundle
// is the PEM CA that issued the serving certificate.
func WebhookManifests(image, namespace string, caBundle []byte) []runtime.Object {
	const name = "drydock-webhook"
	labels := map[string]string{NameLabel: name, ManagedByLabel: "drydock"}
	l := corev1.ResourceList{
		corev1.ResourceMemory: resource.MustParse("256Mi"),
		corev1.ResourceCPU:    resource.MustParse("500m"),
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{NameLabel: name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr(false),
					EnableServiceLinks:           ptr(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(65532)),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:  "webhook",
						Image: image,
						Args: []string{"kube", "webhook", "--key", webhookKeyDir + "/cosign.pub",
							"--tls-cert", webhookTLSDir + "/tls.crt", "--tls-key", webhookTLSDir + "/tls.key", "--addr", ":8443"},
						Ports:     []corev1.ContainerPort{{Name: "https", ContainerPort: webhookPort}},
						Resources: corev1.ResourceRequirements{Limits: l, Requests: l.DeepCopy()},
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(65532)),
							ReadOnlyRootFilesystem: ptr(true), AllowPrivilegeEscalation: ptr(false), Privileged: ptr(false),
							Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(webhookPort)},
						}},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "tls", MountPath: webhookTLSDir, ReadOnly: true},
							{Name: "key", MountPath: webhookKeyDir, ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name + "-tls"}}},
						{Name: "key", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: name + "-key"}}}},
					},
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{NameLabel: name},
			Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(webhookPort)}},
		},
	}
	fail, none := admissionv1.Fail, admissionv1.SideEffectClassNone
	path := "/validate"
	vwc := &admissionv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName, Labels: map[string]string{ManagedByLabel: "drydock"}},
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name: "pods.drydock.dev",
			ClientConfig: admissionv1.WebhookClientConfig{
				Service:  &admissionv1.ServiceReference{Namespace: namespace, Name: name, Path: &path, Port: ptr(int32(443))},
				CABundle: caBundle,
			},
			Rules: []admissionv1.RuleWithOperations{{
				Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
				Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods", "pods/ephemeralcontainers"}},
			}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{EnforceLabel: "true"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr(int32(30)),
		}},
	}
	return []runtime.Object{dep, svc, vwc}
}
