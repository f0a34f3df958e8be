package hardening_test

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/require"
)

// The checks here do not use the pass's own layer reader (Audit does), so
// "the hardened image passes" is not the code checking itself.

// tarFinding reads one header of a flattened or exported filesystem and
// says what is wrong with it: setuid/setgid bits, or a file capability.
func tarFinding(h *tar.Header) string {
	name := "/" + strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
	var bad []string
	if h.Mode&0o4000 != 0 {
		bad = append(bad, "setuid")
	}
	if h.Mode&0o2000 != 0 && h.Typeflag != tar.TypeDir { // setgid dirs only pass on the group
		bad = append(bad, "setgid")
	}
	if _, ok := h.PAXRecords["SCHILY.xattr.security.capability"]; ok {
		bad = append(bad, "file capability")
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s (mode %#o)", name, strings.Join(bad, ", "), h.Mode)
}

// tarView is a filesystem read from a tar stream: findings and every path
// with its type flag.
type tarView struct {
	findings []string
	types    map[string]byte
}

func readTarView(t *testing.T, r io.Reader) tarView {
	t.Helper()
	v := tarView{types: map[string]byte{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return v
		}
		require.NoError(t, err)
		v.types["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = h.Typeflag
		if f := tarFinding(h); f != "" {
			v.findings = append(v.findings, f)
		}
	}
}

// extractView flattens img with go-containerregistry's mutate.Extract.
// It cannot see inode sharing (a link entry keeps its own header), which is
// why the hostile link cases are also unpacked by the real engines.
func extractView(t *testing.T, img v1.Image) tarView {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	return readTarView(t, rc)
}
