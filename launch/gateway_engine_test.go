package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/launch/egress"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestGatewayRun runs an allowlist server whose gateway is a signed image
// built by egress.Publish (as `drydock egress-image` does), on dockerd.
func TestGatewayRun(t *testing.T) {
	w := setup(t)
	testGatewayRun(t, w, w.docker)
}

// TestGatewayRunPodman is the same through podman's compatible API.
func TestGatewayRunPodman(t *testing.T) {
	w := setup(t)
	testGatewayRun(t, w, podman(t))
}

func testGatewayRun(t *testing.T, w *world, docker *client.Client) {
	bin := staticDrydock(t)
	ctx := context.Background()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	egressNet := "drydock-test-egress-" + id
	testNetwork(t, docker, egressNet)
	allowed := "drydock-test-allowed-" + id
	allowedIP := listener(t, docker, listenerImage(t, docker), egressNet, allowed)

	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{allowed + ":8080"}}
	ref := w.image(t, "gateway-server-"+id, p)
	pinned := digestOf(t, ref)

	// The release pipeline's gateway: pushed by digest, signed, then tagged.
	gwTag, err := name.NewTag(w.reg + "/" + w.prefix + "/gateway:1")
	require.NoError(t, err)
	signed, err := egress.Publish(ctx, gwTag, []egress.Binary{{Arch: runtime.GOARCH, Path: bin}}, w.signer)
	require.NoError(t, err)
	gwImg, err := remote.Image(signed)
	require.NoError(t, err)
	gwConfig, err := gwImg.ConfigName()
	require.NoError(t, err)
	tagged, err := remote.Head(gwTag)
	require.NoError(t, err)
	require.Equal(t, signed.DigestStr(), tagged.Digest.String(), "the tag names the signed digest")

	floor := func(image, key string) *policies.Floor {
		f := policies.StrictFloor()
		f.Network = policies.FloorNetwork{Modes: []string{policies.NetworkNone, policies.NetworkAllowlist}, Hosts: []string{allowed + ":8080", allowedIP + ":8080"}}
		f.Egress = policies.FloorEgress{Image: image, Key: key}
		return f
	}
	right := pubPEM(t, w.signer)

	t.Run("runs through the verified gateway", func(t *testing.T) {
		start := time.Now()
		since := start
		// No WithProxyBinary: the test binary is no drydock, so only the
		// signed gateway image can make this work.
		s := w.start(t, ref, WithFloor(floor(signed.String(), right)), WithEgressNetwork(egressNet), WithDocker(docker))
		t.Logf("run → initialize through the signed gateway image: %v (pull included on the first run)", time.Since(start))
		ctrs := containersOf(t, docker, pinned)
		require.Len(t, ctrs, 1)
		server := strings.TrimPrefix(ctrs[0].Names[0], "/")
		// The event check the refusals rely on sees what a run creates.
		require.Equal(t, []string{server, server + "-egress", server + "-relay"}, createdSince(t, docker, since, pinned))
		for _, c := range []string{server + "-egress", server + "-relay"} {
			info, err := docker.ContainerInspect(ctx, c)
			require.NoError(t, err)
			require.Equal(t, gwConfig.String(), info.Image, "%s runs the verified gateway image", c)
		}
		got := probe(t, s.ClientSession, map[string]any{"httpGet": "http://" + allowed + ":8080/"})
		h := got["http"].(map[string]any)
		require.EqualValues(t, 200, h["status"], "%v", h)
		require.Equal(t, "hello from "+allowed, h["body"])
		require.NoError(t, s.stdin.Close())
		r := s.wait(t)
		require.NoError(t, r.err)
	})

	t.Run("startup time against the local build", func(t *testing.T) {
		// Both images are in the engine by now (the local one after the
		// first local run): warm runs, alternated, median of 3.
		runOnce := func(opts ...Option) time.Duration {
			start := time.Now()
			s := w.start(t, ref, append([]Option{WithEgressNetwork(egressNet), WithDocker(docker)}, opts...)...)
			d := time.Since(start)
			require.NoError(t, s.stdin.Close())
			require.NoError(t, s.wait(t).err)
			return d
		}
		local := []Option{WithFloor(floor("", "")), WithProxyBinary(bin)}
		runOnce(local...)
		var gw, lb []time.Duration
		for range 3 {
			gw = append(gw, runOnce(WithFloor(floor(signed.String(), right))))
			lb = append(lb, runOnce(local...))
		}
		slices.Sort(gw)
		slices.Sort(lb)
		t.Logf("run → initialize, median of 3 warm runs: signed gateway image %v %v, local build %v %v", gw[1], gw, lb[1], lb)
	})

	// Images the floor may name instead of the signed one.
	unsigned, err := pushDigest(gwTag.Context().String(), withLabel(t, gwImg, "unsigned-"+id))
	require.NoError(t, err)
	copied, err := pushDigest(gwTag.Context().String(), withLabel(t, gwImg, "copied-"+id))
	require.NoError(t, err)
	require.NoError(t, copySignature(signed, copied))

	refusals := []struct{ name, image, key string }{
		{"wrong key", signed.String(), pubPEM(t, otherKey(t))},
		{"a digest that is not the signed one, carrying its signature", copied.String(), right},
		{"unsigned", unsigned.String(), right},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			since := time.Now()
			var stderr bytes.Buffer
			_, err := Run(ctx, ref, WithVerifier(w.signer), WithStdio(strings.NewReader(""), io.Discard, &stderr), WithCacheDir(t.TempDir()),
				WithFloor(floor(tt.image, tt.key)), WithEgressNetwork(egressNet), WithDocker(docker))
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrRefused), "errors.Is(%v, ErrRefused)", err)
			require.Contains(t, err.Error(), "the gateway image "+w.reg+"/"+w.prefix+"/gateway@")
			require.Contains(t, err.Error(), "does not verify")
			require.Empty(t, createdSince(t, docker, since, pinned), "no container was created")
			_, err = docker.ImageInspect(ctx, tt.image)
			if tt.image != signed.String() {
				require.True(t, client.IsErrNotFound(err), "the refused image was never pulled: %v", err)
			}
		})
	}
}

// withLabel is img with one more label: another image, same binary.
func withLabel(t *testing.T, img v1.Image, value string) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	c := cfg.Config
	c.Labels = map[string]string{"dev.drydock.test": value}
	out, err := mutate.Config(img, c)
	require.NoError(t, err)
	return out
}

// createdSince lists the names of containers created since then for the
// server image pinned: the server itself, its proxy and its relay (named
// after the server, whose name comes from the image's repository). The
// engine's event log catches containers created and removed again.
func createdSince(t *testing.T, d *client.Client, since time.Time, pinned string) []string {
	t.Helper()
	dg, err := name.NewDigest(pinned)
	require.NoError(t, err)
	prefix := strings.TrimSuffix(containerName(&Verified{Digest: dg}), "-")
	prefix = prefix[:strings.LastIndex(prefix, "-")+1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, errs := d.Events(ctx, events.ListOptions{
		Since:   fmt.Sprint(since.Unix() - 1),
		Until:   fmt.Sprint(time.Now().Unix() + 1),
		Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionCreate))),
	})
	var out []string
	for {
		select {
		case m := <-msgs:
			// Since is in seconds: the earlier run's containers are older.
			if n := m.Actor.Attributes["name"]; m.TimeNano >= since.UnixNano() && strings.HasPrefix(n, prefix) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		case err := <-errs:
			if err != nil && !errors.Is(err, io.EOF) {
				require.NoError(t, err)
			}
			sort.Strings(out)
			return out
		}
	}
}
