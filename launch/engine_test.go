package launch

import (
	"testing"

	"github.com/drydock-dev/drydock/policies"
	"github.com/stretchr/testify/require"
)

// TestEngineTolerances pins what podman may report differently and what it
// may not: each tolerated spelling next to a loosening that must still fail.
func TestEngineTolerances(t *testing.T) {
	podmanDrop := []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
	caps := []struct {
		name      string
		got, want []string
		ok        bool
	}{
		{"docker reports ALL", []string{"ALL"}, []string{"ALL"}, true},
		{"podman lists the dropped defaults", podmanDrop, []string{"ALL"}, true},
		{"a default capability kept", podmanDrop[1:], []string{"ALL"}, false},
		{"nothing dropped", nil, []string{"ALL"}, false},
	}
	for _, tt := range caps {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.ok, sameCapDrop(tt.got, tt.want)) })
	}

	want := map[string]string{"/tmp": policies.TmpfsOptions(64 << 20)}
	tmpfs := []struct {
		name string
		got  map[string]string
		ok   bool
	}{
		{"exact", map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=67108864"}, true},
		{"podman's propagation and copy-up flags", map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=67108864,rprivate,tmpcopyup"}, true},
		{"exec allowed", map[string]string{"/tmp": "rw,nosuid,nodev,size=67108864,rprivate,tmpcopyup"}, false},
		{"size cap lifted", map[string]string{"/tmp": "rw,noexec,nosuid,nodev,rprivate"}, false},
		{"an extra writable tmpfs", map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=67108864", "/var/tmp": "rw,nosuid,nodev"}, false},
	}
	for _, tt := range tmpfs {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.ok, sameTmpfs(tt.got, want)) })
	}

	spec, err := policies.Translate(policies.Default())
	require.NoError(t, err)
	onPodman := engineTmpfs(spec.Tmpfs, true, enginePodman)
	require.Equal(t, spec.Tmpfs["/tmp"], onPodman["/tmp"], "the policy's own tmpfs wins")
	require.Equal(t, policies.TmpfsOptions(podmanTmpfsSize), onPodman["/var/tmp"])
	require.Equal(t, spec.Tmpfs, engineTmpfs(spec.Tmpfs, true, engineDocker), "dockerd adds no tmpfs, so drydock adds none")

	require.Empty(t, envMismatch([]string{"PATH=/bin", "container=podman", "TERM=xterm"}, append([]string{"PATH=/bin"}, harmlessEnv...), nil))
	require.NotEmpty(t, envMismatch([]string{"PATH=/bin", "container=docker"}, append([]string{"PATH=/bin"}, harmlessEnv...), nil))
}
