package policies

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The label size limit, at and one byte over: JSON allows trailing space,
// so a valid label is padded to the exact size.
func TestDecodeSizeLimit(t *testing.T) {
	valid, err := Default().Encode()
	require.NoError(t, err)
	tests := []struct {
		name    string
		size    int
		wantErr string // empty: accepted
	}{
		{"one byte under 64 KiB", 65535, ""},
		{"exactly 64 KiB", 65536, ""},
		{"one byte over 64 KiB", 65537, "dev.drydock.policy label is 65537 bytes, more than the 65536 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			label := valid + strings.Repeat(" ", tt.size-len(valid))
			require.Len(t, label, tt.size)
			_, err := Decode(label)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

// Lists written as null decode as empty lists, like omitted ones in a policy
// file, so a decoded label compares equal to the policy it encodes.
func TestDecodeNullLists(t *testing.T) {
	const label = `{"apiVersion":"drydock.dev/v1","capabilities":{"add":null,"drop":["ALL"]},"env":{"allow":null},"mounts":null,"network":{"mode":"none"},"noNewPrivileges":true,"readOnlyRootfs":true,"resources":{"cpus":"1","memory":"512Mi","pids":128},"seccomp":"runtime/default","tmpfs":[{"path":"/tmp","size":"64Mi"}],"user":"65532:65532"}`
	p, err := Decode(label)
	require.NoError(t, err)
	require.Equal(t, Default(), p)
	require.Equal(t, []string{}, p.Capabilities.Add)
	require.Equal(t, []Mount{}, p.Mounts)
	require.Equal(t, []string{}, p.Env.Allow)
}
