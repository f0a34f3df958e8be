package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// caFile is where the generated base keeps the CA certificates (the path
// Debian, distroless and Nix's cacert use).
const caFile = "etc/ssl/certs/ca-certificates.crt"

// caCandidates are where upstreams keep their CA bundle, in order.
var caCandidates = []string{caFile, "etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/cert.pem", "etc/ssl/ca-bundle.pem"}

// generatedBase is drydock's own minimal static base, for when no hardened
// base is configured: /etc/passwd and /etc/group with root and nonroot
// (65532), the upstream's CA certificates, /tmp (1777) and /home/nonroot.
// Every byte depends only on those certificates, so the same upstream
// always gives the same base digest.
func generatedBase(up *image) (v1.Image, bool, error) {
	ca, err := upstreamCA(up)
	if err != nil {
		return nil, false, err
	}
	const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	const group = "root:x:0:\nnonroot:x:65532:\n"
	entries := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644, Size: int64(len(group))},
		{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd))},
	}
	if ca != nil {
		entries = append(entries,
			&tar.Header{Typeflag: tar.TypeDir, Name: "etc/ssl/", Mode: 0o755},
			&tar.Header{Typeflag: tar.TypeDir, Name: "etc/ssl/certs/", Mode: 0o755},
			&tar.Header{Typeflag: tar.TypeReg, Name: caFile, Mode: 0o644, Size: int64(len(ca))})
	}
	entries = append(entries,
		&tar.Header{Typeflag: tar.TypeDir, Name: "home/", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeDir, Name: "home/nonroot/", Mode: 0o755, Uid: 65532, Gid: 65532},
		&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777})
	content := map[string][]byte{"etc/group": []byte(group), "etc/passwd": []byte(passwd), caFile: ca}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h.Format, h.ModTime = tar.FormatPAX, time.Unix(0, 0) // nothing of this machine or this day
		if err := tw.WriteHeader(h); err != nil {
			return nil, false, fmt.Errorf("writing the generated base: %w", err)
		}
		if _, err := tw.Write(content[h.Name]); err != nil {
			return nil, false, fmt.Errorf("writing the generated base: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, false, fmt.Errorf("writing the generated base: %w", err)
	}
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, false, fmt.Errorf("writing the generated base: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{CreatedBy: "drydock generated base: passwd, group, CA certificates, /tmp, /home/nonroot"}})
	if err != nil {
		return nil, false, fmt.Errorf("writing the generated base: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, false, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = up.config.OS, up.config.Architecture, up.config.Variant
	cf.Config = v1.Config{User: "65532:65532", WorkingDir: "/home/nonroot",
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/" + caFile}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, false, fmt.Errorf("writing the generated base: %w", err)
	}
	return img, ca != nil, nil
}

// upstreamCA reads the upstream's CA bundle: SSL_CERT_FILE or
// NIX_SSL_CERT_FILE from its env, else the usual places, through symlinks
// (Nixpacks' point into /nix/store). nil when there is none.
func upstreamCA(up *image) ([]byte, error) {
	want := map[string]bool{}
	var order []string
	for _, kv := range up.config.Config.Env {
		if k, v, _ := strings.Cut(kv, "="); (k == "SSL_CERT_FILE" || k == "NIX_SSL_CERT_FILE") && path.IsAbs(v) {
			order = append(order, strings.TrimPrefix(path.Clean(v), "/"))
		}
	}
	order = append(order, caCandidates...)
	for _, p := range order {
		want[p] = true
	}
	links := map[string]string{}
	files := map[string][]byte{}
	rc := mutate.Extract(up.img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// Extract reports a layer that does not match its digest only
			// after the merged tar's end blocks: read on for it, or another
			// bundle would go into the signed base.
			if _, err := io.Copy(io.Discard, rc); err != nil {
				return nil, fmt.Errorf("reading the CA certificates of %s: %w", up.digest, err)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificates of %s: %w", up.digest, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		switch {
		case h.Typeflag == tar.TypeSymlink:
			links[name] = h.Linkname
		case h.Typeflag == tar.TypeReg && (want[name] || strings.HasPrefix(name, "nix/store/") && strings.Contains(name, "cacert") && strings.HasSuffix(name, ".crt")) && h.Size <= 4<<20:
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s from %s: %w", h.Name, up.digest, err)
			}
			files[name] = b
		}
	}
	for _, p := range order {
		for hops := 0; hops < 16; hops++ {
			if b, ok := files[p]; ok {
				return b, nil
			}
			t, ok := links[p]
			if !ok {
				break
			}
			if !path.IsAbs(t) {
				t = path.Join(path.Dir("/"+p), t)
			}
			p = strings.TrimPrefix(path.Clean(t), "/")
		}
	}
	return nil, nil
}
