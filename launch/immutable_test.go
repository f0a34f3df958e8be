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
