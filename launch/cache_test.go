package launch

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"
)

// TestOfflineLaunch verifies online once (which fills the cache and the
// engine), takes the registry away, and launches again from the cache. Each
// tampering of the cached material must make the offline launch fail.
func TestOfflineLaunch(t *testing.T) {
	w := setup(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	reg := strings.TrimPrefix(srv.URL, "http://")
	ref := w.imageAt(t, reg, "offline", policies.Default())
	pinned := digestOf(t, ref)
	cache := t.TempDir()
	t.Cleanup(func() {
		_, _ = w.docker.ImageRemove(context.Background(), pinned, image.RemoveOptions{Force: true})
	})

	online := w.start(t, ref, WithCacheDir(cache))
	require.NoError(t, online.stdin.Close())
	require.NoError(t, online.wait(t).err)
	files, err := filepath.Glob(filepath.Join(cache, "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 1, "one cache file per verified reference")
	srv.Close()

	// Offline: the same reference (a tag) launches from the cache.
	s := w.start(t, ref, WithCacheDir(cache))
	require.Equal(t, "still here", echoText(t, s, "still here"))
	require.NoError(t, s.stdin.Close())
	require.NoError(t, s.wait(t).err)
	w.waitGone(t, pinned)

	pristine, err := os.ReadFile(files[0])
	require.NoError(t, err)
	tests := []struct {
		name    string
		opts    []Option
		tamper  func(c *cacheFile)
		wantErr string
	}{
		{name: "no cache at all", opts: []Option{WithCacheDir(t.TempDir())}, wantErr: "no verified copy"},
		{name: "another key", opts: []Option{WithVerifier(otherKey(t))}, wantErr: "do not verify"},
		{name: "label edited in the cached config", tamper: func(c *cacheFile) {
			edit(t, c, func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `\"memory\":\"512Mi\"`, `\"memory\":\"900Mi\"`, 1))
			}, `\"memory\":\"512Mi\"`)
		}, wantErr: "do not verify"},
		{name: "signature payload edited", tamper: func(c *cacheFile) {
			edit(t, c, func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"docker-manifest-digest"`, `"docker-manifest-digest" `, 1))
			}, `"docker-manifest-digest"`)
		}, wantErr: "do not verify"},
		{name: "cached ok bits are not a thing: responses removed", tamper: func(c *cacheFile) { c.Responses = nil }, wantErr: "do not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tamper != nil {
				var c cacheFile
				require.NoError(t, json.Unmarshal(pristine, &c))
				tt.tamper(&c)
				data, err := json.Marshal(c)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(files[0], data, 0o600))
				t.Cleanup(func() { require.NoError(t, os.WriteFile(files[0], pristine, 0o600)) })
			}
			opts := append([]Option{WithVerifier(w.signer), WithCacheDir(cache), WithStdio(strings.NewReader(""), &lockedBuffer{}, &lockedBuffer{})}, tt.opts...)
			_, err := Run(context.Background(), ref, opts...)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	require.Empty(t, w.containers(t, pinned))

	t.Run("image not in the engine", func(t *testing.T) {
		_, err := w.docker.ImageRemove(context.Background(), pinned, image.RemoveOptions{Force: true})
		require.NoError(t, err)
		_, err = Run(context.Background(), ref, WithVerifier(w.signer), WithCacheDir(cache), WithStdio(strings.NewReader(""), &lockedBuffer{}, &lockedBuffer{}))
		require.ErrorContains(t, err, "is not in the local container engine")
	})
}

// edit applies f to the one recorded body containing marker.
func edit(t *testing.T, c *cacheFile, f func([]byte) []byte, marker string) {
	t.Helper()
	for i, r := range c.Responses {
		if strings.Contains(string(r.Body), marker) {
			c.Responses[i].Body = f(r.Body)
			return
		}
	}
	t.Fatalf("no cached response contains %s", marker)
}
