package startcmd

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// headSize is how much of a file ImageFS keeps when Resolve only needs its
// start (a #! line or the ELF magic).
const headSize = 512

// wholeMax bounds the files ImageFS keeps whole.
const wholeMax = 1 << 20

// Whiteout markers (OCI image spec, "Representing Changes").
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// ImageFS reads img's merged filesystem (layers applied in order, whiteouts
// honoured) into memory for Resolve. Files Resolve reads whole (package.json,
// /etc, profile files, .cfg) are kept whole up to 1 MiB; every other file
// keeps only its first 512 bytes, so node_modules and /nix/store cost
// little. Each entry's *tar.Header is its Sys(), for owners and modes.
// Every layer is read to its end, so one whose bytes do not match its
// digest is refused.
func ImageFS(img v1.Image) (fs.FS, error) { return NewLayerIndex().ImageFS(img) }

// LayerIndex reads each layer (by digest) once for every view built from
// it: a harden reads the result's stack and the upstream, which share
// their app layers, and a mirror reads the same bases for every entry;
// inflating layers is most of their CPU. It keeps what ImageFS keeps of
// each layer for as long as it is used, up to its bound.
type LayerIndex struct {
	mu       sync.Mutex
	layers   map[v1.Hash]*indexedLayer
	size     int64 // bytes kept, roughly
	maxBytes int64 // 0: no bound
}

// IndexOption configures NewLayerIndex.
type IndexOption func(*LayerIndex)

// KeepAtMost bounds what the index keeps to about n bytes; a layer read
// past the bound is used for the views asking for it then and read again
// when asked later. Default: no bound (an index for one harden, whose views
// hold all of it anyway).
func KeepAtMost(n int64) IndexOption { return func(x *LayerIndex) { x.maxBytes = n } }

// NewLayerIndex returns an empty index; it is safe for concurrent use.
func NewLayerIndex(opts ...IndexOption) *LayerIndex {
	x := &LayerIndex{layers: map[v1.Hash]*indexedLayer{}}
	for _, o := range opts {
		o(x)
	}
	return x
}

// entryOverhead is what an entry costs beyond its data (header, names).
const entryOverhead = 512

type indexedLayer struct {
	once    sync.Once
	entries []indexedEntry
	err     error
}

// indexedEntry is one tar entry as ImageFS keeps it: the header with its
// name cleaned, and the start (or the whole) of a regular file.
type indexedEntry struct {
	hdr  tar.Header
	data []byte
}

// ImageFS is the package's ImageFS, reading only the layers this index has
// not read yet; they are read in parallel.
func (x *LayerIndex) ImageFS(img v1.Image) (fs.FS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the image's layers: %w", err)
	}
	stack := make([][]indexedEntry, len(layers))
	var eg errgroup.Group
	eg.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range layers {
		eg.Go(func() (err error) {
			stack[i], err = x.layer(l)
			if err != nil {
				return fmt.Errorf("reading layer %d of the image's filesystem: %w", i, err)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return merge(stack), nil
}

// layer returns l's entries, reading l the first time it is asked for.
func (x *LayerIndex) layer(l v1.Layer) ([]indexedEntry, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	il, ok := x.layers[d]
	if !ok {
		il = &indexedLayer{}
		x.layers[d] = il
	}
	x.mu.Unlock()
	il.once.Do(func() {
		if il.entries, il.err = readLayer(l); il.err != nil {
			il.err = fmt.Errorf("%s: %w", d, il.err)
		}
		x.account(d, il)
	})
	return il.entries, il.err
}

// account counts a layer just read against the bound, or forgets it (and
// a failed read, so that a later view tries again).
func (x *LayerIndex) account(d v1.Hash, il *indexedLayer) {
	var n int64
	for _, e := range il.entries {
		n += int64(len(e.data)) + entryOverhead
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if il.err != nil || (x.maxBytes > 0 && x.size+n > x.maxBytes) {
		delete(x.layers, d)
		return
	}
	x.size += n
}

// readLayer keeps what ImageFS needs of each entry, skipping links that
// climb out of the root and refusing paths that do (as mutate.Extract
// does), and reads the layer to its end: go-containerregistry checks a
// layer against its digest only there, and a tar reader stops before.
func readLayer(l v1.Layer) ([]indexedEntry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []indexedEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		h.Name = path.Clean(h.Name)
		if climbs(h.Name) {
			return nil, fmt.Errorf("unsafe tar path %q", h.Name)
		}
		if (h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink) && !path.IsAbs(h.Linkname) &&
			climbs(path.Join(path.Dir(h.Name), h.Linkname)) {
			continue
		}
		e := indexedEntry{hdr: *h}
		e.hdr.PAXRecords, e.hdr.Xattrs = nil, nil
		if h.Typeflag == tar.TypeReg {
			n := int64(headSize)
			if wantWhole(fsName(h.Name)) && h.Size <= wholeMax {
				n = h.Size
			}
			if e.data, err = io.ReadAll(io.LimitReader(tr, n)); err != nil {
				return nil, fmt.Errorf("reading %s: %w", h.Name, err)
			}
		}
		out = append(out, e)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, err
	}
	return out, rc.Close()
}

// climbs says whether a cleaned relative path leaves the root.
func climbs(p string) bool {
	p = path.Clean(p)
	return p == ".." || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "\\")
}

// merge applies the layers' entries the way mutate.Extract does: top layer
// first, an upper entry hiding lower ones of the same name, whiteouts and
// opaque markers hiding what lower layers hold.
func merge(stack [][]indexedEntry) fs.FS {
	m := fstest.MapFS{}
	seen := map[string]bool{} // true: hides what lower layers hold under it
	opaque := map[string]bool{}
	for i := len(stack) - 1; i >= 0; i-- {
		layerOpaque := map[string]bool{} // hides only lower layers
		for _, e := range stack[i] {
			dir, base := path.Dir(e.hdr.Name), path.Base(e.hdr.Name)
			if base == opaqueMarker {
				layerOpaque[dir] = true
				continue
			}
			tomb := strings.HasPrefix(base, whiteoutPrefix)
			name := e.hdr.Name
			if tomb {
				name = path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
			}
			if _, ok := seen[name]; (ok && !tomb) || under(seen, name) || under(opaque, name) {
				continue
			}
			seen[name] = tomb || e.hdr.Typeflag != tar.TypeDir
			if !tomb {
				add(m, e)
			}
		}
		for d := range layerOpaque {
			opaque[d] = true
		}
	}
	return m
}

// under says whether a directory above name is marked in dirs.
func under(dirs map[string]bool, name string) bool {
	for name != "" {
		dir := path.Dir(name)
		if dir == name {
			return false
		}
		if dirs[dir] {
			return true
		}
		name = dir
	}
	return false
}

// add puts one entry into the view; a hard link takes what its target,
// already added, holds.
func add(m fstest.MapFS, e indexedEntry) {
	name := fsName(e.hdr.Name)
	if name == "." {
		return
	}
	hdr := e.hdr
	f := &fstest.MapFile{Mode: hdr.FileInfo().Mode(), ModTime: hdr.ModTime, Sys: &hdr}
	switch hdr.Typeflag {
	case tar.TypeDir:
	case tar.TypeSymlink:
		f.Data = []byte(hdr.Linkname)
	case tar.TypeLink:
		if t, ok := m[fsName(hdr.Linkname)]; ok {
			f.Data, f.Mode = t.Data, t.Mode
		}
	case tar.TypeReg:
		f.Data = e.data
	default:
		return // devices and fifos start nothing
	}
	m[name] = f
}

// wantWhole names the files Resolve reads past their first bytes.
func wantWhole(name string) bool {
	base := path.Base(name)
	return base == "package.json" || strings.HasPrefix(name, "etc/") || strings.HasSuffix(base, ".cfg") ||
		base == ".profile" || base == ".bash_profile" || base == ".bash_login"
}
