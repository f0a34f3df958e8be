package closure_test

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/drydock-dev/drydock/rebase/closure"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// entry is one tar entry of a test layer: a MapFile, or a hard link.
type entry struct {
	name     string
	f        *fstest.MapFile
	hardlink string
}

// layer writes entries (sorted by name when from a MapFS) as a layer.
func layer(t *testing.T, entries []entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o755}
		switch {
		case e.hardlink != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, e.hardlink
		case e.f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(e.f.Data)
		case e.f.Mode.IsDir():
			hdr.Typeflag = tar.TypeDir
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.f.Data))
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := tw.Write(e.f.Data)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	require.NoError(t, err)
	return l
}

func entries(m fstest.MapFS) []entry {
	var out []entry
	for k, v := range m {
		out = append(out, entry{name: k, f: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func image(t *testing.T, layers ...v1.Layer) *closure.ImageFS {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	require.NoError(t, err)
	fsys, err := closure.FromImage(img)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fsys.Close()) })
	return fsys
}

func TestFromImage(t *testing.T) {
	base := debian(t)
	app := fstest.MapFS{
		"app/server.py":      text("#!/usr/bin/env python3\n" + string(bytes.Repeat([]byte("#\n"), 400))),
		"usr/bin/python3":    link("python3.11"),
		"usr/bin/python3.11": file(host(t, "/usr/bin/true")),
	}
	fsys := image(t, layer(t, entries(base)), layer(t, append(entries(app),
		entry{name: "usr/local/bin/true", hardlink: "usr/bin/true"})))

	got, err := closure.Of(fsys, []string{"/app/server.py", "/usr/local/bin/true"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		"app/server.py",
		"lib",
		"lib64",
		"usr/bin/env",
		"usr/bin/python3",
		"usr/bin/python3.11",
		"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"usr/lib/x86_64-linux-gnu/libc.so.6",
		"usr/lib64/ld-linux-x86-64.so.2",
		"usr/local/bin/true",
	}, got)

	// Only the head of a file that is neither ELF nor configuration is
	// kept; reading past it fails instead of looking like the end.
	_, err = fs.ReadFile(fsys, "app/server.py")
	require.Error(t, err, "reading a file of which only the head was kept")
	elf, err := fs.ReadFile(fsys, "usr/lib/x86_64-linux-gnu/libc.so.6")
	require.NoError(t, err)
	require.Equal(t, host(t, "/lib/x86_64-linux-gnu/libc.so.6"), elf, "ELF files are kept whole")
}

func TestFromImageWhiteout(t *testing.T) {
	// A later layer deletes libc: the flattened root has none.
	fsys := image(t, layer(t, entries(debian(t))),
		layer(t, []entry{{name: "usr/lib/x86_64-linux-gnu/.wh.libc.so.6", f: text("")}}))
	_, err := closure.Of(fsys, []string{"/usr/bin/true"})
	require.ErrorIs(t, err, closure.ErrMissing)
	require.ErrorContains(t, err, "libc.so.6")
}

func TestImageFSContract(t *testing.T) {
	// Small files only, so every file is kept whole and the fs.FS
	// contract (Open, ReadDir, Stat, ReadLink/Lstat) can be checked.
	fsys := image(t, layer(t, entries(fstest.MapFS{
		"etc/ld.so.conf":          text("include /etc/ld.so.conf.d/*.conf\n"),
		"etc/ld.so.conf.d/a.conf": text("/opt/a\n"),
		"opt/a":                   &fstest.MapFile{Mode: fs.ModeDir | 0o755},
		"lib":                     link("usr/lib"),
		"usr/lib/x":               text("x"),
		"usr/abs":                 link("/usr/lib/x"),
	})))
	require.NoError(t, fstest.TestFS(fsys, "etc/ld.so.conf", "etc/ld.so.conf.d/a.conf", "lib", "usr/lib/x", "usr/abs", "opt/a"))
}
