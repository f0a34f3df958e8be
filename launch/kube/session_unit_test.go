package kube

import (
	"regexp"
	"testing"

	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

func TestSessionName(t *testing.T) {
	tests := []struct {
		base string
		want string // pattern
	}{
		{"echo", `^echo-[bcdfghjklmnpqrstvwxz2456789]{5}$`},
		// 57 characters of base at most: the name stays a 63-character label.
		{"a23456789012345678901234567890123456789012345678901234567890123", `^a23456789012345678901234567890123456789012345678901234567-[bcdfghjklmnpqrstvwxz2456789]{5}$`},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			a := sessionName(tt.base)
			require.Regexp(t, regexp.MustCompile(tt.want), a)
			require.LessOrEqual(t, len(a), 63)
			b := sessionName(tt.base)
			require.NotEqual(t, a, b, "two sessions got the same name")
		})
	}
}

// TestSessionObjects pins what a session adds to the kube manifest
// translation, and that the NetworkPolicy selects exactly its Pod.
func TestSessionObjects(t *testing.T) {
	d, err := name.NewDigest("registry.example/mcp/github@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	pod, np, err := sessionObjects(&launch.Verified{Digest: d, Policy: policies.Default()}, "mcp")
	require.NoError(t, err)
	require.Regexp(t, `^github-[a-z0-9]{5}$`, pod.Name)
	require.Equal(t, "mcp", pod.Namespace)
	require.Equal(t, "mcp", np.Namespace)
	require.Equal(t, pod.Name, np.Name)
	require.Equal(t, map[string]string{NameLabel: pod.Name}, np.Spec.PodSelector.MatchLabels)
	require.Equal(t, pod.Name, pod.Labels[NameLabel])
	c := pod.Spec.Containers[0]
	require.Equal(t, "registry.example/mcp/github@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", c.Image)
	require.True(t, c.Stdin)
	require.True(t, c.StdinOnce)
	require.False(t, c.TTY)
	require.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
	// The rest is kube manifest's translation, unchanged.
	require.Equal(t, int64(65532), *c.SecurityContext.RunAsUser)
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.False(t, *pod.Spec.AutomountServiceAccountToken)
	require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
}

// TestSessionObjectsRefuses: what kube manifest cannot translate, a session
// does not run either.
func TestSessionObjectsRefuses(t *testing.T) {
	d, err := name.NewDigest("registry.example/mcp/fetch@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	tests := []struct {
		name   string
		modify func(*policies.Policy)
		want   string
	}{
		{"allowlist network", func(p *policies.Policy) {
			p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.github.com:443"}}
		}, `network mode "allowlist" has no Kubernetes translation yet`},
		{"required mount", func(p *policies.Policy) {
			p.Mounts = []policies.Mount{{Target: "/workspace", Required: true}}
		}, "the label requires a mount at /workspace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policies.Default()
			tt.modify(p)
			pod, np, err := sessionObjects(&launch.Verified{Digest: d, Policy: p}, "mcp")
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, pod)
			require.Nil(t, np)
		})
	}
}
