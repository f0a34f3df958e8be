package build_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestPlanInputErrors: a missing or wrong base is an InputError naming the
// option (WithOldBase, WithBase), never a CLI flag; a CLI renders it with
// its own names and the rest of the sentence stays.
func TestPlanInputErrors(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(repo string, img v1.Image) string {
		ref, err := name.ParseReference(host + "/" + repo + ":1")
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img))
		d, err := img.Digest()
		require.NoError(t, err)
		return host + "/" + repo + "@" + d.String()
	}
	firstLayer := func(img v1.Image) string {
		l, err := img.Layers()
		require.NoError(t, err)
		d, err := l[0].Digest()
		require.NoError(t, err)
		return d.String()
	}
	upImg, err := random.Image(64, 1)
	require.NoError(t, err)
	otherImg, err := random.Image(64, 1)
	require.NoError(t, err)
	appLayer, err := random.Layer(64, "application/vnd.oci.image.layer.v1.tar+gzip")
	require.NoError(t, err)
	onOther, err := mutate.AppendLayers(otherImg, appLayer)
	require.NoError(t, err)
	up, other, app := push("up", upImg), push("other", otherImg), push("app", onOther)
	upLayer, otherLayer := firstLayer(upImg), firstLayer(otherImg)
	cliNames := map[string]string{"oldBase": "OLD", "base": "BASE"}

	tests := []struct {
		name     string
		src      string
		opts     []build.Option
		field    string
		lib, cli string
		sentinel error
	}{
		{"rebuild without an upstream base", up, []build.Option{build.WithStrategy(build.StrategyRebuild)}, "oldBase",
			"strategy rebuild: upstream base unknown for " + up + ": it has no org.opencontainers.image.base.name/org.opencontainers.image.base.digest annotations, no upstream base was given and no upstream base in the bases file is a layer prefix of it; pass the upstream base image (WithOldBase), or use strategy inplace",
			"strategy rebuild: upstream base unknown for " + up + ": it has no org.opencontainers.image.base.name/org.opencontainers.image.base.digest annotations, no upstream base was given and no upstream base in the bases file is a layer prefix of it; pass OLD, or use strategy inplace",
			build.ErrNoUpstreamBase},
		{"an upstream base that is not a prefix", up, []build.Option{build.WithStrategy(build.StrategyRebase), build.WithOldBase(other)}, "oldBase",
			"upstream base " + other + " (as given) is not the base of " + up + ": not the image's base: layer 0 differs (" + otherLayer + " vs " + upLayer + "); pass the upstream base image (WithOldBase)",
			"upstream base " + other + " (as given) is not the base of " + up + ": not the image's base: layer 0 differs (" + otherLayer + " vs " + upLayer + "); pass OLD",
			nil},
		{"no hardened base for the runtime", app, []build.Option{build.WithStrategy(build.StrategyRebase), build.WithOldBase(other), build.WithBases(&policies.Bases{})}, "base",
			"no hardened base for " + app + ": no runtime recognised and the bases file has no default; pass a hardened base image (WithBase), or add the runtime to the bases file",
			"no hardened base for " + app + ": no runtime recognised and the bases file has no default; pass BASE, or add the runtime to the bases file",
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build.Plan(context.Background(), tt.src, tt.opts...)
			require.Error(t, err)
			require.Equal(t, tt.lib, err.Error())
			var ie *build.InputError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, []string{tt.field}, ie.Fields)
			// The CLI's rendering replaces the InputError's text inside
			// the wrapped one, as cmd/drydock's cliMessage does.
			cli := strings.Replace(err.Error(), ie.Error(), ie.Render(func(f string) string { return cliNames[f] }), 1)
			require.Equal(t, tt.cli, cli)
			if tt.sentinel != nil {
				require.ErrorIs(t, err, tt.sentinel)
			}
		})
	}
}
