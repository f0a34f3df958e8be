package launch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// gatedVerifier holds each signature check until the engine has inspected
// a container, so the verdict surely comes after the early create, and
// logs when it was given.
type gatedVerifier struct {
	signature.Verifier
	log *engineLog
}

func (g gatedVerifier) VerifySignature(sig, msg io.Reader, opts ...signature.VerifyOption) error {
	select {
	case <-g.log.inspected:
	case <-time.After(20 * time.Second):
		return errors.New("no container was created and inspected while the signature was checked")
	}
	err := g.Verifier.VerifySignature(sig, msg, opts...)
	g.log.note("verdict", "")
	return err
}

// TestContainerMadeWhileVerifying: the container is created and checked
// while the signature is verified, started only after the verdict, and a
// refused image's container is never started and is removed.
func TestContainerMadeWhileVerifying(t *testing.T) {
	w := setup(t)
	ref := w.image(t, "overlap", policies.Default())
	pinned := digestOf(t, ref)
	// The engine has the image, as on every launch but the first: the
	// early create does not pull an image whose signature is unchecked.
	require.NoError(t, ensureImage(context.Background(), w.docker, pinned))

	t.Run("refused", func(t *testing.T) {
		log := newEngineLog(w.docker)
		_, err := Run(context.Background(), ref, WithVerifier(gatedVerifier{otherKey(t), log}), WithDocker(log),
			WithStdio(bytes.NewReader(nil), io.Discard, io.Discard), WithCacheDir(""))
		require.ErrorIs(t, err, attest.ErrRefused)
		calls, ids := callsOf(log.log())
		require.Equal(t, []string{"version", "create", "inspect", "verdict", "remove"}, withoutRepeats(calls), "engine calls")
		id := ids["create"]
		require.NotEmpty(t, id)
		require.Equal(t, id, ids["remove"], "the created container is the one removed")
		_, err = w.docker.ContainerInspect(context.Background(), id)
		require.True(t, client.IsErrNotFound(err), "container %s still exists: %v", id, err)
		require.Empty(t, w.containers(t, pinned))
	})

	t.Run("verified", func(t *testing.T) {
		log := newEngineLog(w.docker)
		s := w.start(t, ref, WithVerifier(gatedVerifier{w.signer, log}), WithDocker(log))
		require.Equal(t, "hi", echoText(t, s, "hi"))
		require.NoError(t, s.stdin.Close())
		r := s.wait(t)
		require.NoError(t, r.err)
		calls, ids := callsOf(log.log())
		require.Equal(t, []string{"version", "create", "inspect", "verdict", "attach", "start"}, withoutRepeats(calls), "engine calls")
		require.Equal(t, ids["create"], ids["start"], "the container checked early is the one started")
		w.waitGone(t, pinned)
	})
}

// callsOf returns the calls in order and the container id of each call's
// first occurrence.
func callsOf(events []event) ([]string, map[string]string) {
	var calls []string
	ids := map[string]string{}
	for _, e := range events {
		calls = append(calls, e.call)
		if _, ok := ids[e.call]; !ok {
			ids[e.call] = e.id
		}
	}
	return calls, ids
}

// withoutRepeats drops immediate repeats (the verifier is asked again to
// explain a refusal; ServerVersion is asked once per question).
func withoutRepeats(calls []string) []string {
	return slices.Compact(slices.Clone(calls))
}

// TestEgressMadeWhileVerifying: in allowlist mode the gateway, the relay
// and the server are created and checked while the signature is verified
// (the verdict is held until the first inspect); nothing starts before the verdict, a refused image's containers never
// start and are all removed, and the server starts after both the gateway
// and the relay.
func TestEgressMadeWhileVerifying(t *testing.T) {
	w := setup(t)
	bin := staticDrydock(t)
	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{"api.example.test:443"}}
	ref := w.image(t, "overlap-egress", p)
	pinned := digestOf(t, ref)
	require.NoError(t, ensureImage(context.Background(), w.docker, pinned))
	floor := policies.StrictFloor()
	floor.Network = policies.FloorNetwork{Modes: []string{policies.NetworkAllowlist}, Hosts: []string{"api.example.test:443"}}

	t.Run("refused", func(t *testing.T) {
		log := newEngineLog(w.docker)
		_, err := Run(context.Background(), ref, WithVerifier(gatedVerifier{otherKey(t), log}), WithDocker(log),
			WithFloor(floor), WithProxyBinary(bin), WithStdio(bytes.NewReader(nil), io.Discard, io.Discard), WithCacheDir(""))
		require.ErrorIs(t, err, attest.ErrRefused)
		var created []string
		removed := map[string]bool{}
		for _, e := range log.log() {
			switch e.call {
			case "start", "attach":
				t.Fatalf("%s of %s for a refused image", e.call, e.id)
			case "create":
				created = append(created, e.id)
			case "remove":
				removed[e.id] = true
			}
		}
		require.Len(t, created, 3, "gateway, relay and server created early")
		for _, id := range created {
			require.True(t, removed[id], "container %s removed", id)
			_, err := w.docker.ContainerInspect(context.Background(), id)
			require.True(t, client.IsErrNotFound(err), "container %s still exists: %v", id, err)
		}
	})

	t.Run("verified", func(t *testing.T) {
		log := newEngineLog(w.docker)
		s := w.start(t, ref, WithVerifier(gatedVerifier{w.signer, log}), WithDocker(log), WithFloor(floor), WithProxyBinary(bin))
		require.Equal(t, "hi", echoText(t, s, "hi"))
		require.NoError(t, s.stdin.Close())
		require.NoError(t, s.wait(t).err)
		events := log.log()
		verdict := slices.IndexFunc(events, func(e event) bool { return e.call == "verdict" })
		require.GreaterOrEqual(t, verdict, 0)
		var created, started []string
		for i, e := range events {
			switch e.call {
			case "create":
				created = append(created, e.id)
			case "start":
				require.Greater(t, i, verdict, "nothing starts before the verdict")
				started = append(started, e.id)
			}
		}
		require.Len(t, created, 3)
		require.Len(t, started, 3)
		// The server is the last created (it joins the relay's namespace)
		// and the last started.
		require.Equal(t, created[2], started[2])
		w.waitGone(t, pinned)
	})
}
