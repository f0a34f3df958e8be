package build_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/build"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// tarEntry is one file or directory of a test layer.
type tarEntry struct {
	name string
	mode int64
	data string // a directory when name ends in /, a symlink's target when mode is 0o777
}

func layerOf(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: int64(len(e.data))}
		switch {
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Size = tar.TypeDir, 0
		case e.mode == 0o777:
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, e.data
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.data))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
	require.NoError(t, err)
	return l
}

// testCA stands in for the upstream's CA bundle.
const testCA = "-----BEGIN CERTIFICATE-----\nMIIB drydock test CA\n-----END CERTIFICATE-----\n"

// step is one Dockerfile instruction: a layer, or a history entry only.
type step struct {
	createdBy string
	layer     v1.Layer
}

func appendSteps(t *testing.T, img v1.Image, steps ...step) v1.Image {
	t.Helper()
	for _, s := range steps {
		var err error
		h := v1.History{CreatedBy: s.createdBy, Created: v1.Time{Time: time.Unix(1700000000, 0)}, EmptyLayer: s.layer == nil}
		if s.layer == nil {
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			cf = cf.DeepCopy()
			cf.History = append(cf.History, h)
			img, err = mutate.ConfigFile(img, cf)
			require.NoError(t, err)
			continue
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: s.layer, History: h, MediaType: types.OCILayer})
		require.NoError(t, err)
	}
	return img
}

// nixpacksImages builds a Nixpacks-shaped upstream the way BuildKit records
// it (ubuntu, then the nixpacks base's instructions, then the generated
// Dockerfile from ENTRYPOINT ["/bin/bash", "-l", "-c"] on) and a hardened
// base, and pushes both to an in-process registry. entrypoint is how the
// history writes the generated Dockerfile's first instruction.
func nixpacksImages(t *testing.T, entrypoint string) (upstream, base string, baseLayers int) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	start := empty.Image
	start = mutate.MediaType(start, types.OCIManifestSchema1)
	start = mutate.ConfigMediaType(start, types.OCIConfigJSON)
	up := appendSteps(t, start,
		step{"/bin/sh -c #(nop) ADD file:0123 in / ", layerOf(t, tarEntry{"bin/", 0o755, ""}, tarEntry{"bin/bash", 0o755, "#!bash"}, tarEntry{"etc/", 0o755, ""}, tarEntry{"root/", 0o700, ""})},
		step{`/bin/sh -c #(nop)  CMD ["/bin/bash"]`, nil},
		step{"RUN /bin/sh -c apt-get update && apt-get -y upgrade # buildkit", layerOf(t, tarEntry{"usr/", 0o755, ""}, tarEntry{"usr/bin/", 0o755, ""}, tarEntry{"usr/bin/apt-get", 0o755, "\x7fELF"})},
		step{`SHELL [/bin/bash -ol pipefail -c]`, nil},
		step{"RUN |0 /bin/bash -ol pipefail -c set -o pipefail && curl -sSf -L https://install.determinate.systems/nix | sh -s -- install # buildkit",
			layerOf(t, tarEntry{"nix/", 0o755, ""}, tarEntry{"nix/store/", 0o755, ""}, tarEntry{"nix/store/xyz-nss-cacert-3.98/etc/ssl/certs/ca-bundle.crt", 0o644, testCA},
				tarEntry{"etc/ssl/certs/ca-certificates.crt", 0o777, "/nix/store/xyz-nss-cacert-3.98/etc/ssl/certs/ca-bundle.crt"})},
		step{"ENV ENV=/etc/profile USER=root PATH=/nix/var/nix/profiles/default/bin:/bin:/usr/bin", nil},
		step{entrypoint, nil},
		step{"WORKDIR /app", layerOf(t, tarEntry{"app/", 0o755, ""})},
		step{"COPY .nixpacks/nixpkgs-abc.nix .nixpacks/nixpkgs-abc.nix # buildkit", layerOf(t, tarEntry{"app/.nixpacks/", 0o755, ""}, tarEntry{"app/.nixpacks/nixpkgs-abc.nix", 0o644, "{}"})},
		step{"RUN /bin/bash -ol pipefail -c nix-env -if .nixpacks/nixpkgs-abc.nix && nix-collect-garbage -d # buildkit",
			layerOf(t, tarEntry{"nix/store/", 0o755, ""}, tarEntry{"nix/store/abc-server-1.0/", 0o755, ""}, tarEntry{"nix/store/abc-server-1.0/bin/", 0o755, ""}, tarEntry{"nix/store/abc-server-1.0/bin/server", 0o755, "\x7fELF"})},
		step{"COPY . /app # buildkit", layerOf(t, tarEntry{"app/README", 0o644, "hi"})},
	)
	cf, err := up.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/bin/bash", "-l", "-c"}
	cf.Config.Cmd = []string{"/nix/store/abc-server-1.0/bin/server --stdio"}
	cf.Config.WorkingDir = "/app"
	cf.Config.Env = []string{"PATH=/nix/var/nix/profiles/default/bin:/bin:/usr/bin"}
	cf.OS, cf.Architecture = "linux", "amd64"
	up, err = mutate.ConfigFile(up, cf)
	require.NoError(t, err)
	hb := appendSteps(t, start, step{"hardened base", layerOf(t, tarEntry{"etc/", 0o755, ""}, tarEntry{"etc/passwd", 0o644, "root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"})})
	bcf, err := hb.ConfigFile()
	require.NoError(t, err)
	bcf = bcf.DeepCopy()
	bcf.OS, bcf.Architecture = "linux", "amd64"
	hb, err = mutate.ConfigFile(hb, bcf)
	require.NoError(t, err)
	for _, p := range []struct {
		ref string
		img v1.Image
	}{{host + "/metorial/mcp-container--x:latest", up}, {host + "/hardened/static:1", hb}} {
		r, err := name.ParseReference(p.ref)
		require.NoError(t, err)
		require.NoError(t, remote.Write(r, p.img))
	}
	return host + "/metorial/mcp-container--x:latest", host + "/hardened/static:1", 3
}

// TestAutoFindsNixpacksBaseFromHistory: a Nixpacks image without base
// annotations, whose base is in no bases file, still has its upstream base
// found by auto from the history — the layers above Nixpacks' generated
// ENTRYPOINT ["/bin/bash", "-l", "-c"] — and is rebased at the registry
// level: the result holds the hardened base, the app layers and the
// hardening layer, and none of the base's files. An image whose history
// shows no such boundary is hardened in place, as before.
func TestAutoFindsNixpacksBaseFromHistory(t *testing.T) {
	tests := []struct {
		name, entrypoint string
		wantStrategy     build.Strategy
	}{
		{"buildkit history", `ENTRYPOINT ["/bin/bash" "-l" "-c"]`, build.StrategyRebase},
		{"classic builder history", `/bin/sh -c #(nop)  ENTRYPOINT ["/bin/bash", "-l", "-c"]`, build.StrategyRebase},
		{"no boundary", `ENTRYPOINT ["/bin/sh" "-c"]`, build.StrategyInplace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, base, baseLayers := nixpacksImages(t, tt.entrypoint)
			opts := []build.Option{build.WithBase(base), build.WithBuildKitAddr("unix:///nonexistent/buildkitd.sock"), build.WithLayerCache("")}
			plan, err := build.Plan(context.Background(), src, opts...)
			require.NoError(t, err)
			require.Equal(t, tt.wantStrategy, plan.Strategy)
			require.Empty(t, plan.OldBase, "a base read from the history is in no registry: nothing to pin")
			if tt.wantStrategy != build.StrategyRebase {
				return
			}
			require.Contains(t, plan.Reason, "read from the image history")
			require.Contains(t, plan.Reason, "the first 3 layers")
			require.Contains(t, plan.Reason, `whose last entry is "ENV ENV=/etc/profile USER=root`)

			res, err := build.Harden(context.Background(), src, strings.Replace(src, "metorial/", "out/", 1), opts...)
			require.NoError(t, err)
			require.Equal(t, build.StrategyRebase, res.Strategy)
			require.Equal(t, "/nix/store/abc-server-1.0/bin/server --stdio", res.Start.After)
			img, err := remote.Image(mustDigestRef(t, res.Ref))
			require.NoError(t, err)
			ls, err := img.Layers()
			require.NoError(t, err)
			require.Len(t, ls, 1+(7-baseLayers)+1, "hardened base, the app's layers, the hardening layer")
			files := paths(t, img)
			require.Contains(t, files, "nix/store/abc-server-1.0/bin/server")
			require.NotContains(t, files, "usr/bin/apt-get", "the Nixpacks base is gone")
			require.NotContains(t, files, "bin/bash")
		})
	}
}

func mustDigestRef(t *testing.T, ref string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(ref)
	require.NoError(t, err)
	return d
}
