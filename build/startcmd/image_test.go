package startcmd

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type entry struct {
	name, data, link string
	mode             int64
	dir              bool
}

func layer(t *testing.T, entries ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageFS(t *testing.T) {
	big := "#!/usr/bin/env node\n" + strings.Repeat("x", 4000)
	l1 := layer(t,
		entry{name: "usr/", dir: true, mode: 0o755},
		entry{name: "usr/local/bin/node", data: "\x7fELF....", mode: 0o755},
		entry{name: "usr/bin/node", link: "../local/bin/node", mode: 0o777},
		entry{name: "app/", dir: true, mode: 0o755},
		entry{name: "app/old.js", data: "old", mode: 0o644},
		entry{name: "app/package.json", data: `{"scripts":{"start":"node big.js"}}`, mode: 0o644},
	)
	l2 := layer(t,
		entry{name: "app/.wh.old.js", mode: 0o644},
		entry{name: "app/big.js", data: big, mode: 0o644},
	)
	img := empty.Image
	for _, b := range [][]byte{l1, l2} {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := ImageFS(img)
	if err != nil {
		t.Fatalf("ImageFS() error = %v", err)
	}
	if _, err := fs.Stat(fsys, "app/old.js"); err == nil {
		t.Error("app/old.js is whited out in the upper layer but ImageFS still has it")
	}
	if target, err := fs.ReadLink(fsys, "usr/bin/node"); err != nil || target != "../local/bin/node" {
		t.Errorf("ReadLink(usr/bin/node) = %q, %v; want ../local/bin/node", target, err)
	}
	if b, _ := fs.ReadFile(fsys, "app/big.js"); len(b) != 512 || !strings.HasPrefix(string(b), "#!/usr/bin/env node\n") {
		t.Errorf("app/big.js kept %d bytes, want its first 512", len(b))
	}
	if b, _ := fs.ReadFile(fsys, "app/package.json"); string(b) != `{"scripts":{"start":"node big.js"}}` {
		t.Errorf("app/package.json = %q, want it whole", b)
	}
	res, err := Resolve(fsys, ImageConfig{Entrypoint: []string{"npm", "start"}, Env: []string{"PATH=/usr/bin"}, WorkingDir: "/app"})
	if err != nil {
		t.Fatalf("Resolve() error = %v", err)
	}
	if want := []string{"/usr/local/bin/node", "big.js"}; !slices.Equal(res.Entrypoint, want) {
		t.Errorf("Entrypoint = %q, want %q", res.Entrypoint, want)
	}
}
