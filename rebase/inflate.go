package rebase

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

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

// Spool keeps the tar stream of every layer inflated through it, by
// digest, in a private temporary directory, so that each layer is inflated
// once for all its readers while the spool is open: a harden reads the
// upstream's app layers for the start command's views, the hardening pass
// and the SBOM, and a mirror run reads the same bases for every entry.
// Only a stream read to its end is kept, and go-containerregistry checks
// the compressed bytes against the layer's digest there, so what the spool
// serves is the layer's own. A nil *Spool inflates every read (Inflating).
type Spool struct {
	dir      string
	maxBytes int64
	mu       sync.Mutex
	files    map[v1.Hash]string
	size     int64 // bytes kept and being written
}

// NewSpool makes a spool keeping at most maxBytes of inflated layers; a
// layer that does not fit is inflated again by each reader.
func NewSpool(maxBytes int64) (*Spool, error) {
	dir, err := os.MkdirTemp("", "drydock-layers-")
	if err != nil {
		return nil, fmt.Errorf("making a directory for inflated layers: %w", err)
	}
	return &Spool{dir: dir, maxBytes: maxBytes, files: map[v1.Hash]string{}}, nil
}

// Close removes what the spool kept.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	return os.RemoveAll(s.dir)
}

// Image is img with layers read through the spool.
func (s *Spool) Image(img v1.Image) v1.Image {
	if s == nil {
		return Inflating(img)
	}
	return spoolImage{Image: img, s: s}
}

// Layers wraps each layer to read through the spool.
func (s *Spool) Layers(ls []v1.Layer) []v1.Layer {
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = s.layer(l)
	}
	return out
}

func (s *Spool) layer(l v1.Layer) v1.Layer {
	if s == nil {
		return inflatingLayer{l}
	}
	return spoolLayer{Layer: l, s: s}
}

type spoolImage struct {
	v1.Image
	s *Spool
}

func (i spoolImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	return i.s.Layers(ls), nil
}

type spoolLayer struct {
	v1.Layer
	s *Spool
}

// InflatesFast tells the hardening pass to read the layer through
// Uncompressed (see hardening.FastInflater).
func (spoolLayer) InflatesFast() {}

// InflatesFast: see spoolLayer.
func (inflatingLayer) InflatesFast() {}

func (l spoolLayer) Uncompressed() (io.ReadCloser, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	path, ok := l.s.files[d]
	l.s.mu.Unlock()
	if ok {
		return os.Open(path)
	}
	rc, err := inflatingLayer{l.Layer}.Uncompressed()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(l.s.dir, "partial-")
	if err != nil {
		return rc, nil // no room on disk: this reader inflates on its own
	}
	return &spooling{ReadCloser: rc, s: l.s, d: d, f: f}, nil
}

// spooling copies what its reader reads into a file, kept for the layer's
// digest once the stream ends without an error.
type spooling struct {
	io.ReadCloser
	s       *Spool
	d       v1.Hash
	f       *os.File // nil once given up or kept
	written int64
}

func (w *spooling) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	if w.f != nil && n > 0 {
		if !w.s.reserve(int64(n)) {
			w.drop()
		} else if _, werr := w.f.Write(p[:n]); werr != nil {
			w.written += int64(n) // reserved: drop gives it back
			w.drop()
		} else {
			w.written += int64(n)
		}
	}
	switch {
	case err == io.EOF && w.f != nil:
		w.keep()
	case err != nil && err != io.EOF:
		w.drop()
	}
	return n, err
}

func (w *spooling) Close() error {
	w.drop() // a stream closed before its end is not known to be the layer's
	return w.ReadCloser.Close()
}

// reserve counts n more bytes against the bound.
func (s *Spool) reserve(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size+n > s.maxBytes {
		return false
	}
	s.size += n
	return true
}

func (w *spooling) drop() {
	if w.f == nil {
		return
	}
	w.f.Close()
	os.Remove(w.f.Name())
	w.s.mu.Lock()
	w.s.size -= w.written
	w.s.mu.Unlock()
	w.f = nil
}

func (w *spooling) keep() {
	f := w.f
	if err := f.Close(); err != nil {
		w.drop()
		return
	}
	w.f = nil
	path := filepath.Join(w.s.dir, w.d.Hex)
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if _, ok := w.s.files[w.d]; ok || os.Rename(f.Name(), path) != nil {
		os.Remove(f.Name()) // kept already by a concurrent reader, or lost
		w.s.size -= w.written
		return
	}
	w.s.files[w.d] = path
}
