package startcmd

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// countedLayer counts how often its tar stream is opened; fail makes the
// next opening fail.
type countedLayer struct {
	v1.Layer
	opened atomic.Int32
	fail   atomic.Bool
}

func (c *countedLayer) Uncompressed() (io.ReadCloser, error) {
	c.opened.Add(1)
	if c.fail.Swap(false) {
		return nil, errors.New("registry unreachable")
	}
	return c.Layer.Uncompressed()
}

func counted(t *testing.T, b []byte) *countedLayer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return &countedLayer{Layer: l}
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLayerIndexReadsEachLayerOnce: the result's stack and the upstream
// share the app layer; within the index's bound every layer is opened once
// however many views are built, and past it a layer is read again.
func TestLayerIndexReadsEachLayerOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []IndexOption
		wantApp  int32 // openings of the shared app layer over three views
		wantBase int32 // of the new base, in two of them
	}{
		{name: "unbounded", wantApp: 1, wantBase: 1},
		{name: "room for all", opts: []IndexOption{KeepAtMost(1 << 20)}, wantApp: 1, wantBase: 1},
		{name: "no room", opts: []IndexOption{KeepAtMost(1)}, wantApp: 3, wantBase: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := counted(t, layer(t, entry{name: "app/package.json", data: `{"scripts":{"start":"node a.js"}}`, mode: 0o644}))
			newBase := counted(t, layer(t, entry{name: "usr/bin/node", data: "\x7fELF", mode: 0o755}))
			oldBase := counted(t, layer(t, entry{name: "bin/sh", data: "\x7fELF", mode: 0o755}))
			ix := NewLayerIndex(tc.opts...)
			for _, img := range []v1.Image{imageOf(t, newBase, app), imageOf(t, oldBase, app), imageOf(t, newBase, app)} {
				fsys, err := ix.ImageFS(img)
				if err != nil {
					t.Fatalf("ImageFS() error = %v", err)
				}
				if b, err := fs.ReadFile(fsys, "app/package.json"); err != nil || string(b) != `{"scripts":{"start":"node a.js"}}` {
					t.Fatalf("app/package.json = %q, %v", b, err)
				}
			}
			if got := app.opened.Load(); got != tc.wantApp {
				t.Errorf("app layer opened %d times, want %d", got, tc.wantApp)
			}
			if got := newBase.opened.Load(); got != tc.wantBase {
				t.Errorf("new base layer opened %d times, want %d", got, tc.wantBase)
			}
		})
	}
}

// TestLayerIndexRetriesFailedRead: a failed read is not kept; the next view
// reads the layer again.
func TestLayerIndexRetriesFailedRead(t *testing.T) {
	l := counted(t, layer(t, entry{name: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\n", mode: 0o644}))
	l.fail.Store(true)
	ix := NewLayerIndex()
	img := imageOf(t, l)
	if _, err := ix.ImageFS(img); err == nil {
		t.Fatal("ImageFS() error = nil, want the failed read")
	}
	fsys, err := ix.ImageFS(img)
	if err != nil {
		t.Fatalf("ImageFS() after a failed read: %v", err)
	}
	if b, _ := fs.ReadFile(fsys, "etc/passwd"); string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("etc/passwd = %q", b)
	}
	if got := l.opened.Load(); got != 2 {
		t.Errorf("layer opened %d times, want 2", got)
	}
}
