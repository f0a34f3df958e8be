package rebase_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/rebase"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

func tarLayer(t *testing.T, hdrs ...*tar.Header) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		data := []byte{}
		if h.Typeflag == tar.TypeReg {
			data = []byte("content of " + h.Name)
			h.Size = int64(len(data))
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

// TestCarryLayer: carried entries keep their type, mode and owner, their
// parent directories come along, nothing else does, a hard link whose
// target is not carried becomes a regular file, and times after the date
// are clamped.
func TestCarryLayer(t *testing.T) {
	late := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	date := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t,
		&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "usr/lib/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 7},
		&tar.Header{Name: "usr/lib/git-core/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "usr/lib/git-core/git", Typeflag: tar.TypeReg, Mode: 0o4755, ModTime: late},
		&tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "usr/bin/git", Typeflag: tar.TypeLink, Linkname: "usr/lib/git-core/git"},
		&tar.Header{Name: "usr/bin/sh", Typeflag: tar.TypeSymlink, Linkname: "dash", Mode: 0o777},
		&tar.Header{Name: "usr/bin/other", Typeflag: tar.TypeReg, Mode: 0o755},
	))
	require.NoError(t, err)
	l, err := rebase.CarryLayer(img, []string{"usr/bin/git", "usr/bin/sh"}, date)
	require.NoError(t, err)
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	type got struct {
		typ  byte
		mode int64
		uid  int
		link string
		data string
		mod  time.Time
	}
	entries := map[string]got{}
	tr := tar.NewReader(rc)
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		data, _ := io.ReadAll(tr)
		entries[h.Name] = got{h.Typeflag, h.Mode, h.Uid, h.Linkname, string(data), h.ModTime.UTC()}
	}
	epoch := time.Unix(0, 0).UTC() // earlier than date: kept
	require.Equal(t, map[string]got{
		"usr/":        {tar.TypeDir, 0o755, 0, "", "", epoch},
		"usr/bin/":    {tar.TypeDir, 0o755, 0, "", "", epoch},
		"usr/bin/git": {tar.TypeReg, 0o4755, 0, "", "content of usr/lib/git-core/git", date},
		"usr/bin/sh":  {tar.TypeSymlink, 0o777, 0, "dash", "", epoch},
	}, entries)

	_, err = rebase.CarryLayer(img, []string{"usr/bin/nope"}, date)
	require.ErrorContains(t, err, "carrying /usr/bin/nope: not in the image's filesystem")
}
