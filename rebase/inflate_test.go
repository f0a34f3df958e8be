package rebase

import (
	"bytes"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestInflating: the klauspost view of an image flattens to the same bytes
// as go-containerregistry's own, for gzip layers and for an uncompressed
// one (which keeps its own Uncompressed), and keeps the digests.
func TestInflating(t *testing.T) {
	gz, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	tarLayer := static.NewLayer(randomTar(t), types.OCIUncompressedLayer)
	mixed, err := mutate.AppendLayers(gz, tarLayer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		img  v1.Image
	}{{"gzip layers", gz}, {"gzip and uncompressed", mixed}, {"no layers", empty.Image}} {
		t.Run(tt.name, func(t *testing.T) {
			want := flatten(t, tt.img)
			got := flatten(t, Inflating(tt.img))
			if !bytes.Equal(got, want) {
				t.Errorf("Inflating flattens to %d bytes differing from ggcr's %d", len(got), len(want))
			}
			wd, _ := tt.img.Digest()
			gd, err := Inflating(tt.img).Digest()
			if err != nil || gd != wd {
				t.Errorf("Inflating(img).Digest() = %v, %v; want %v", gd, err, wd)
			}
		})
	}
}

func flatten(t *testing.T, img v1.Image) []byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("flattening: %v", err)
	}
	return b
}

func randomTar(t *testing.T) []byte {
	t.Helper()
	l, err := random.Layer(2048, types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
