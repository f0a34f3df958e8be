package reproduce

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Compare names the first difference between two images: a layer (its
// index and the first path whose entry or content differs), then a config
// field (a JSON path such as config.Labels["dev.drydock.policy"]), then the
// manifest. It returns "" when the digests are equal.
func Compare(ctx context.Context, a, b name.Digest, ro ...remote.Option) (string, error) {
	if a.DigestStr() == b.DigestStr() {
		return "", nil
	}
	ai, err := remote.Image(a, ro...)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", a, err)
	}
	bi, err := remote.Image(b, ro...)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", b, err)
	}
	return CompareImages(ai, bi)
}

// CompareImages is Compare on images already at hand; a is the published
// one, b the rebuild.
func CompareImages(a, b v1.Image) (string, error) {
	if d, err := compareLayers(a, b); d != "" || err != nil {
		return d, err
	}
	ac, err := a.RawConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading published config: %w", err)
	}
	bc, err := b.RawConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading rebuilt config: %w", err)
	}
	if d, err := jsonDiff("config", ac, bc); d != "" || err != nil {
		return d, err
	}
	am, err := a.RawManifest()
	if err != nil {
		return "", fmt.Errorf("reading published manifest: %w", err)
	}
	bm, err := b.RawManifest()
	if err != nil {
		return "", fmt.Errorf("reading rebuilt manifest: %w", err)
	}
	if d, err := jsonDiff("manifest", am, bm); d != "" || err != nil {
		return d, err
	}
	return "the manifests differ only in encoding (same fields and values)", nil
}

func compareLayers(a, b v1.Image) (string, error) {
	al, err := a.Layers()
	if err != nil {
		return "", fmt.Errorf("reading published layers: %w", err)
	}
	bl, err := b.Layers()
	if err != nil {
		return "", fmt.Errorf("reading rebuilt layers: %w", err)
	}
	for i := range min(len(al), len(bl)) {
		ad, err := al[i].Digest()
		if err != nil {
			return "", err
		}
		bd, err := bl[i].Digest()
		if err != nil {
			return "", err
		}
		if ad == bd {
			continue
		}
		p, err := firstPath(al[i], bl[i])
		if err != nil {
			return "", fmt.Errorf("comparing layer %d: %w", i, err)
		}
		if p == "" {
			return fmt.Sprintf("layer %d (%s published, %s rebuilt): same files, different compression", i, ad, bd), nil
		}
		return fmt.Sprintf("layer %d (%s published, %s rebuilt): first differing path %s", i, ad, bd, p), nil
	}
	if len(al) != len(bl) {
		return fmt.Sprintf("layer count: %d published, %d rebuilt", len(al), len(bl)), nil
	}
	return "", nil
}

// entry is what a tar entry contributes to a filesystem.
type entry struct {
	name, link          string
	typ                 byte
	mode, size          int64
	uid, gid            int
	mtime               int64
	xattrs, contentHash string
}

// firstPath walks two layers' tars in step and returns the first path whose
// entry differs ("" when the tars hold the same entries). Both layers are
// then read to their end: go-containerregistry checks a layer against its
// digest only there, and an answer drawn from bytes that are not the layer's
// (served under its digest) would be wrong.
func firstPath(a, b v1.Layer) (string, error) {
	ar, err := a.Uncompressed()
	if err != nil {
		return "", err
	}
	defer ar.Close()
	br, err := b.Uncompressed()
	if err != nil {
		return "", err
	}
	defer br.Close()
	p, err := walk(tar.NewReader(ar), tar.NewReader(br))
	if err != nil {
		return "", err
	}
	if err := drain(ar, "published"); err != nil {
		return "", err
	}
	if err := drain(br, "rebuilt"); err != nil {
		return "", err
	}
	return p, nil
}

// drain reads the rest of a layer for the digest check.
func drain(r io.Reader, which string) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("reading the %s layer to its end: %w", which, err)
	}
	return nil
}

// walk returns the first path whose entry differs between two tars.
func walk(at, bt *tar.Reader) (string, error) {
	for {
		ae, aerr := next(at)
		be, berr := next(bt)
		if errors.Is(aerr, io.EOF) && errors.Is(berr, io.EOF) {
			return "", nil
		}
		switch {
		case errors.Is(aerr, io.EOF):
			return "/" + be.name + " (only in the rebuild)", nil
		case errors.Is(berr, io.EOF):
			return "/" + ae.name + " (only in the published image)", nil
		case aerr != nil:
			return "", aerr
		case berr != nil:
			return "", berr
		}
		if ae.name != be.name {
			return "/" + min(ae.name, be.name) + " (in one layer only)", nil
		}
		if ae != be {
			return "/" + ae.name + " (" + what(ae, be) + ")", nil
		}
	}
}

func next(tr *tar.Reader) (entry, error) {
	h, err := tr.Next()
	if err != nil {
		return entry{}, err
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, tr); err != nil {
		return entry{}, err
	}
	var xs []string
	for k, v := range h.PAXRecords {
		if len(k) > 13 && k[:13] == "SCHILY.xattr." {
			xs = append(xs, k+"="+v)
		}
	}
	slices.Sort(xs)
	x, _ := json.Marshal(xs)
	return entry{
		name: trimDir(h.Name), link: h.Linkname, typ: h.Typeflag, mode: h.Mode, size: h.Size,
		uid: h.Uid, gid: h.Gid, mtime: h.ModTime.UnixNano(), xattrs: string(x), contentHash: fmt.Sprintf("%x", sum.Sum(nil)),
	}, nil
}

func trimDir(n string) string {
	for len(n) > 0 && (n[len(n)-1] == '/' || n[0] == '/') {
		if n[0] == '/' {
			n = n[1:]
		} else {
			n = n[:len(n)-1]
		}
	}
	if len(n) > 2 && n[:2] == "./" {
		n = n[2:]
	}
	return n
}

// what names the first differing attribute of two entries of one path.
func what(a, b entry) string {
	switch {
	case a.typ != b.typ:
		return "type"
	case a.contentHash != b.contentHash:
		return "content"
	case a.mode != b.mode:
		return fmt.Sprintf("mode %o published, %o rebuilt", a.mode, b.mode)
	case a.uid != b.uid || a.gid != b.gid:
		return fmt.Sprintf("owner %d:%d published, %d:%d rebuilt", a.uid, a.gid, b.uid, b.gid)
	case a.mtime != b.mtime:
		return "modification time"
	case a.link != b.link:
		return "link target"
	}
	return "extended attributes"
}

// jsonDiff returns the first path (in sorted key order) where two JSON
// documents differ, with both values.
func jsonDiff(root string, a, b []byte) (string, error) {
	var av, bv any
	if err := json.Unmarshal(a, &av); err != nil {
		return "", fmt.Errorf("decoding published %s: %w", root, err)
	}
	if err := json.Unmarshal(b, &bv); err != nil {
		return "", fmt.Errorf("decoding rebuilt %s: %w", root, err)
	}
	p, x, y, ok := firstDiff("", av, bv)
	if !ok {
		return "", nil
	}
	p = strings.TrimPrefix(p, ".")
	return fmt.Sprintf("%s field %s: published %s, rebuilt %s", root, p, short(x), short(y)), nil
}

func firstDiff(path string, a, b any) (string, any, any, bool) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path, a, b, true
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p, x, y, ok := firstDiff(path+key(k), av[k], bv[k]); ok {
				return p, x, y, true
			}
		}
		return "", nil, nil, false
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return path, a, b, true
		}
		for i := range min(len(av), len(bv)) {
			if p, x, y, ok := firstDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i]); ok {
				return p, x, y, true
			}
		}
		if n := min(len(av), len(bv)); len(av) != len(bv) {
			p := fmt.Sprintf("%s[%d]", path, n)
			if n < len(av) {
				return p, av[n], nil, true
			}
			return p, nil, bv[n], true
		}
		return "", nil, nil, false
	}
	if !reflect.DeepEqual(a, b) {
		return path, a, b, true
	}
	return "", nil, nil, false
}

// key renders a map key as .Name or ["dotted.name"].
func key(k string) string {
	plain := k != ""
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
		}
	}
	if plain {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// short renders a value for a message, cut to keep one line readable.
func short(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	s := string(bytes.TrimSpace(b))
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
