package launch

import (
	"testing"

	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/require"
)

// TestPlaceholderSecretOnlyReachesTheCommand: a {{NAME}} in the args gets
// NAME's value from drydock's environment (--env NAME), and that value is
// in the container's command and nowhere else: not the container's
// environment (the policy does not allow NAME), not drydock's argv.
func TestPlaceholderSecretOnlyReachesTheCommand(t *testing.T) {
	const secret = "s3cr3t-value-0123"
	d, err := name.NewDigest("r.example/mcp/sentry@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	p := policies.Default()
	p.Env.Allow = []string{"GITHUB_TOKEN"}
	floor := policies.StrictFloor()
	floor.Env.Allow = []string{"SENTRY_TOKEN", "GITHUB_TOKEN", "UNUSED"}
	env := map[string]string{"SENTRY_TOKEN": secret, "GITHUB_TOKEN": "gh-value"}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	tests := []struct {
		name     string
		args     []string
		envNames []string
		wantArgs []string
		wantEnv  []string
		wantErr  string
	}{
		{"required filled, not in env", []string{"--auth-token", "{{SENTRY_TOKEN}}"}, []string{"SENTRY_TOKEN"},
			[]string{"--auth-token", "s3cr3t-value-0123"}, nil, ""},
		{"flag=value form", []string{"--token={{SENTRY_TOKEN}}", "stdio"}, []string{"SENTRY_TOKEN"},
			[]string{"--token=s3cr3t-value-0123", "stdio"}, nil, ""},
		{"optional unset is left out", []string{"stdio", "--opt={{UNUSED?}}"}, nil, []string{"stdio"}, nil, ""},
		{"allowed name fills and is env too", []string{"--gh={{GITHUB_TOKEN}}"}, []string{"GITHUB_TOKEN"},
			[]string{"--gh=gh-value"}, []string{"GITHUB_TOKEN=gh-value"}, ""},
		{"required missing is refused", []string{"--auth-token", "{{SENTRY_TOKEN}}"}, nil, nil, nil,
			"argument 2 ({{SENTRY_TOKEN}}) needs the value of SENTRY_TOKEN: pass env SENTRY_TOKEN"},
		{"no args keeps the image's command", nil, nil, nil, nil, ""},
		{"env not used by args still needs the policy", []string{"stdio"}, []string{"SENTRY_TOKEN"}, nil, nil,
			"does not list SENTRY_TOKEN in env.allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verified{Digest: d, Policy: p}
			o := &options{args: tt.args, env: tt.envNames, floor: floor, lookupEnv: lookup}
			req, err := prepare(v, o, false)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), secret)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantArgs, req.args)
			require.Equal(t, tt.wantEnv, req.env)
			cfg := containerConfig(v, req.args, req)
			require.Equal(t, tt.wantArgs, []string(cfg.Cmd))
			for _, e := range cfg.Env {
				require.NotContains(t, e, secret, "the secret is not in the container's environment")
			}
			for _, a := range tt.args {
				require.NotContains(t, a, secret, "drydock's own argv holds only the placeholder")
			}
		})
	}
}
