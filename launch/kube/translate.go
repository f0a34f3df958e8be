package kube

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/drydock-dev/drydock/policies"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ContainerName is the name of the server's container in every generated Pod.
const ContainerName = "server"

// PodSpec translates a verified policy into the Pod spec that runs image (a
// digest reference) under it: the Kubernetes counterpart of
// policies.Translate's container settings. claims names the
// PersistentVolumeClaim bound at each declared mount target; a declared
// mount without a claim is left out unless the label marks it required.
func PodSpec(image string, p *policies.Policy, claims map[string]string) (corev1.PodSpec, error) {
	spec, err := policies.Translate(p)
	if err != nil {
		return corev1.PodSpec{}, err
	}
	uid, gid, err := ids(p.User)
	if err != nil {
		return corev1.PodSpec{}, err
	}
	res, err := resources(spec)
	if err != nil {
		return corev1.PodSpec{}, err
	}
	c := corev1.Container{
		Name:            ContainerName,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		// MCP over stdio: the client reaches the server with
		// `kubectl attach -i` (or drydock run --kube).
		Stdin:                    true,
		Resources:                res,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr(true),
			RunAsUser:                ptr(uid),
			RunAsGroup:               ptr(gid),
			ReadOnlyRootFilesystem:   ptr(spec.ReadonlyRootfs),
			AllowPrivilegeEscalation: ptr(!p.NoNewPrivileges),
			Privileged:               ptr(false),
			Capabilities:             &corev1.Capabilities{Drop: capNames(spec.CapDrop), Add: capNames(spec.CapAdd)},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if len(c.SecurityContext.Capabilities.Add) == 0 {
		c.SecurityContext.Capabilities.Add = nil
	}
	var vols []corev1.Volume
	for i, t := range p.Tmpfs {
		size, _ := policies.ParseQuantity(t.Size) // Translate validated it
		name := fmt.Sprintf("tmpfs-%d", i)
		// Memory-backed and capped like the tmpfs run mounts; Kubernetes
		// cannot mount an emptyDir noexec, which is why the CEL policy and
		// the webhook refuse everything else a writable path could enable.
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(size, resource.BinarySI)},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: t.Path})
	}
	for i, m := range p.Mounts {
		claim, ok := claims[m.Target]
		if !ok && !m.Required {
			continue
		}
		if !ok {
			return corev1.PodSpec{}, inputerr.New(func(n func(string) string) string {
				return fmt.Sprintf("the label requires a mount at %s: name the PersistentVolumeClaim to bind there with %s %s=CLAIM", m.Target, n("claim"), m.Target)
			}, nil, "claim")
		}
		name := fmt.Sprintf("mount-%d", i)
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: m.ReadOnly},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: m.Target, ReadOnly: m.ReadOnly})
	}
	for t := range claims {
		if !slices.ContainsFunc(p.Mounts, func(m policies.Mount) bool { return m.Target == t }) {
			return corev1.PodSpec{}, inputerr.Field("claim", t, fmt.Errorf("the label declares no mount at %s", t))
		}
	}
	return corev1.PodSpec{
		Containers:                   []corev1.Container{c},
		Volumes:                      vols,
		AutomountServiceAccountToken: ptr(false),
		EnableServiceLinks:           ptr(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr(true),
			RunAsUser:      ptr(uid),
			RunAsGroup:     ptr(gid),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}, nil
}

// ids splits a validated "UID:GID".
func ids(user string) (uid, gid int64, err error) {
	u, g, _ := strings.Cut(user, ":")
	if uid, err = strconv.ParseInt(u, 10, 64); err == nil {
		gid, err = strconv.ParseInt(g, 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("user %q: want numeric UID:GID", user)
	}
	return uid, gid, nil
}

// resources sets limits and requests equal (Guaranteed QoS: the limit is
// what the node reserves). Kubernetes has no per-Pod pids limit (it is the
// kubelet's podPidsLimit), so resources.pids is not carried.
func resources(s policies.ContainerSpec) (corev1.ResourceRequirements, error) {
	milli := s.NanoCPUs / 1e6
	if milli < 1 {
		return corev1.ResourceRequirements{}, fmt.Errorf("resources.cpus: %d nano-CPUs is below Kubernetes' smallest CPU unit (1m)", s.NanoCPUs)
	}
	l := corev1.ResourceList{
		corev1.ResourceMemory: *resource.NewQuantity(s.Memory, resource.BinarySI),
		// Rounded down to whole milli-CPUs: never more than the label allows.
		corev1.ResourceCPU: *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}
	return corev1.ResourceRequirements{Limits: l, Requests: l.DeepCopy()}, nil
}

func capNames(cs []string) []corev1.Capability {
	out := make([]corev1.Capability, 0, len(cs))
	for _, c := range cs {
		out = append(out, corev1.Capability(c))
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// DefaultName derives an object name from an image repository: its last
// path element as a DNS-1123 label.
func DefaultName(repository string) string {
	n := repository[strings.LastIndex(repository, "/")+1:]
	n = strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(n)), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if n == "" {
		n = "mcp-server"
	}
	return n
}
