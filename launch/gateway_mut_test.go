package launch

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// staticELF writes the smallest file egress.CheckBinary accepts: an ELF64
// header for this machine's architecture with no program headers, so no
// PT_INTERP (no loader needed).
func staticELF(t *testing.T) string {
	t.Helper()
	machine := map[string]uint16{"amd64": 62, "arm64": 183}[runtime.GOARCH]
	if machine == 0 {
		t.Skipf("no ELF machine number for %s here", runtime.GOARCH)
	}
	h := make([]byte, 64)
	copy(h, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */})
	binary.LittleEndian.PutUint16(h[16:], 2) // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], machine)
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64) // e_ehsize
	binary.LittleEndian.PutUint16(h[54:], 56) // e_phentsize
	binary.LittleEndian.PutUint16(h[58:], 64) // e_shentsize
	p := filepath.Join(t.TempDir(), "drydock-static")
	require.NoError(t, os.WriteFile(p, h, 0o755))
	return p
}

// TestChooseGatewayLocalBuild pins the fallback when neither the floor nor
// the release names a gateway image: the given binary, else the running
// one, and only if it is static.
func TestChooseGatewayLocalBuild(t *testing.T) {
	static := staticELF(t)
	notStatic := filepath.Join(t.TempDir(), "drydock")
	require.NoError(t, os.WriteFile(notStatic, []byte("#!/bin/sh\n"), 0o755))
	running := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	noProc := func() (string, error) { return "", errors.New("no /proc/self/exe") }

	tests := []struct {
		name       string
		opts       []Option
		executable func() (string, error)
		wantBinary string
		wantErr    string // the whole message
		refused    bool
	}{
		{name: "given static binary, the running one is not asked", opts: []Option{WithProxyBinary(static)},
			executable: running(notStatic), wantBinary: static},
		{name: "given static binary, the running one is unknown", opts: []Option{WithProxyBinary(static)},
			executable: noProc, wantBinary: static},
		{name: "none given: the running binary, static", executable: running(static), wantBinary: static},
		{name: "none given: the running binary cannot be found", executable: noProc,
			wantErr: "finding the drydock binary for the egress proxy: no /proc/self/exe"},
		{name: "none given: the running binary is not static", executable: running(notStatic), refused: true,
			wantErr: "network mode allowlist needs a gateway image and this drydock cannot be one"},
		{name: "given binary not static, the running one static", opts: []Option{WithProxyBinary(notStatic)},
			executable: running(static), refused: true,
			wantErr: "network mode allowlist needs a gateway image and this drydock cannot be one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := makeOptions(append([]Option{WithVerifier(otherKey(t)), WithFloor(policies.StrictFloor())}, tt.opts...)...)
			require.NoError(t, err)
			got, err := chooseGatewayFrom(o, tt.executable)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, gatewayChoice{binary: tt.wantBinary}, got)
				return
			}
			require.Error(t, err)
			require.Equal(t, gatewayChoice{}, got)
			if tt.refused {
				require.ErrorIs(t, err, ErrRefused)
				require.Contains(t, err.Error(), tt.wantErr)
				require.Contains(t, err.Error(), notStatic+" is not an ELF executable")
			} else {
				require.NotErrorIs(t, err, ErrRefused)
				require.Equal(t, tt.wantErr, err.Error())
			}
		})
	}
}

// failingGETs answers 404 to the nth GET (1-based; 0: none) of one URL
// path and counts them; everything else goes to the registry. A 404 is
// not retried, so one answer is one failure.
type failingGETs struct {
	path   string
	failAt int
	mu     sync.Mutex
	n      int
}

func (f *failingGETs) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.URL.Path == f.path {
		f.mu.Lock()
		f.n++
		n := f.n
		f.mu.Unlock()
		if n == f.failAt {
			return &http.Response{
				StatusCode: http.StatusNotFound, Status: "404 Not Found", Request: r,
				Header: http.Header{"Content-Type": {"application/json"}},
				Body:   io.NopCloser(strings.NewReader(`{"errors":[{"code":"NAME_UNKNOWN","message":"gone midway"}]}`)),
			}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestEnsureGatewayReadsAfterVerifying makes the registry fail once the
// signature has verified: reading the image (its manifest, fetched last)
// or its config (the engine's image ID to expect) is an error, and nothing
// is pulled.
func TestEnsureGatewayReadsAfterVerifying(t *testing.T) {
	f := newGatewayFixture(t)
	ctx := context.Background()
	repo := "/v2/" + f.signed.RepositoryStr()
	run := func(tr *failingGETs) (string, *gatewayEngine, error) {
		engine := &gatewayEngine{id: f.config}
		o, err := makeOptions(WithVerifier(otherKey(t)), WithFloor(floorWithGateway(f.signed.String(), pubPEM(t, f.signer))),
			WithCacheDir(""), WithRemoteOptions(remote.WithTransport(tr)))
		require.NoError(t, err)
		id, err := gatewayImage(ctx, engine, o)
		return id, engine, err
	}

	// Unbroken, to count the manifest's GETs: the last is the image read.
	count := &failingGETs{path: repo + "/manifests/" + f.signed.DigestStr()}
	id, _, err := run(count)
	require.NoError(t, err)
	require.Equal(t, f.config, id)
	require.GreaterOrEqual(t, count.n, 2, "resolve and the image read both GET the manifest")

	tests := []struct {
		name    string
		tr      *failingGETs
		wantErr string
	}{
		{name: "manifest gone after verifying", tr: &failingGETs{path: count.path, failAt: count.n},
			wantErr: "reading the gateway image " + f.signed.String() + ": "},
		{name: "config gone after verifying", tr: &failingGETs{path: repo + "/blobs/" + f.config, failAt: 1},
			wantErr: "reading the config digest of the gateway image " + f.signed.String() + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, engine, err := run(tt.tr)
			require.Error(t, err)
			require.Empty(t, id)
			require.True(t, strings.HasPrefix(err.Error(), tt.wantErr), "error %q does not start with %q", err, tt.wantErr)
			require.Contains(t, err.Error(), "gone midway")
			require.NotErrorIs(t, err, ErrRefused)
			require.Empty(t, engine.pulled, "nothing is pulled into the engine")
		})
	}
}
