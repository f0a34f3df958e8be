package startcmd

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// headSize is how much of a file ImageFS keeps when Resolve only needs its
// start (a #! line or the ELF magic).
const headSize = 512

// wholeMax bounds the files ImageFS keeps whole.
const wholeMax = 1 << 20

// ImageFS reads img's merged filesystem (layers applied in order, whiteouts
// honoured) into memory for Resolve. Files Resolve reads whole (package.json,
// /etc, profile files, .cfg) are kept whole up to 1 MiB; every other file
// keeps only its first 512 bytes, so node_modules and /nix/store cost
// little. Each entry's *tar.Header is its Sys(), for owners and modes.
func ImageFS(img v1.Image) (fs.FS, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	m := fstest.MapFS{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the image's filesystem: %w", err)
		}
		name := fsName(h.Name)
		if name == "." {
			continue
		}
		hdr := *h
		hdr.PAXRecords, hdr.Xattrs = nil, nil
		f := &fstest.MapFile{Mode: h.FileInfo().Mode(), ModTime: h.ModTime, Sys: &hdr}
		switch h.Typeflag {
		case tar.TypeDir:
		case tar.TypeSymlink:
			f.Data = []byte(h.Linkname)
		case tar.TypeLink:
			if t, ok := m[fsName(h.Linkname)]; ok {
				f.Data, f.Mode = t.Data, t.Mode
			}
		case tar.TypeReg:
			n := int64(headSize)
			if wantWhole(name) && h.Size <= wholeMax {
				n = h.Size
			}
			if f.Data, err = io.ReadAll(io.LimitReader(tr, n)); err != nil {
				return nil, fmt.Errorf("reading %s from the image: %w", h.Name, err)
			}
		default:
			continue // devices and fifos start nothing
		}
		m[name] = f
	}
}

// wantWhole names the files Resolve reads past their first bytes.
func wantWhole(name string) bool {
	base := path.Base(name)
	return base == "package.json" || strings.HasPrefix(name, "etc/") || strings.HasSuffix(base, ".cfg") ||
		base == ".profile" || base == ".bash_profile" || base == ".bash_login"
}
