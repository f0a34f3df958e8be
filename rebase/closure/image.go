package closure

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// headBytes is how much of a file that is neither ELF nor configuration
// the image file system keeps: enough for the ELF magic and a #! line
// (the kernel reads 256 bytes of it).
const headBytes = binprmBuf

// ImageFS is an image's flattened root file system as an fs.FS with
// symlinks (fs.ReadLinkFS), for Of. File contents live in a temporary
// file, not in memory; only ELF files, ld.so configuration and the first
// bytes of every other file are kept. Close removes the temporary file.
type ImageFS struct {
	spool *os.File
	nodes map[string]*node
	kids  map[string][]string
}

type node struct {
	mode    fs.FileMode
	size    int64  // the file's real size
	link    string // symlink target
	off, n  int64  // kept content in the spool
	modTime time.Time
}

// FromImage flattens img (mutate.Extract applies whiteouts) into an
// ImageFS.
func FromImage(img v1.Image) (*ImageFS, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	spool, err := os.CreateTemp("", "drydock-closure-*")
	if err != nil {
		return nil, fmt.Errorf("creating the spool for the image's files: %w", err)
	}
	f := &ImageFS{spool: spool, nodes: map[string]*node{".": {mode: fs.ModeDir | 0o755}}, kids: map[string][]string{}}
	err = f.read(tar.NewReader(rc))
	if err == nil {
		// Extract reports a layer that does not match its digest only
		// after the merged tar's end blocks, where the tar reader stopped.
		_, err = io.Copy(io.Discard, rc)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the image's file system: %w", err)
	}
	return f, nil
}

// Close removes the spool file.
func (f *ImageFS) Close() error {
	name := f.spool.Name()
	err := f.spool.Close()
	return errors.Join(err, os.Remove(name))
}

func (f *ImageFS) read(tr *tar.Reader) error {
	var off int64
	// mutate.Extract writes the top layer first, so a hard link can come
	// before the file it links to; links are bound after the last entry.
	hardlinks := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := rel(hdr.Name)
		if name == "." {
			continue
		}
		n := &node{mode: hdr.FileInfo().Mode(), size: hdr.Size, modTime: hdr.ModTime}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			n.link = hdr.Linkname
		case tar.TypeLink:
			hardlinks[name] = rel(hdr.Linkname)
		case tar.TypeReg:
			keep, err := f.keep(name, tr, hdr.Size, off)
			if err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			n.off, n.n = off, keep
			off += keep
		case tar.TypeDir:
		default:
			n.size = 0 // devices and fifos: nothing to read
		}
		f.add(name, n)
	}
	for name, target := range hardlinks {
		t, ok := f.nodes[target]
		if _, link := hardlinks[target]; !ok || link || !t.mode.IsRegular() {
			return fmt.Errorf("hard link /%s to /%s: the target is not a regular file of the image", name, target)
		}
		c := *t
		f.nodes[name] = &c
	}
	for d := range f.kids {
		sort.Strings(f.kids[d])
	}
	return nil
}

// keep copies what Of may read of one regular file into the spool and
// returns how many bytes it kept.
func (f *ImageFS) keep(name string, r io.Reader, size, off int64) (int64, error) {
	head := make([]byte, min(size, headBytes))
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, err
	}
	if _, err := f.spool.WriteAt(head, off); err != nil {
		return 0, err
	}
	whole := strings.HasPrefix(string(head), "\x7fELF") || strings.HasPrefix(name, "etc/ld.so.conf")
	if !whole || size <= headBytes {
		return int64(len(head)), nil
	}
	n, err := io.Copy(io.NewOffsetWriter(f.spool, off+int64(len(head))), r)
	return int64(len(head)) + n, err
}

// add records a node and its implicit parent directories.
func (f *ImageFS) add(name string, n *node) {
	if old, ok := f.nodes[name]; !ok {
		d := path.Dir(name)
		if _, ok := f.nodes[d]; !ok {
			f.add(d, &node{mode: fs.ModeDir | 0o755})
		}
		f.kids[d] = append(f.kids[d], path.Base(name))
	} else if old.mode.IsDir() && n.mode.IsDir() {
		n.mode = old.mode | n.mode.Perm()
	}
	f.nodes[name] = n
}

func (f *ImageFS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, ok := f.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Lstat implements fs.ReadLinkFS.
func (f *ImageFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return info{name: path.Base(name), n: n}, nil
}

// ReadLink implements fs.ReadLinkFS.
func (f *ImageFS) ReadLink(name string) (string, error) {
	n, err := f.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.link, nil
}

// Open implements fs.FS; links are followed inside the image root.
func (f *ImageFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	real, _, err := root{f}.resolve("/" + name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPath(err)}
	}
	n := f.nodes[real]
	fi := info{name: path.Base(name), n: n}
	if n.mode.IsDir() {
		return &dir{f: f, name: real, fi: fi}, nil
	}
	return &file{SectionReader: io.NewSectionReader(f.spool, n.off, n.n), fi: fi, cut: n.n < n.size}, nil
}

// ReadDir implements fs.ReadDirFS.
func (f *ImageFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	real, _, err := root{f}.resolve("/" + name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPath(err)}
	}
	if !f.nodes[real].mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	var out []fs.DirEntry
	for _, k := range f.kids[real] {
		c := path.Join(real, k)
		out = append(out, fs.FileInfoToDirEntry(info{name: k, n: f.nodes[c]}))
	}
	return out, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type info struct {
	name string
	n    *node
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.n.size }
func (i info) Mode() fs.FileMode  { return i.n.mode }
func (i info) ModTime() time.Time { return i.n.modTime }
func (i info) IsDir() bool        { return i.n.mode.IsDir() }
func (i info) Sys() any           { return nil }

// errNotKept ends reads of a file of which only the head was kept, so that
// no reader mistakes the head for the whole file.
var errNotKept = errors.New("only the first bytes of this file were kept (it is neither ELF nor ld.so configuration)")

// file reads the kept part of a regular file.
type file struct {
	*io.SectionReader
	fi  info
	cut bool // only the head was kept
}

func (f *file) Read(p []byte) (int, error) {
	n, err := f.SectionReader.Read(p)
	if err == io.EOF && f.cut {
		err = &fs.PathError{Op: "read", Path: f.fi.name, Err: errNotKept}
	}
	return n, err
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.SectionReader.ReadAt(p, off)
	if err == io.EOF && f.cut {
		err = &fs.PathError{Op: "read", Path: f.fi.name, Err: errNotKept}
	}
	return n, err
}

func (f *file) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *file) Close() error               { return nil }

type dir struct {
	f    *ImageFS
	name string
	fi   info
	pos  int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	all, err := d.f.ReadDir(d.name)
	if err != nil {
		return nil, err
	}
	all = all[d.pos:]
	if n > 0 && len(all) > n {
		all = all[:n]
	}
	d.pos += len(all)
	if n > 0 && len(all) == 0 {
		return nil, io.EOF
	}
	return all, nil
}
