package rebase

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxCarryBytes bounds the content a carry layer holds in memory: a few
// tools and their libraries are tens of MiB; a carry list that reaches a
// whole toolchain is refused rather than held.
const maxCarryBytes = 512 << 20

// CarryLayer is one layer holding the files and symlinks named by paths
// (fs.FS names, as rebase/closure returns them) as they are in img's
// flattened filesystem, with their parent directories, so that tools of the
// upstream base survive a strategy that drops that base. Modes and owners
// are kept (the hardening pass above still clears setuid bits); times later
// than date become date. A carried hard link whose target is not carried
// becomes a regular file. The tar is sorted and in PAX format, so the same
// image, paths and date give the same digest.
func CarryLayer(img v1.Image, paths []string, date time.Time) (v1.Layer, error) {
	want := map[string]bool{}
	dirs := map[string]bool{}
	for _, p := range paths {
		p = clean(p)
		want[p] = true
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	c := carrier{want: want, dirs: dirs, out: map[string]*carried{}, date: date.UTC()}
	if err := c.read(img, nil); err != nil {
		return nil, err
	}
	if len(c.orphans) > 0 {
		// Targets of carried hard links that are not carried themselves:
		// read once more for their content only.
		if err := c.read(img, c.orphans); err != nil {
			return nil, err
		}
	}
	for p := range want {
		if c.out[p] == nil {
			return nil, fmt.Errorf("carrying /%s: not in the image's filesystem", p)
		}
	}
	return c.layer()
}

type carried struct {
	hdr  tar.Header
	data []byte
}

type carrier struct {
	want, dirs map[string]bool
	out        map[string]*carried
	orphans    map[string][]string // hard link target → carried links to it
	size       int64
	date       time.Time
}

func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// read walks the flattened filesystem once. With orphans set it only
// collects their content, written under the first link's name.
func (c *carrier) read(img v1.Image, orphans map[string][]string) error {
	rc := mutate.Extract(Inflating(img))
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// Extract reports a layer that does not match its digest only
			// after the merged tar's end blocks: read on for it, or bytes
			// that are not the upstream's would be carried and signed.
			if _, err := io.Copy(io.Discard, rc); err != nil {
				return fmt.Errorf("reading the upstream's filesystem: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the upstream's filesystem: %w", err)
		}
		name := clean(h.Name)
		if orphans != nil {
			if links := orphans[name]; links != nil && h.Typeflag == tar.TypeReg {
				if err := c.orphan(h, tr, links); err != nil {
					return err
				}
			}
			continue
		}
		switch {
		case c.want[name] && h.Typeflag == tar.TypeLink:
			target := clean(h.Linkname)
			if c.want[target] {
				c.out[name] = &carried{hdr: *h}
				continue
			}
			if c.orphans == nil {
				c.orphans = map[string][]string{}
			}
			c.orphans[target] = append(c.orphans[target], name)
			c.out[name] = &carried{hdr: *h} // replaced once the target is read
		case c.want[name] && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeDir):
			if err := c.keep(name, h, tr); err != nil {
				return err
			}
		case c.want[name]:
			return fmt.Errorf("carrying /%s: it is a %s, not a file, link or directory", name, typeName(h.Typeflag))
		case c.dirs[name] && h.Typeflag == tar.TypeDir:
			c.out[name] = &carried{hdr: *h}
		}
	}
}

func (c *carrier) keep(name string, h *tar.Header, r io.Reader) error {
	e := &carried{hdr: *h}
	if h.Typeflag == tar.TypeReg {
		c.size += h.Size
		if c.size > maxCarryBytes {
			return fmt.Errorf("carrying /%s: the carried files pass %d MiB; carry fewer executables", name, maxCarryBytes>>20)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("carrying /%s: %w", name, err)
		}
		e.data = data
	}
	c.out[name] = e
	return nil
}

// orphan writes a hard link target's content under the first carried link
// (sorted) and points the other links at it.
func (c *carrier) orphan(h *tar.Header, r io.Reader, links []string) error {
	sort.Strings(links)
	first := links[0]
	if err := c.keep(first, h, r); err != nil {
		return err
	}
	c.out[first].hdr.Name = first
	for _, l := range links[1:] {
		e := c.out[l]
		e.hdr.Linkname = first
	}
	return nil
}

func (c *carrier) layer() (v1.Layer, error) {
	names := make([]string, 0, len(c.out))
	for n := range c.out {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := c.out[n]
		h := e.hdr
		h.Name = n
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = clean(h.Linkname)
			h.Size = 0
		}
		h.Format = tar.FormatPAX
		h.Uname, h.Gname = "", ""
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if h.ModTime.IsZero() || h.ModTime.After(c.date) {
			h.ModTime = c.date
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("writing carry layer entry /%s: %w", n, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing carry layer entry /%s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestSpeed))
}

func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}
