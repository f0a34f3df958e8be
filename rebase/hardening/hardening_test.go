package hardening_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/rebase/hardening"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// corpus is the hostile corpus assembled in memory (no registry needed).
func corpus(t *testing.T) map[string]v1.Image {
	t.Helper()
	base, err := fixtures.UpstreamBaseImage()
	require.NoError(t, err)
	// Any host file stands in for the server binary; nothing runs here.
	imgs, err := fixtures.HostileImages(base, "example.invalid/upstream-base:latest", "/bin/busybox")
	require.NoError(t, err)
	return imgs
}

func layers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	return ls
}

// entries reads a layer's tar headers by name.
func entries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
}

func TestHardenHostile(t *testing.T) {
	imgs := corpus(t)
	ls := layers(t, imgs[fixtures.HostileName])
	before, err := hardening.Audit(ls, []string{"/tmp"})
	require.NoError(t, err)
	require.NotEmpty(t, before, "the hostile image must fail the audit before hardening")

	o := hardening.DefaultOptions()
	o.RemoveTools = true
	res, err := hardening.Harden(ls, o)
	require.NoError(t, err)
	r := res.Report

	t.Run("report names every planted item", func(t *testing.T) {
		tests := []struct {
			list []string
			want string
		}{
			{r.SetuidCleared, fixtures.HostileSetuid},
			{r.SetuidCleared, fixtures.HostileSetgid},
			{r.SetuidCleared, fixtures.HostileWhiteoutTrick},
			{r.SetuidCleared, fixtures.HostileHardlink + " (hard link)"},
			{r.CapabilitiesDropped, fixtures.HostileFileCap},
			{r.WorldWritableFixed, fixtures.HostileWorldDir},
			{r.WorldWritableFixed, fixtures.HostileWorldFile},
			{r.DevicesRemoved, fixtures.HostileCharDev},
			{r.DevicesRemoved, fixtures.HostileBlockDev},
			{r.AbsoluteSymlinks, fixtures.HostileAbsLink},
			{r.SymlinksNeutralised, fixtures.HostileEscapeLink + " -> ../../../../etc/shadow"},
			{r.Removed, "/bin/busybox"},
			{r.Removed, "/usr/bin/apt-get"},
		}
		for _, tt := range tests {
			require.Contains(t, tt.list, tt.want)
		}
		require.NotContains(t, r.WorldWritableFixed, "/tmp", "/tmp is a tmpfs target and stays writable")
		require.True(t, r.UserAdded)
		require.True(t, r.GroupAdded)
		require.Equal(t, "/home/nonroot", r.HomeCreated)
	})

	t.Run("hardened filesystem passes the audit", func(t *testing.T) {
		after, err := hardening.Audit(append(ls, res.Layer), []string{"/tmp"})
		require.NoError(t, err)
		require.Empty(t, after)
	})

	t.Run("layer content", func(t *testing.T) {
		e := entries(t, res.Layer)
		require.Equal(t, "../etc/shadow", e["app/escape-link"].Linkname)
		// The hard link entry's mode (0644) is applied to the inode it
		// shares with suid-shell, as the engines' unpackers do.
		require.EqualValues(t, 0o644, e["usr/local/bin/suid-shell"].Mode)
		require.EqualValues(t, 0o775, e["app/cache"].Mode)
		require.Contains(t, e, "app/.wh.mem")
		require.Contains(t, e, "bin/.wh.busybox")
		require.Equal(t, 65532, e["home/nonroot"].Uid)
		_, caps := e["usr/local/bin/cap-tool"].PAXRecords["SCHILY.xattr.security.capability"]
		require.False(t, caps)
	})

	t.Run("deterministic", func(t *testing.T) {
		again, err := hardening.Harden(ls, o)
		require.NoError(t, err)
		d1, err := res.Layer.Digest()
		require.NoError(t, err)
		d2, err := again.Layer.Digest()
		require.NoError(t, err)
		require.Equal(t, d1, d2)
	})
}

func TestHardenCorpus(t *testing.T) {
	imgs := corpus(t)
	tests := []struct {
		name    string
		wantErr error
	}{
		{fixtures.HostileName, nil},
		{fixtures.HostileBigConfigName, nil},
		{fixtures.HostileManyFilesName, nil},
		{fixtures.HostileTarPathName, hardening.ErrUnsafeLayer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := layers(t, imgs[tt.name])
			res, err := hardening.Harden(ls, hardening.DefaultOptions())
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Contains(t, err.Error(), "../escape")
				return
			}
			require.NoError(t, err)
			bad, err := hardening.Audit(append(ls, res.Layer), []string{"/tmp"})
			require.NoError(t, err)
			require.Empty(t, bad)
			out, err := mutate.AppendLayers(imgs[tt.name], res.Layer)
			require.NoError(t, err)
			require.Empty(t, extractView(t, out).findings, "mutate.Extract of the hardened image")
		})
	}
}

func TestHardenUser(t *testing.T) {
	tests := []struct {
		name, passwd string
		wantAdded    bool
		wantLine     string
	}{
		{"no passwd", "", true, "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"},
		{"root only", "root:x:0:0:root:/root:/bin/sh\n", true, "nonroot:x:65532:65532:"},
		{"already there", "root:x:0:0::/root:/bin/sh\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n", false, "nonroot:x:65532:65532::"},
		{"name taken", "nonroot:x:1000:1000::/home/nonroot:/bin/sh", true, "drydock-nonroot:x:65532:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []tarFile
			if tt.passwd != "" {
				files = append(files, tarFile{"etc/passwd", tt.passwd})
			}
			res, err := hardening.Harden([]v1.Layer{layerOf(t, files)}, hardening.DefaultOptions())
			require.NoError(t, err)
			require.Equal(t, tt.wantAdded, res.Report.UserAdded)
			if tt.wantAdded {
				require.Contains(t, readFile(t, res.Layer, "etc/passwd"), tt.wantLine)
			}
		})
	}
}

type tarFile struct{ name, data string }

func layerOf(t *testing.T, files []tarFile) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}))
		_, err := tw.Write([]byte(f.data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	require.NoError(t, err)
	return l
}

func readFile(t *testing.T, l v1.Layer, name string) string {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "looking for %s", name)
		if h.Name == name {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return string(b)
		}
	}
}
