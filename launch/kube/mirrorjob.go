package kube

import (
	"fmt"

	"errors"
	"github.com/drydock-dev/drydock/internal/inputerr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"strconv"
)

// MirrorJob is an indexed Job of shards Pods, each running
// `drydock mirror --index-shard $(JOB_COMPLETION_INDEX)/shards` (image: a
// drydock image) against the remote BuildKit daemons buildkit. The catalog
// is the ConfigMap drydock-mirror-catalog (catalog.yaml), the signing key
// the Secret drydock-mirror-key (cosign.key, and cosign-password read into
// COSIGN_PASSWORD), registry credentials the Secret drydock-mirror-registry
// (.dockerconfigjson).
func MirrorJob(image, namespace, prefix string, shards int, buildkit []string) ([]runtime.Object, error) {
	if shards < 1 {
		return nil, inputerr.Field("shards", strconv.Itoa(shards), errors.New("want at least 1"))
	}
	if len(buildkit) == 0 {
		return nil, inputerr.New(func(n func(string) string) string {
			return "give " + n("buildkit") + ": a Pod has no BuildKit daemon of its own (e.g. tcp://buildkitd.build:1234)"
		}, nil, "buildkit")
	}
	if prefix == "" {
		return nil, inputerr.New(func(n func(string) string) string {
			return "give " + n("prefix") + ", the mirror prefix (e.g. registry.internal/mcp)"
		}, nil, "prefix")
	}
	const name = "drydock-mirror"
	args := []string{"mirror", "/etc/drydock/catalog/catalog.yaml", "--to", prefix, "--key", "/etc/drydock/key/cosign.key",
		// Kubernetes expands $(VAR) from the container's environment.
		"--index-shard", fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", shards),
		// The start check needs a container engine, which a Pod lacks.
		"--smoke=false", "--output", "json"}
	for _, a := range buildkit {
		args = append(args, "--buildkit-addr", a)
	}
	l := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourceCPU: resource.MustParse("1")}
	indexed := batchv1.IndexedCompletion
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{ManagedByLabel: "drydock"}},
		Spec: batchv1.JobSpec{
			CompletionMode: &indexed,
			Completions:    ptr(int32(shards)),
			Parallelism:    ptr(int32(shards)),
			// A failed shard is rerun on its own; mirror skips finished entries.
			BackoffLimitPerIndex: ptr(int32(2)),
			MaxFailedIndexes:     ptr(int32(shards)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: ptr(false),
				EnableServiceLinks:           ptr(false),
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(65532)),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				Containers: []corev1.Container{{
					Name:  "mirror",
					Image: image,
					Args:  args,
					Env: []corev1.EnvVar{
						{Name: "COSIGN_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: name + "-key"}, Key: "cosign-password"}}},
						{Name: "DOCKER_CONFIG", Value: "/etc/drydock/registry"},
						{Name: "HOME", Value: "/tmp"},
					},
					Resources: corev1.ResourceRequirements{Limits: l, Requests: l.DeepCopy()},
					SecurityContext: &corev1.SecurityContext{
						RunAsNonRoot: ptr(true), ReadOnlyRootFilesystem: ptr(true), AllowPrivilegeEscalation: ptr(false), Privileged: ptr(false),
						Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					VolumeMounts: []corev1.VolumeMount{
						{Name: "catalog", MountPath: "/etc/drydock/catalog", ReadOnly: true},
						{Name: "key", MountPath: "/etc/drydock/key", ReadOnly: true},
						{Name: "registry", MountPath: "/etc/drydock/registry", ReadOnly: true},
						{Name: "tmp", MountPath: "/tmp"},
					},
				}},
				Volumes: []corev1.Volume{
					{Name: "catalog", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-catalog"}}}},
					{Name: "key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name + "-key"}}},
					{Name: "registry", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name + "-registry",
						Items: []corev1.KeyToPath{{Key: ".dockerconfigjson", Path: "config.json"}}}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("256Mi"))}}},
				},
			}},
		},
	}
	return []runtime.Object{job}, nil
}
