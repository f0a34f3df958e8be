package build_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestZeroConfigBase: with no --base and no bases file, harden of a
// Nixpacks-shaped image moves it onto drydock's own minimal static base —
// passwd and group with 65532, the upstream's CA bundle (found through its
// /nix/store symlink), /tmp 1777, /home/nonroot — never onto the built-in
// bases file's placeholders; two runs give the same base and the same image.
func TestZeroConfigBase(t *testing.T) {
	src, _, _ := nixpacksImages(t, `ENTRYPOINT ["/bin/bash" "-l" "-c"]`)
	dst := strings.Replace(src, "metorial/", "out/", 1)
	opts := []build.Option{build.WithBuildKitAddr("unix:///nonexistent/buildkitd.sock"), build.WithLayerCache("")}
	baseRE := regexp.MustCompile(`generated its own minimal static base (sha256:[0-9a-f]{64})`)
	var digests, bases []string
	for range 2 {
		res, err := build.Harden(context.Background(), src, dst, opts...)
		require.NoError(t, err)
		require.Equal(t, build.StrategyRebase, res.Strategy)
		require.Empty(t, res.Base, "the generated base is in no registry: nothing to pin")
		m := baseRE.FindStringSubmatch(res.StrategyReason)
		require.NotNil(t, m, "the reason names the generated base: %s", res.StrategyReason)
		require.Contains(t, res.StrategyReason, "the upstream's CA certificates")
		digests, bases = append(digests, res.Digest), append(bases, m[1])

		img, err := remote.Image(mustDigestRef(t, res.Ref))
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, "65532:65532", cf.Config.User)
		got := map[string]*tar.Header{}
		data := map[string]string{}
		rc := mutate.Extract(img)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			n := strings.TrimSuffix(h.Name, "/")
			got[n] = h
			if n == "etc/passwd" || n == "etc/group" || n == "etc/ssl/certs/ca-certificates.crt" {
				b, err := io.ReadAll(tr)
				require.NoError(t, err)
				data[n] = string(b)
			}
		}
		require.NoError(t, rc.Close())
		require.Contains(t, data["etc/passwd"], "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
		require.Contains(t, data["etc/group"], "nonroot:x:65532:\n")
		require.Equal(t, testCA, data["etc/ssl/certs/ca-certificates.crt"], "the upstream's CA bundle, read through its symlink")
		require.EqualValues(t, 0o1777, got["tmp"].Mode&0o7777)
		require.Equal(t, 65532, got["home/nonroot"].Uid)
		require.Contains(t, got, "nix/store/abc-server-1.0/bin/server")
		require.NotContains(t, got, "usr/bin/apt-get", "the Nixpacks base is gone")
		require.NotContains(t, got, "nix/store/xyz-nss-cacert-3.98/etc/ssl/certs/ca-bundle.crt")
	}
	require.Equal(t, bases[0], bases[1], "the generated base is reproducible")
	require.Equal(t, digests[0], digests[1], "so is the result")
}

// TestZeroConfigBaseRebuild: BuildKit pulls its inputs, so for rebuild the
// generated base is pushed next to the result by digest; the result holds
// the generated base's passwd and no upstream shell, and its first layer is
// the generated base's.
func TestZeroConfigBaseRebuild(t *testing.T) {
	e := setup(t)
	res, err := build.Harden(context.Background(), e.fx.UpstreamTag, e.dst("zero-config-rebuild"),
		build.WithStrategy(build.StrategyRebuild), build.WithBuildKitAddr(testenv.FreshBuildKit(t)))
	require.NoError(t, err)
	require.Equal(t, build.StrategyRebuild, res.Strategy)
	require.Contains(t, res.StrategyReason, "generated its own minimal static base")
	img := checkPushed(t, res.Ref)
	files := paths(t, img)
	require.Contains(t, files, "etc/passwd")
	require.Contains(t, files, "home/nonroot")
	require.NotContains(t, files, "bin/busybox")
	require.Equal(t, "/usr/local/bin/mcp-server", res.Start.After)
}
