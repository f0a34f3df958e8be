package launch

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// gatewayEngine is an engine that holds at most one image, with ID id,
// once pulled (or from the start when preloaded). It records pulls; any
// other call panics (the embedded nil Docker), so a test also proves that
// nothing else, no container above all, is touched.
type gatewayEngine struct {
	Docker
	id        string
	preloaded bool
	pullErr   error // what ImagePull answers, if set
	vanishes  bool  // the image is never there, even after a pull
	mu        sync.Mutex
	pulled    []string
}

func (g *gatewayEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.vanishes || (!g.preloaded && len(g.pulled) == 0) {
		return image.InspectResponse{}, errdefs.NotFound(errors.New("no such image: " + ref))
	}
	return image.InspectResponse{ID: g.id}, nil
}

func (g *gatewayEngine) ImagePull(_ context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pulled = append(g.pulled, ref)
	if g.pullErr != nil {
		return nil, g.pullErr
	}
	return io.NopCloser(strings.NewReader(`{"status":"Downloaded"}`)), nil
}

// gatewayFixture is a registry holding a signed gateway image and the ways
// a floor can name something else.
type gatewayFixture struct {
	signer          signature.SignerVerifier
	signed          name.Digest // what Publish signed and tagged
	config          string      // its config digest, the engine's image ID
	unsigned        name.Digest // another gateway image, never signed
	copiedSignature name.Digest // unsigned, with signed's signature copied to its .sig tag
	otherRepo       name.Digest // signed's image and signature copied to another repository
}

var (
	gwFixtureOnce sync.Once
	gwFixture     *gatewayFixture
	gwFixtureErr  error
)

func newGatewayFixture(t *testing.T) *gatewayFixture {
	t.Helper()
	gwFixtureOnce.Do(func() { gwFixture, gwFixtureErr = buildGatewayFixture() })
	require.NoError(t, gwFixtureErr)
	return gwFixture
}

func buildGatewayFixture() (*gatewayFixture, error) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New())
	// The server lives as long as the test binary: the fixture is shared.
	host := strings.TrimPrefix(srv.URL, "http://")
	dir, err := os.MkdirTemp("", "drydock-gateway-test")
	if err != nil {
		return nil, err
	}
	// A small static binary stands in for drydock: only its bytes matter here.
	bin := filepath.Join(dir, "gateway")
	if err := goBuild(bin, "github.com/drydock-dev/drydock/launch/testdata/listener"); err != nil {
		return nil, err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	f := &gatewayFixture{signer: sv}
	tag, err := name.NewTag(host + "/drydock/gateway:1")
	if err != nil {
		return nil, err
	}
	if f.signed, err = egress.Publish(ctx, tag, []egress.Binary{{Arch: runtime.GOARCH, Path: bin}}, sv); err != nil {
		return nil, err
	}
	img, err := remote.Image(f.signed)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	f.config = cfg.String()
	// Another gateway image: the same binary, one more label.
	other, err := mutate.Config(img, v1.Config{User: egress.User, Entrypoint: []string{egress.BinaryPath}, Labels: map[string]string{"other": "1"}})
	if err != nil {
		return nil, err
	}
	push := func(repo string, im v1.Image) (name.Digest, error) { return pushDigest(host+"/"+repo, im) }
	if f.unsigned, err = push("drydock/gateway", other); err != nil {
		return nil, err
	}
	copySig := copySignature
	// A second unsigned image whose .sig tag holds the signed digest's
	// signature: only the claim verifier tells them apart.
	other2, err := mutate.Config(img, v1.Config{User: egress.User, Entrypoint: []string{egress.BinaryPath}, Labels: map[string]string{"other": "2"}})
	if err != nil {
		return nil, err
	}
	if f.copiedSignature, err = push("drydock/gateway", other2); err != nil {
		return nil, err
	}
	if err := copySig(f.signed, f.copiedSignature); err != nil {
		return nil, err
	}
	// The signed image and its signature under another repository: the
	// signature names drydock/gateway, so the repository binding refuses.
	if f.otherRepo, err = push("elsewhere/gateway", img); err != nil {
		return nil, err
	}
	if err := copySig(f.signed, f.otherRepo); err != nil {
		return nil, err
	}
	return f, nil
}

// pushDigest pushes im by digest to repo.
func pushDigest(repo string, im v1.Image) (name.Digest, error) {
	h, err := im.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	d, err := name.NewDigest(repo + "@" + h.String())
	if err != nil {
		return name.Digest{}, err
	}
	return d, remote.Write(d, im)
}

// copySignature copies the .sig tag of from to the .sig tag of to.
func copySignature(from, to name.Digest) error {
	sigTag := func(d name.Digest) (name.Tag, error) {
		return name.NewTag(d.Context().String() + ":" + strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
	}
	src, err := sigTag(from)
	if err != nil {
		return err
	}
	dst, err := sigTag(to)
	if err != nil {
		return err
	}
	sig, err := remote.Image(src)
	if err != nil {
		return err
	}
	return remote.Write(dst, sig)
}

func pubPEM(t *testing.T, v signature.Verifier) string {
	t.Helper()
	k, err := v.PublicKey()
	require.NoError(t, err)
	b, err := cryptoutils.MarshalPublicKeyToPEM(k)
	require.NoError(t, err)
	return string(b)
}

func floorWithGateway(image, key string) *policies.Floor {
	f := policies.StrictFloor()
	f.Egress = policies.FloorEgress{Image: image, Key: key}
	return f
}

func TestGatewayImage(t *testing.T) {
	f := newGatewayFixture(t)
	ctx := context.Background()
	right := pubPEM(t, f.signer)
	wrong := pubPEM(t, otherKey(t))
	keyFile := filepath.Join(t.TempDir(), "gateway.pub")
	require.NoError(t, os.WriteFile(keyFile, []byte(right), 0o644))
	notStatic := filepath.Join(t.TempDir(), "drydock")
	require.NoError(t, os.WriteFile(notStatic, []byte("#!/bin/sh\n"), 0o755))
	release := Gateway{Image: f.signed.String(), Key: f.signer, Source: "release default of this drydock build"}

	tests := []struct {
		name      string
		floor     *policies.Floor
		opts      []Option
		engineID  string // the ID the engine reports for the pulled image; "" = the verified config
		preloaded bool
		pullErr   error
		vanishes  bool
		wantID    bool     // the verified config's ID is returned
		wantErr   []string // each appears in the error
		refused   bool     // errors.Is(err, ErrRefused)
		notPulled bool
	}{
		{name: "floor names the signed digest, key inline", floor: floorWithGateway(f.signed.String(), right), wantID: true},
		{name: "floor names the signed digest, key file", floor: floorWithGateway(f.signed.String(), keyFile), wantID: true},
		{name: "release default when the floor names none", floor: policies.StrictFloor(), opts: []Option{WithGateway(release)}, wantID: true},
		{name: "engine already holds the verified image", floor: floorWithGateway(f.signed.String(), right), preloaded: true, wantID: true, notPulled: true},
		{name: "wrong key", floor: floorWithGateway(f.signed.String(), wrong), refused: true, notPulled: true,
			wantErr: []string{"the gateway image " + f.signed.String() + " (floor egress.image, key from floor egress.key) does not verify"}},
		{name: "the floor's key overrides the release default", floor: floorWithGateway(f.signed.String(), wrong), opts: []Option{WithGateway(release)}, refused: true, notPulled: true,
			wantErr: []string{"does not verify"}},
		{name: "unsigned digest", floor: floorWithGateway(f.unsigned.String(), right), refused: true, notPulled: true,
			wantErr: []string{"the gateway image " + f.unsigned.String(), "does not verify"}},
		{name: "digest that is not the signed one, carrying its signature", floor: floorWithGateway(f.copiedSignature.String(), right), refused: true, notPulled: true,
			wantErr: []string{"the gateway image " + f.copiedSignature.String(), "does not verify"}},
		{name: "signed image copied to another repository", floor: floorWithGateway(f.otherRepo.String(), right), refused: true, notPulled: true,
			wantErr: []string{"the gateway image " + f.otherRepo.String(), "does not verify"}},
		{name: "engine's image is not the verified one", floor: floorWithGateway(f.signed.String(), right),
			engineID: "sha256:1111111111111111111111111111111111111111111111111111111111111111", refused: true,
			wantErr: []string{"has ID sha256:1111111111111111111111111111111111111111111111111111111111111111 in the engine"}},
		{name: "floor image is a tag (a floor built without ParseFloor)", floor: floorWithGateway("registry.internal/gw:1", right), refused: true, notPulled: true,
			wantErr: []string{`the gateway image "registry.internal/gw:1" (floor egress.image, key from floor egress.key) is not REPO@sha256:<digest>`}},
		{name: "digest not in the registry", floor: floorWithGateway(f.signed.Context().String()+"@sha256:2222222222222222222222222222222222222222222222222222222222222222", right), notPulled: true,
			wantErr: []string{"resolving the gateway image " + f.signed.Context().String() + "@sha256:2222222222222222222222222222222222222222222222222222222222222222"}},
		{name: "pull fails", floor: floorWithGateway(f.signed.String(), right), pullErr: errors.New("registry said no"),
			wantErr: []string{"pulling the gateway image: pulling " + f.signed.String() + ": registry said no"}},
		{name: "engine loses the image after the pull", floor: floorWithGateway(f.signed.String(), right), vanishes: true,
			wantErr: []string{"inspecting the gateway image " + f.signed.String() + " in the container engine"}},
		{name: "key file missing", floor: floorWithGateway(f.signed.String(), filepath.Join(t.TempDir(), "none.pub")), notPulled: true,
			wantErr: []string{"loading the gateway image's key (floor field egress.key)"}},
		{name: "no gateway image and drydock is not static", floor: policies.StrictFloor(), opts: []Option{WithProxyBinary(notStatic)}, refused: true, notPulled: true,
			wantErr: []string{"network mode allowlist needs a gateway image and this drydock cannot be one", "set egress.image and egress.key in the floor file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.engineID
			if id == "" {
				id = f.config
			}
			engine := &gatewayEngine{id: id, preloaded: tt.preloaded, pullErr: tt.pullErr, vanishes: tt.vanishes}
			o, err := makeOptions(append([]Option{WithVerifier(otherKey(t)), WithFloor(tt.floor), WithCacheDir("")}, tt.opts...)...)
			require.NoError(t, err)
			got, err := gatewayImage(ctx, engine, o)
			if tt.notPulled {
				require.Empty(t, engine.pulled, "nothing is pulled into the engine")
			}
			if tt.wantID {
				require.NoError(t, err)
				require.Equal(t, f.config, got)
				if !tt.preloaded {
					require.Len(t, engine.pulled, 1)
					require.True(t, strings.HasSuffix(engine.pulled[0], "@"+f.signed.DigestStr()), "pulled by the verified digest: %v", engine.pulled)
				}
				return
			}
			require.Error(t, err)
			require.Empty(t, got)
			require.Equal(t, tt.refused, errors.Is(err, ErrRefused), "errors.Is(%v, ErrRefused)", err)
			for _, w := range tt.wantErr {
				require.Contains(t, err.Error(), w)
			}
			// Signature refusals are attest's, wrapped.
			if strings.Contains(err.Error(), "does not verify") {
				require.True(t, errors.Is(err, attest.ErrRefused), "errors.Is(%v, attest.ErrRefused)", err)
			}
		})
	}
}

func TestWithGatewayRefusesTagsAndMissingKeys(t *testing.T) {
	for _, g := range []Gateway{
		{Image: "registry.internal/gateway:1", Key: otherKey(t), Source: "test"},
		{Image: "registry.internal/gateway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Source: "test"},
	} {
		_, err := makeOptions(WithVerifier(otherKey(t)), WithGateway(g))
		require.Error(t, err, "%+v", g)
	}
}

func TestExplainGateway(t *testing.T) {
	const img = "registry.internal/drydock/gateway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dg, err := name.NewDigest("registry.internal/mcp/server@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	require.NoError(t, err)
	v := &Verified{Digest: dg, Spec: policies.ContainerSpec{Egress: &policies.Egress{Allow: []string{"api.github.com:443"}}}}
	notStatic := filepath.Join(t.TempDir(), "drydock")
	require.NoError(t, os.WriteFile(notStatic, []byte("#!/bin/sh\n"), 0o755))
	got := ExplainAllowlist(v, floorWithGateway(img, pubPEM(t, otherKey(t))), WithProxyBinary(notStatic))
	require.Equal(t, "# gateway image: "+img+" (floor egress.image, key from floor egress.key; its signature is verified and the engine's image ID checked before it starts)", got[0])
	var gateway string
	for _, l := range got {
		if strings.HasPrefix(l, "docker run -d --name SERVER-egress ") {
			gateway = l
		}
	}
	require.Contains(t, gateway, " "+img+" egress-proxy ", "the gateway runs the gateway image: %q", got)
	got = ExplainAllowlist(v, policies.StrictFloor(), WithProxyBinary(notStatic))
	require.True(t, strings.HasPrefix(got[0], "# gateway image: none; run refuses: "), got[0])
	require.Contains(t, got[0], "set egress.image and egress.key in the floor file")
}

// TestGatewayIndex publishes a two-platform gateway index: every platform
// image is signed, and a run verifies and pulls this machine's platform
// image, never the index.
func TestGatewayIndex(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	// The "arm64" binary is the amd64 one with its ELF machine field set
	// to AArch64: only the header is read, and no toolchain run is needed.
	src := filepath.Join(t.TempDir(), "gateway")
	require.NoError(t, goBuild(src, "github.com/drydock-dev/drydock/launch/testdata/listener"))
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	var bins []egress.Binary
	for _, arch := range []string{"amd64", "arm64"} {
		b := slices.Clone(data)
		binary.LittleEndian.PutUint16(b[18:], uint16(machine[arch])) // e_machine
		path := filepath.Join(t.TempDir(), "gateway-"+arch)
		require.NoError(t, os.WriteFile(path, b, 0o755))
		parsed, err := egress.ParseBinary(path)
		require.NoError(t, err)
		require.Equal(t, egress.Binary{Arch: arch, Path: path}, parsed, "the platform is read from the ELF header")
		bins = append(bins, parsed)
	}
	sv := newGatewayFixture(t).signer
	tag, err := name.NewTag(host + "/drydock/gateway:multi")
	require.NoError(t, err)
	d, err := egress.Publish(ctx, tag, bins, sv)
	require.NoError(t, err)
	idx, err := remote.Index(d)
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 2)
	var mine v1.Descriptor
	for _, desc := range m.Manifests {
		// Each platform image is signed on its own.
		_, err := attest.Verify(ctx, d.Context().Digest(desc.Digest.String()), sv)
		require.NoError(t, err, "%s", desc.Platform)
		if desc.Platform.Architecture == runtime.GOARCH {
			mine = desc
		}
	}
	require.NotEmpty(t, mine.Digest.String())
	img, err := remote.Image(d.Context().Digest(mine.Digest.String()))
	require.NoError(t, err)
	cfg, err := img.ConfigName()
	require.NoError(t, err)

	engine := &gatewayEngine{id: cfg.String()}
	o, err := makeOptions(WithVerifier(otherKey(t)), WithFloor(floorWithGateway(d.String(), pubPEM(t, sv))), WithCacheDir(""))
	require.NoError(t, err)
	got, err := gatewayImage(ctx, engine, o)
	require.NoError(t, err)
	require.Equal(t, cfg.String(), got)
	require.Equal(t, []string{d.Context().String() + "@" + mine.Digest.String()}, engine.pulled, "the platform image is pulled by its digest")
}
