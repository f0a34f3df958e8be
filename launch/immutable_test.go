package launch

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestImmutableCache(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/v2/r/blobs/sha256:missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer srv.Close()
	c := &http.Client{Transport: newImmutableCache(http.DefaultTransport)}
	get := func(path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		path      string
		wantFetch int64 // requests reaching the server for two GETs
	}{
		{"/v2/r/manifests/sha256:abc", 1},
		{"/v2/r/blobs/sha256:def", 1},
		{"/v2/r/manifests/latest", 2}, // a tag can move: never cached
		{"/v2/", 2},
		{"/v2/r/blobs/sha256:missing", 2}, // errors are not remembered
	}
	// A manifest read by tag is remembered under the digest of its body:
	// the read by that digest is no request, a read by another digest is.
	t.Run("tag then digest", func(t *testing.T) {
		before := hits.Load()
		_, body := get("/v2/r/manifests/v1")
		require.Equal(t, "body of /v2/r/manifests/v1", body)
		_, again := get("/v2/r/manifests/sha256:" + tagBodyDigest)
		require.Equal(t, body, again)
		require.Equal(t, int64(1), hits.Load()-before)
		_, _ = get("/v2/r/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000")
		require.Equal(t, int64(2), hits.Load()-before)
	})
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			before := hits.Load()
			code1, body1 := get(tt.path)
			code2, body2 := get(tt.path)
			require.Equal(t, code1, code2)
			require.Equal(t, body1, body2)
			require.Equal(t, tt.wantFetch, hits.Load()-before)
		})
	}
}

// tagBodyDigest is sha256("body of /v2/r/manifests/v1").
const tagBodyDigest = "27c4ea0d64c4548044cfe9a78817b0ef5c158922ce03a7dd64177f8b6ad46b66"
