package egress

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// User is the proxy's numeric non-root user (and group), userID.
const User = "65532:65532"

const userID = 65532

// BinaryPath is where the drydock binary sits in the proxy image.
const BinaryPath = "/drydock"

// ErrNotStatic says the drydock binary cannot run inside the proxy image.
var ErrNotStatic = errors.New("not a static Linux binary for this machine's architecture")

// Command is the proxy container's argument list (after the /drydock entrypoint).
func Command(allow []string) []string {
	c := []string{"egress-proxy", "--listen", ":" + strconv.Itoa(Port)}
	for _, a := range allow {
		c = append(c, "--allow", a)
	}
	return c
}

// CheckBinary makes sure path can run on an empty base image: an ELF
// executable for this machine's architecture with no dynamic loader and no
// shared libraries. The image has no libc to load.
func CheckBinary(path string) error { return checkBinaryFor(path, runtime.GOARCH) }

// machines are the ELF machines of the architectures a gateway image holds.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkBinaryFor is CheckBinary for linux/arch.
func checkBinaryFor(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s is not an ELF executable (%v); network mode allowlist needs drydock built for Linux with CGO_ENABLED=0", ErrNotStatic, path, err)
	}
	defer f.Close()
	want := machines[arch]
	if want == 0 || f.Machine != want {
		return fmt.Errorf("%w: %s is built for %v, not linux/%s; network mode allowlist needs a linux/%s drydock built with CGO_ENABLED=0", ErrNotStatic, path, f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%w: %s is dynamically linked (it needs a loader and libc the proxy image does not have); rebuild drydock with CGO_ENABLED=0 to use network mode allowlist", ErrNotStatic, path)
		}
	}
	return nil
}

// Image assembles the proxy image from the drydock binary at path: an empty
// base, one layer holding the binary at /drydock, a numeric non-root user.
// The same binary always gives the same image (fixed timestamps), so the
// image's ID is a key for "this drydock's proxy is already loaded".
func Image(path string) (v1.Image, error) { return imageFor(path, runtime.GOARCH) }

// imageFor is Image for a linux/arch binary.
func imageFor(path, arch string) (v1.Image, error) {
	if err := checkBinaryFor(path, arch); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the drydock binary for the egress proxy image: %w", err)
	}
	layerTar, err := binaryLayer(bin)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("building the egress proxy layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("building the egress proxy image: %w", err)
	}
	sum := sha256.Sum256(bin)
	base, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the egress proxy image config: %w", err)
	}
	// Keep the rootfs (the layer's diff ID) that AppendLayers recorded.
	cfg := base.DeepCopy()
	cfg.Architecture, cfg.OS = arch, "linux"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cfg.Config = v1.Config{
		User:       User,
		Entrypoint: []string{BinaryPath},
		WorkingDir: "/",
		Labels:     map[string]string{BinaryLabel: "sha256:" + hex.EncodeToString(sum[:])},
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting the egress proxy image config: %w", err)
	}
	return img, nil
}

// BinaryLabel is the proxy image's label holding the binary's digest.
const BinaryLabel = "dev.drydock.egress-proxy.binary"

// BinaryDigest is the sha256 digest of the drydock binary at path
// ("sha256:<hex>"), the key of its proxy image.
func BinaryDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the drydock binary for the egress proxy image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading the drydock binary for the egress proxy image: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Tag is the local name the proxy image of a binary digest is loaded
// under, so each drydock build loads its proxy once.
func Tag(binaryDigest string) string {
	return "drydock-egress-proxy:" + strings.TrimPrefix(binaryDigest, "sha256:")[:16]
}

// binaryLayer is a tar holding /etc (the engine mounts resolv.conf and hosts
// there), the binary, root-owned and not writable by the proxy's user, and
// SocketDir owned by that user: dockerd copies an image directory's owner
// and mode into the empty per-run volume mounted on it, and without that the
// proxy could not create its socket there.
func binaryLayer(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: epoch},
		{Typeflag: tar.TypeDir, Name: "run/", Mode: 0o755, ModTime: epoch},
		{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(SocketDir, "/") + "/", Mode: 0o700, Uid: userID, Gid: userID, ModTime: epoch},
		{Typeflag: tar.TypeReg, Name: "drydock", Mode: 0o555, Size: int64(len(bin)), ModTime: epoch},
	}
	for _, h := range hdrs {
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing the egress proxy layer: %w", err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				return nil, fmt.Errorf("writing the egress proxy layer: %w", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the egress proxy layer: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteTarball writes img as a `docker load` archive tagged tag.
func WriteTarball(w io.Writer, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("parsing the egress proxy tag %q: %w", tag, err)
	}
	return tarball.Write(ref, img, w)
}
