package launch

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// world is shared by launch's integration tests: the fixture server on the
// hardened base (no BuildKit needed), a signing key, a real registry and dockerd.
type world struct {
	reg, prefix string
	base        v1.Image
	signer      signature.SignerVerifier
	docker      *client.Client
}

var shared testenv.Shared[*world]

func setup(t *testing.T) *world {
	t.Helper()
	reg := testenv.Registry(t)
	docker := testenv.Docker(t)
	return shared.Get(t, func() (*world, error) {
		bin, err := fixtures.ServerBinary(context.Background())
		if err != nil {
			return nil, err
		}
		hb, err := fixtures.HardenedBaseImage()
		if err != nil {
			return nil, err
		}
		base, err := fixtures.UpstreamImage(hb, "hardened-base", bin)
		if err != nil {
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
		return &world{
			reg: reg, prefix: fmt.Sprintf("launch-%d", time.Now().UnixNano()),
			base: base, signer: sv, docker: docker,
		}, nil
	})
}

// image pushes the fixture server with policy p as its label under repo:1,
// signs it and returns the tag.
func (w *world) image(t *testing.T, repo string, p *policies.Policy) string {
	t.Helper()
	return w.imageAt(t, w.reg, repo, p)
}

// imageAt is image on another registry; edits change the image config.
func (w *world) imageAt(t *testing.T, reg, repo string, p *policies.Policy, edits ...func(*v1.Config)) string {
	t.Helper()
	label, err := p.Encode()
	require.NoError(t, err)
	cfg, err := w.base.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.User = p.User
	cfg.Config.Labels = map[string]string{policies.LabelKey: label}
	for _, edit := range edits {
		edit(&cfg.Config)
	}
	img, err := mutate.ConfigFile(w.base, cfg)
	require.NoError(t, err)
	tag, err := name.NewTag(reg + "/" + w.prefix + "/" + repo + ":1")
	require.NoError(t, err)
	dg, err := img.Digest()
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag.Context().Digest(dg.String()), img))
	require.NoError(t, attest.Sign(context.Background(), tag.Context().Digest(dg.String()), w.signer))
	require.NoError(t, remote.Tag(tag, img))
	return tag.String()
}

// session is one in-process launch.Run with an MCP client on its stdio.
type session struct {
	*mcp.ClientSession
	stdin  io.WriteCloser
	stderr *lockedBuffer
	done   chan result
	cancel context.CancelFunc
}

type result struct {
	code int
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs ref with opts and returns once MCP initialize has completed.
func (w *world) start(t *testing.T, ref string, opts ...Option) *session {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{stdin: inW, stderr: &lockedBuffer{}, done: make(chan result, 1), cancel: cancel}
	opts = append([]Option{WithVerifier(w.signer), WithStdio(inR, outW, s.stderr), WithCacheDir(t.TempDir())}, opts...)
	go func() {
		code, err := Run(ctx, ref, opts...)
		outW.Close()
		s.done <- result{code, err}
	}()
	c := mcp.NewClient(&mcp.Implementation{Name: "launch-test", Version: "1"}, nil)
	ictx, icancel := context.WithTimeout(ctx, time.Minute)
	defer icancel()
	cs, err := c.Connect(ictx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		cancel()
		select {
		case r := <-s.done:
			t.Fatalf("MCP initialize failed: %v; Run returned %d, %v; stderr: %s", err, r.code, r.err, s.stderr)
		case <-time.After(30 * time.Second):
			t.Fatalf("MCP initialize failed: %v; stderr: %s", err, s.stderr)
		}
	}
	s.ClientSession = cs
	t.Cleanup(func() {
		cancel()
		_ = cs.Close()
	})
	return s
}

// wait returns Run's result, failing after a deadline.
func (s *session) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-s.done:
		return r
	case <-time.After(time.Minute):
		t.Fatalf("Run did not return within a minute; stderr: %s", s.stderr)
		return result{}
	}
}

// containers lists the containers drydock started for the image ref@digest.
func (w *world) containers(t *testing.T, digestRef string) []container.Summary {
	t.Helper()
	list, err := w.docker.ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+digestRef)),
	})
	require.NoError(t, err)
	return list
}

// waitGone polls until no container of digestRef exists.
func (w *world) waitGone(t *testing.T, digestRef string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(w.containers(t, digestRef)) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("containers of %s still exist 30s after the run ended", digestRef)
}

func digestOf(t *testing.T, tag string) string {
	t.Helper()
	ref, err := name.NewTag(tag)
	require.NoError(t, err)
	desc, err := remote.Head(ref)
	require.NoError(t, err)
	return ref.Context().Digest(desc.Digest.String()).String()
}

// echoText calls the fixture's echo tool.
func echoText(t *testing.T, s *session, text string) string {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	return res.Content[0].(*mcp.TextContent).Text
}

// otherKey is a verifier for a key that signed nothing.
func otherKey(t *testing.T) signature.Verifier {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	v, err := signature.LoadECDSAVerifier(&priv.PublicKey, crypto.SHA256)
	require.NoError(t, err)
	return v
}
