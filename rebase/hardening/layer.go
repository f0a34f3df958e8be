package hardening

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layer writes the planned entries as one tar, sorted by name, in PAX format
// with no user/group names or access times, and every modification time at
// most the source date (entries the pass creates get exactly that date): the
// same merged filesystem and date give the same bytes and so the same digest.
// The gzip stream is ggcr's (Go's compress/gzip at a fixed level, empty header), which
// depends on neither the machine nor the time.
func (p *planner) layer() (v1.Layer, error) {
	date := p.o.SourceDate.UTC()
	if p.o.SourceDate.IsZero() {
		date = time.Unix(0, 0).UTC()
	}
	names := make([]string, 0, len(p.outs))
	for n := range p.outs {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		o := p.outs[n]
		h := *o.hdr
		h.Name = n
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		h.Format = tar.FormatPAX
		if h.ModTime.IsZero() || h.ModTime.After(date) {
			h.ModTime = date
		}
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if h.Typeflag == tar.TypeReg && h.Size != int64(len(o.data)) {
			return nil, fmt.Errorf("content of /%s was not kept for rewriting (%d of %d bytes)", n, len(o.data), h.Size)
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(o.data); err != nil {
			return nil, err
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
