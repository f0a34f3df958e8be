package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/sbom"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// TestGateUsesHardenSBOM: when harden already made the image's SBOM
// (build.WithSBOM), the gate matches that SBOM's packages, the ones the SBOM
// attestation lists, instead of cataloguing the image a second time.
func TestGateUsesHardenSBOM(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, data string }{
		{"etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"},
		{"var/lib/dpkg/status", "Package: sudo\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.9.13p3-1+deb12u4\nDescription: x\n\n"},
	} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}))
		_, err := tw.Write([]byte(f.data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	require.NoError(t, err)
	img, err := mutate.AppendLayers(empty.Image, l)
	require.NoError(t, err)
	s, err := sbom.Generate(context.Background(), img)
	require.NoError(t, err)

	db, err := scan.LoadDB("testdata/osv")
	require.NoError(t, err)
	d := pushRandom(t)
	g := &scan.Gate{DB: db, Signer: newKey(t)}
	sign := func(ctx context.Context, d name.Digest, _ *build.Result) error { return attest.Sign(ctx, d, g.Signer) }
	require.NoError(t, g.Wrap(sign)(context.Background(), d, &build.Result{SBOM: s}))
	require.Equal(t, []string{"DRYDOCK-TEST-SUDO"}, ids(g.Result.Findings))
	require.Equal(t, 1, g.Result.Packages)

	// Without harden's SBOM and without a Packages function there is
	// nothing to scan: refused, not passed.
	err = g.Wrap(sign)(context.Background(), d, &build.Result{})
	require.ErrorContains(t, err, "no SBOM of "+d.String()+" was made to scan")

	// An explicit Packages function is what the gate matches.
	g.Packages = func(context.Context, name.Digest) ([]scan.Package, error) {
		return nil, errors.New("listed by the caller")
	}
	err = g.Wrap(sign)(context.Background(), d, &build.Result{SBOM: s})
	require.ErrorContains(t, err, "listed by the caller")
}
