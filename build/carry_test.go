package build_test

import (
	"archive/tar"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// pushTo writes img to ref in the in-process registry.
func pushTo(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img))
}

// whiteout is a layer that deletes p (absolute) from the layers below.
func whiteout(t *testing.T, p string) v1.Layer {
	t.Helper()
	dir, base := p[:strings.LastIndex(p, "/")], p[strings.LastIndex(p, "/")+1:]
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		_ = tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dir, "/") + "/.wh." + base, Typeflag: tar.TypeReg, Mode: 0o644})
		pw.CloseWithError(tw.Close())
	}()
	data, err := io.ReadAll(pr)
	require.NoError(t, err)
	return static.NewLayer(data, types.OCIUncompressedLayer)
}

// TestCarry hardens the git fixture at the registry level (no daemon) in an
// in-process registry and reads the pushed image back: the carried files
// are there, setuid cleared, and a carry the upstream cannot satisfy is
// refused naming the executable and what is missing.
func TestCarry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://")
	bin, err := fixtures.ServerBinary(context.Background())
	require.NoError(t, err)
	base, libs, err := fixtures.GitBaseImage()
	require.NoError(t, err)
	pushTo(t, reg+"/base:1", base)
	up, err := fixtures.UpstreamImage(base, reg+"/base:1", bin)
	require.NoError(t, err)
	pushTo(t, reg+"/up:1", up)
	// The same upstream on a base whose libz was deleted.
	var libz string
	for _, l := range libs {
		if strings.Contains(l, "/libz.so") {
			libz = l
		}
	}
	require.NotEmpty(t, libz, "git loads libz on this machine: %v", libs)
	noZ, err := mutate.AppendLayers(base, whiteout(t, libz))
	require.NoError(t, err)
	pushTo(t, reg+"/base-noz:1", noZ)
	upNoZ, err := fixtures.UpstreamImage(noZ, reg+"/base-noz:1", bin)
	require.NoError(t, err)
	pushTo(t, reg+"/up-noz:1", upNoZ)

	removeTools := policies.Default()
	removeTools.RemoveTools = true
	tests := []struct {
		name, src string
		strategy  build.Strategy
		carry     []string
		wantErr   []string
	}{
		{name: "git and its libraries", src: reg + "/up:1", carry: []string{fixtures.GitPath}},
		{name: "inplace keeps a carried tool from removal", src: reg + "/up:1", strategy: build.StrategyInplace, carry: []string{"/bin/busybox"}},
		{name: "inplace removes it uncarried", src: reg + "/up:1", strategy: build.StrategyInplace},
		{name: "by bare name from PATH", src: reg + "/up:1", carry: []string{"git"}},
		{name: "missing executable", src: reg + "/up:1", carry: []string{"/usr/bin/nope"},
			wantErr: []string{"carrying /usr/bin/nope from " + reg + "/up@sha256:", "executable /usr/bin/nope: not found in the image"}},
		{name: "missing library", src: reg + "/up-noz:1", carry: []string{fixtures.GitPath},
			wantErr: []string{"executable /usr/bin/git: library libz.so.1 needed by /usr/bin/git not found in the image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strategy := build.StrategyRebase
			if tt.strategy != "" {
				strategy = tt.strategy
			}
			res, err := build.Harden(context.Background(), tt.src, reg+"/out/"+strings.ToLower(strings.ReplaceAll(tt.name, " ", "-")),
				build.WithStrategy(strategy), build.WithEngine(build.EngineRegistry), build.WithCarry(tt.carry...), build.WithLayerCache(""),
				build.WithPolicy(removeTools))
			if tt.wantErr != nil {
				for _, want := range tt.wantErr {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			if tt.strategy == build.StrategyInplace {
				img, err := remote.Image(mustDigestRef(t, res.Ref))
				require.NoError(t, err)
				files := map[string]bool{}
				tr := tar.NewReader(mutate.Extract(img))
				for h, err := tr.Next(); err == nil; h, err = tr.Next() {
					files["/"+strings.TrimPrefix(h.Name, "/")] = true
				}
				upLayers, err := up.Layers()
				require.NoError(t, err)
				outLayers, err := img.Layers()
				require.NoError(t, err)
				require.Len(t, outLayers, len(upLayers)+1, "the upstream's layers and the hardening layer, no carry layer")
				require.Equal(t, len(tt.carry) > 0, files["/bin/busybox"], "busybox is kept exactly when carried")
				require.Equal(t, tt.carry, res.Carried, "a static executable is its own closure")
				return
			}
			require.Equal(t, tt.carry, res.Carry)
			want := append([]string{fixtures.GitPath}, libs...)
			require.ElementsMatch(t, want, res.Carried, "ldd's closure of git, as the fixture copied it")
			require.Contains(t, res.Hardening.SetuidCleared, fixtures.GitPath, "the carried git was setuid upstream")

			img, err := remote.Image(mustDigestRef(t, res.Ref))
			require.NoError(t, err)
			files := map[string]*tar.Header{}
			tr := tar.NewReader(mutate.Extract(img))
			for h, err := tr.Next(); err == nil; h, err = tr.Next() {
				files["/"+strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "/")] = h
			}
			for _, p := range want {
				h := files[p]
				require.NotNil(t, h, "%s is not in the hardened image", p)
				require.Equal(t, byte(tar.TypeReg), h.Typeflag, p)
			}
			require.Equal(t, int64(0o755), files[fixtures.GitPath].Mode&0o7777, "setuid cleared in the pushed image")
			require.Nil(t, files["/bin/busybox"], "the upstream base itself is not carried")
		})
	}
}
