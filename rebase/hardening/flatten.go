package hardening

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kgzip "github.com/klauspost/compress/gzip"
)

// Whiteout markers (OCI image spec, "Representing Changes").
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// aufs meta entries (".wh..wh.plnk" etc.) carry no filesystem change.
	whiteoutMeta = ".wh..wh."
)

// ErrUnsafeLayer means a layer holds an entry no runtime view can be derived
// from safely (a path escaping the root); such images are refused.
var ErrUnsafeLayer = errors.New("unsafe layer entry")

// node is one path of the merged filesystem.
type node struct {
	hdr   *tar.Header // for a regular file, its inode's header
	layer int         // index of the layer that last wrote it
	ino   *inode      // regular files only; shared by hard links
	link  bool        // bound by a hard link entry
}

// tree is the filesystem a container runtime would see after applying the
// layers bottom-up in tar order, the way containerd's archive.Apply does.
// We do not use mutate.Extract for this: it walks layers top-down and, for
// example, hides a file that a layer re-creates after whiting it out in the
// same layer, or silently drops escaping symlinks — both of which the
// runtime keeps, so a setuid file could hide there.
type tree struct {
	nodes    map[string]*node // key: clean relative path ("etc/passwd")
	kept     int64            // bytes of content held in memory
	maxBytes int64
	// keepNothing skips holding content (Audit only reads headers).
	keepNothing bool
	// cache is a layer-entry cache directory ("" for none).
	cache string
}

// keep says whether a file's content must be held while reading: it may be
// rewritten. A hard link read later can make another file worth rewriting;
// fetchContent reads that content again.
func keep(name string, hdr *tar.Header) bool {
	return hdr.Typeflag == tar.TypeReg && mustRewrite(name, hdr)
}

func newTree(maxBytes int64) *tree {
	return &tree{nodes: map[string]*node{}, maxBytes: maxBytes}
}

// applyLayers merges the layers in order. With a layer cache, a layer read
// once before is replayed from its recorded entries instead of being
// downloaded and inflated again (base layers recur across a whole mirror).
func (t *tree) applyLayers(layers []v1.Layer) error {
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if t.cache != "" {
			if entries, ok := loadEntries(t.cache, d); ok {
				if err := t.replay(i, entries); err != nil {
					return fmt.Errorf("replaying layer %d (%s): %w", i, d, err)
				}
				continue
			}
		}
		rc, err := uncompressed(l)
		if err != nil {
			return fmt.Errorf("opening layer %d: %w", i, err)
		}
		var rec *[]cachedEntry
		if t.cache != "" {
			rec = new([]cachedEntry)
		}
		complete, err := t.apply(i, rc, rec)
		if err == nil {
			err = finish(rc)
		} else {
			rc.Close()
		}
		if err != nil {
			return fmt.Errorf("reading layer %d (%s): %w", i, d, err)
		}
		// Only a record of every entry may be saved: a replayed partial
		// list would skip the fixes of the entries it lacks.
		if rec != nil && complete {
			saveEntries(t.cache, d, *rec) // best effort: a cache miss only costs time
		}
	}
	if t.keepNothing {
		return nil
	}
	return t.fetchContent(layers)
}

// apply merges one layer's tar stream, recording its entries when rec is
// set; complete says whether rec holds every entry.
func (t *tree) apply(layer int, r io.Reader, rec *[]cachedEntry) (complete bool, err error) {
	tr := tar.NewReader(r)
	var recorded int64
	ord := 0 // the entry's position in the layer, for fetchContent
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return rec != nil, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading tar: %w", err)
		}
		orig := *hdr
		var data []byte
		if keep(cleanOrRaw(hdr.Name), hdr) {
			if hdr.Size > t.maxBytes {
				return false, fmt.Errorf("%s: more than %d MiB of files to rewrite (setuid, world-writable or with capabilities); refusing the image", hdr.Name, t.maxBytes>>20)
			}
			var buf bytes.Buffer
			if _, err := io.CopyN(&buf, tr, hdr.Size); err != nil {
				return false, fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
			data = buf.Bytes()
		}
		if rec != nil {
			recorded += int64(len(data))
			if recorded > maxCachedLayerData {
				*rec, rec = nil, nil // too much content to be worth keeping; read on, save nothing
			} else {
				*rec = append(*rec, cachedEntry{Header: orig, Data: data})
			}
		}
		if err := t.entry(layer, ord, hdr, data); err != nil {
			return false, err
		}
		ord++
	}
}

// replay merges a layer from its recorded entries.
func (t *tree) replay(layer int, entries []cachedEntry) error {
	for i, e := range entries {
		hdr := e.Header
		if err := t.entry(layer, i, &hdr, e.Data); err != nil {
			return err
		}
	}
	return nil
}

// cleanOrRaw is the name keep() is asked about; an unsafe name is refused
// later by entry, with the error.
func cleanOrRaw(name string) string {
	if c, err := cleanName(name); err == nil {
		return c
	}
	return name
}

// entry merges one tar entry, the ord-th of its layer; data is the content
// of an entry the pass may rewrite (nil for others).
func (t *tree) entry(layer, ord int, hdr *tar.Header, data []byte) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" { // the root itself
		return nil
	}
	if name, err = t.resolve(name, layer, true); err != nil {
		return err
	}
	if name == "" { // resolved to the root: the unpackers skip it
		return nil
	}
	dir, base := path.Dir(name), path.Base(name)
	if dir == "." {
		dir = ""
	}
	switch {
	case base == opaqueMarker:
		t.opaque(dir, layer)
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		t.remove(path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)))
		return nil
	}
	hdr.Name = name
	switch hdr.Typeflag {
	case tar.TypeLink:
		return t.link(layer, name, hdr)
	case tar.TypeReg, tar.TypeRegA:
		hdr.Typeflag = tar.TypeReg
		ino := &inode{hdr: hdr, layer: layer, ord: ord, held: hdr.Size == 0}
		if !t.keepNothing && keep(name, hdr) {
			if err := t.hold(ino, data); err != nil {
				return err
			}
		}
		t.bind(name, &node{hdr: hdr, layer: layer, ino: ino})
	default:
		t.bind(name, &node{hdr: hdr, layer: layer})
	}
	return nil
}

// hold keeps an inode's content within the memory bound.
func (t *tree) hold(ino *inode, data []byte) error {
	if t.kept+ino.hdr.Size > t.maxBytes {
		return fmt.Errorf("/%s: more than %d MiB of files to rewrite (setuid, world-writable or with capabilities); refusing the image", ino.hdr.Name, t.maxBytes>>20)
	}
	ino.data, ino.held = data, true
	t.kept += int64(len(data))
	return nil
}

// remove deletes name and everything under it.
func (t *tree) remove(name string) {
	if n, ok := t.nodes[name]; ok {
		t.unlink(n)
		delete(t.nodes, name)
		if n.hdr.Typeflag != tar.TypeDir {
			return
		}
	}
	prefix := name + "/"
	for p, n := range t.nodes {
		if strings.HasPrefix(p, prefix) {
			t.unlink(n)
			delete(t.nodes, p)
		}
	}
}

// opaque hides what lower layers put under dir; entries of this layer stay.
func (t *tree) opaque(dir string, layer int) {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	for p, n := range t.nodes {
		if strings.HasPrefix(p, prefix) && p != dir && n.layer < layer {
			t.unlink(n)
			delete(t.nodes, p)
		}
	}
}

// fetchContent reads again the content of files that became worth
// rewriting after they were read (a later hard link gave their inode a
// setuid bit or a capability). Only the layers holding such files are read.
func (t *tree) fetchContent(layers []v1.Layer) error {
	want := map[int]map[int]*inode{}
	for name, n := range t.nodes {
		if n.ino == nil || n.ino.held || !mustRewrite(name, n.ino.hdr) {
			continue
		}
		if want[n.ino.layer] == nil {
			want[n.ino.layer] = map[int]*inode{}
		}
		want[n.ino.layer][n.ino.ord] = n.ino
	}
	for i, byOrd := range want {
		if err := t.fetchLayer(i, layers[i], byOrd); err != nil {
			return fmt.Errorf("reading layer %d again for hard-linked content: %w", i, err)
		}
	}
	return nil
}

func (t *tree) fetchLayer(i int, l v1.Layer, byOrd map[int]*inode) error {
	rc, err := uncompressed(l)
	if err != nil {
		return err
	}
	tr := tar.NewReader(rc)
	if err := t.fetchEntries(tr, byOrd); err != nil {
		rc.Close()
		return err
	}
	// The content held here goes into the hardening layer: it must be the
	// layer's own bytes, so the rest is read for the digest check.
	return finish(rc)
}

func (t *tree) fetchEntries(tr *tar.Reader, byOrd map[int]*inode) error {
	for ord := 0; len(byOrd) > 0; ord++ {
		hdr, err := tr.Next()
		if err != nil {
			return fmt.Errorf("entry %d: %w", ord, err) // io.EOF too: the entry must be there
		}
		ino, ok := byOrd[ord]
		if !ok {
			continue
		}
		delete(byOrd, ord)
		if t.kept+hdr.Size > t.maxBytes {
			return fmt.Errorf("/%s: more than %d MiB of files to rewrite (setuid, world-writable or with capabilities); refusing the image", ino.hdr.Name, t.maxBytes>>20)
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return fmt.Errorf("reading %s: %w", hdr.Name, err)
		}
		if err := t.hold(ino, data); err != nil {
			return err
		}
	}
	return nil
}

// cleanName turns a tar name into a clean relative path and refuses names
// that climb out of the root: a runtime would clamp or reject them, and a
// reviewer should see such an image, not a silently different one.
func cleanName(name string) (string, error) {
	c := path.Clean("/" + name)
	if strings.Contains("/"+name+"/", "/../") {
		return "", fmt.Errorf("%w: %q climbs out of the image root", ErrUnsafeLayer, name)
	}
	return strings.TrimPrefix(c, "/"), nil
}

// finish reads what a tar reader leaves unread (the end-of-archive blocks,
// padding, the gzip trailer) and closes rc. go-containerregistry checks a
// layer against its digest (and size) only when the blob is read to its
// end: without this, bytes served under a layer's digest but not its own
// would be judged by the pass while the engine runs the real layer.
func finish(rc io.ReadCloser) error {
	_, err := io.Copy(io.Discard, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return err
}

// FastInflater is a layer whose Uncompressed is at least as fast as the
// pass's own inflating (rebase's spool of layers already inflated, or its
// klauspost view); the pass reads such a layer through Uncompressed.
type FastInflater interface {
	v1.Layer
	InflatesFast()
}

// uncompressed opens a layer's tar stream. Gzip layers are inflated with
// klauspost/compress rather than the standard library: reading every layer
// is most of a hardening pass's time, and its inflater is markedly faster.
// The compressed bytes are still checked against the layer digest by
// go-containerregistry. A FastInflater opens its own.
func uncompressed(l v1.Layer) (io.ReadCloser, error) {
	if _, ok := l.(FastInflater); ok {
		return l.Uncompressed()
	}
	mt, err := l.MediaType()
	if err != nil || !isGzip(mt) {
		return l.Uncompressed()
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
	return &gzipReadCloser{Reader: zr, compressed: rc}, nil
}

func isGzip(mt types.MediaType) bool {
	return mt == types.OCILayer || mt == types.DockerLayer || mt == types.OCIRestrictedLayer || mt == types.DockerForeignLayer
}

type gzipReadCloser struct {
	*kgzip.Reader
	compressed io.ReadCloser
}

func (g *gzipReadCloser) Close() error {
	err := g.Reader.Close()
	if cerr := g.compressed.Close(); err == nil {
		err = cerr
	}
	return err
}
