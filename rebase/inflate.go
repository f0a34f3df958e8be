package rebase

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kgzip "github.com/klauspost/compress/gzip"
)

// Inflating is img with layers whose Uncompressed inflates gzip with
// klauspost/compress, for readers such as mutate.Extract: a cold harden
// spent most of its CPU in the standard library's inflater, reading the
// start command's view of the image. The compressed bytes are still checked
// against each layer's digest by go-containerregistry, and everything else
// is img's own.
func Inflating(img v1.Image) v1.Image { return inflatingImage{img} }

type inflatingImage struct{ v1.Image }

func (i inflatingImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for k, l := range ls {
		out[k] = inflatingLayer{l}
	}
	return out, nil
}

type inflatingLayer struct{ v1.Layer }

func (l inflatingLayer) Uncompressed() (io.ReadCloser, error) {
	mt, err := l.MediaType()
	if err != nil || !gzipped(mt) {
		return l.Layer.Uncompressed()
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	zr, err := kgzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("opening gzip stream: %w", err)
	}
	return &inflated{Reader: zr, compressed: rc}, nil
}

func gzipped(mt types.MediaType) bool {
	return mt == types.OCILayer || mt == types.DockerLayer || mt == types.OCIRestrictedLayer || mt == types.DockerForeignLayer
}

// inflated closes the gzip reader and the compressed stream under it.
type inflated struct {
	*kgzip.Reader
	compressed io.ReadCloser
}

func (g *inflated) Close() error {
	err := g.Reader.Close()
	if cerr := g.compressed.Close(); err == nil {
		err = cerr
	}
	return err
}
