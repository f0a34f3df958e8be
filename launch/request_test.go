package launch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/policies"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

func TestParseMount(t *testing.T) {
	tests := []struct {
		in      string
		want    MountRequest
		wantErr bool
	}{
		{in: "/src:/workspace", want: MountRequest{Source: "/src", Target: "/workspace"}},
		{in: "/src:/workspace:rw", want: MountRequest{Source: "/src", Target: "/workspace", Writable: true}},
		{in: "/src:/workspace:ro", want: MountRequest{Source: "/src", Target: "/workspace"}},
		{in: "/src", wantErr: true},
		{in: "/src:/w:rx", wantErr: true},
		{in: ":/w", wantErr: true},
		{in: "/a:/b:/c:rw", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMount(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// probe calls the fixture's probe tool and decodes its report.
func probe(t *testing.T, s *mcp.ClientSession, args map[string]any) map[string]any {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "probe", Arguments: args})
	require.NoError(t, err)
	require.False(t, res.IsError)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &out))
	return out
}

func TestRunMountsAndEnv(t *testing.T) {
	w := setup(t)
	p := policies.Default()
	p.Mounts = []policies.Mount{{Target: "/workspace", ReadOnly: false}, {Target: "/docs", ReadOnly: true}}
	p.Env.Allow = []string{"DRYDOCK_TEST_TOKEN", "OTHER"}
	ref := w.image(t, "mounts", p)
	pinned := digestOf(t, ref)

	allowed := t.TempDir()
	require.NoError(t, os.Chmod(allowed, 0o777)) // the server runs as 65532
	require.NoError(t, os.WriteFile(filepath.Join(allowed, "hello.txt"), []byte("from the host"), 0o644))
	floor := policies.StrictFloor()
	floor.Mounts.AllowSources = []string{allowed}
	floor.Env.Allow = []string{"DRYDOCK_TEST_TOKEN"}
	writable := *floor
	writable.Mounts.AllowWritable = true
	const secret = "s3cr3t-value-never-logged"
	env := func(n string) (string, bool) {
		if n == "DRYDOCK_TEST_TOKEN" {
			return secret, true
		}
		return "", false
	}

	tests := []struct {
		name         string
		floor        *policies.Floor
		mount        MountRequest
		wantWritable bool
	}{
		{"read-only by default", floor, MountRequest{Source: allowed, Target: "/workspace"}, false},
		{"read-only request on a writable target", &writable, MountRequest{Source: allowed, Target: "/workspace"}, false},
		{"rw when label, floor and request allow it", &writable, MountRequest{Source: allowed, Target: "/workspace", Writable: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := w.start(t, ref, WithFloor(tt.floor), WithMounts(tt.mount), WithEnv("DRYDOCK_TEST_TOKEN"), WithLookupEnv(env))
			got := probe(t, s.ClientSession, map[string]any{
				"readFile": "/workspace/hello.txt", "writeDir": "/workspace", "getenv": []string{"DRYDOCK_TEST_TOKEN", "OTHER"},
			})
			require.Equal(t, "from the host", got["file"])
			require.Equal(t, tt.wantWritable, got["dirWritable"] == true, "write error: %v", got["dirWriteError"])
			require.Equal(t, map[string]any{"DRYDOCK_TEST_TOKEN": secret}, got["env"])

			// The engine shows the value (it went through the API) but the
			// command line and drydock's own output never do.
			ctrs := w.containers(t, pinned)
			require.Len(t, ctrs, 1)
			info, err := w.docker.ContainerInspect(context.Background(), ctrs[0].ID)
			require.NoError(t, err)
			require.Contains(t, info.Config.Env, "DRYDOCK_TEST_TOKEN="+secret)
			require.NotContains(t, strings.Join(append(info.Config.Cmd, info.Args...), " "), secret)
			require.Len(t, info.Mounts, 1)
			require.Equal(t, tt.wantWritable, info.Mounts[0].RW)

			require.NoError(t, s.stdin.Close())
			r := s.wait(t)
			require.NoError(t, r.err)
			require.NotContains(t, s.stderr.String(), secret)
			w.waitGone(t, pinned)
		})
	}
}

func TestRunRefusesRequests(t *testing.T) {
	w := setup(t)
	p := policies.Default()
	p.Mounts = []policies.Mount{{Target: "/workspace", ReadOnly: true}, {Target: "/data", Required: true}}
	p.Env.Allow = []string{"TOKEN"}
	ref := w.image(t, "refusals", p)

	root := t.TempDir()
	allowed, outside := filepath.Join(root, "allowed"), filepath.Join(root, "outside")
	require.NoError(t, os.MkdirAll(allowed, 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(allowed, "escape")))
	floor := policies.StrictFloor()
	floor.Mounts.AllowSources = []string{allowed}
	floor.Mounts.AllowWritable = true
	floor.Env.Allow = []string{"TOKEN", "NOT_IN_LABEL"}
	noEnvFloor := policies.StrictFloor()
	noEnvFloor.Mounts.AllowSources = []string{allowed}
	data := MountRequest{Source: allowed, Target: "/data"}
	set := func(string) (string, bool) { return "v", true }

	tests := []struct {
		name    string
		opts    []Option
		wantErr string
	}{
		{"undeclared target", []Option{WithFloor(floor), WithMounts(data, MountRequest{Source: allowed, Target: "/etc"})}, "declares no mount target /etc"},
		{"source outside the floor", []Option{WithFloor(floor), WithMounts(data, MountRequest{Source: outside, Target: "/workspace"})}, "is not under the floor's mounts.allowSources"},
		{"symlink out of an allowed source", []Option{WithFloor(floor), WithMounts(data, MountRequest{Source: filepath.Join(allowed, "escape"), Target: "/workspace"})}, "host path " + outside + " is not under"},
		{"missing source", []Option{WithFloor(floor), WithMounts(data, MountRequest{Source: filepath.Join(allowed, "nope"), Target: "/workspace"})}, "resolving the host source"},
		{"rw onto a read-only target", []Option{WithFloor(floor), WithMounts(data, MountRequest{Source: allowed, Target: "/workspace", Writable: true})}, "declares /workspace read-only"},
		{"rw when the floor forbids it", []Option{WithFloor(noEnvFloor), WithMounts(MountRequest{Source: allowed, Target: "/data", Writable: true})}, "does not allow writable mounts"},
		{"required mount missing", []Option{WithFloor(floor)}, "needs a host directory at /data"},
		{"same target twice", []Option{WithFloor(floor), WithMounts(data, data)}, "given twice"},
		{"env not in the label", []Option{WithFloor(floor), WithMounts(data), WithEnv("NOT_IN_LABEL"), WithLookupEnv(set)}, "does not list NOT_IN_LABEL in env.allow"},
		{"env not in the floor", []Option{WithFloor(noEnvFloor), WithMounts(data), WithEnv("TOKEN"), WithLookupEnv(set)}, "floor does not allow passing TOKEN"},
		{"default floor has no mount sources", nil, "/data is required but the floor allows no host mount sources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{WithVerifier(w.signer), WithStdio(strings.NewReader(""), &lockedBuffer{}, &lockedBuffer{})}, tt.opts...)
			_, err := Run(context.Background(), ref, opts...)
			require.ErrorIs(t, err, ErrRefused)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "\n", "one sentence")
		})
	}
	require.Empty(t, w.containers(t, digestOf(t, ref)), "a refused run created a container")
}

func TestEnvValueNeverInErrors(t *testing.T) {
	w := setup(t)
	p := policies.Default()
	p.Env.Allow = []string{"TOKEN"}
	ref := w.image(t, "envunset", p)
	floor := policies.StrictFloor()
	floor.Env.Allow = []string{"TOKEN"}
	_, err := Run(context.Background(), ref, WithVerifier(w.signer), WithFloor(floor), WithEnv("TOKEN"),
		WithLookupEnv(func(string) (string, bool) { return "", false }), WithStdio(strings.NewReader(""), &lockedBuffer{}, &lockedBuffer{}))
	require.ErrorContains(t, err, "TOKEN is not set")
}
