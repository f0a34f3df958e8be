package rebase

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// fakeRegistry answers every request with status and a body of size
// bytes, and counts the requests that reach it.
type fakeRegistry struct {
	calls  int
	status int
	size   int
}

func (f *fakeRegistry) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls++
	body := strings.Repeat("x", f.size)
	h := http.Header{"Docker-Content-Digest": {"sha256:abc"}, "Content-Length": {strconv.Itoa(f.size)}}
	return &http.Response{StatusCode: f.status, Header: h, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(f.size), Request: r}, nil
}

func TestReadCache(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, method, url, rangeHdr string
		status, size                int
		wantCalls                   int // for two identical requests
	}{
		{"manifest by digest", "GET", "http://r/v2/a/b/manifests/" + digest, "", 200, 100, 1},
		{"blob by digest", "GET", "http://r/v2/a/blobs/" + digest, "", 200, 100, 1},
		{"manifest by tag", "GET", "http://r/v2/a/manifests/latest", "", 200, 100, 2},
		{"signature tag", "GET", "http://r/v2/a/manifests/sha256-0123.sig", "", 200, 100, 2},
		{"HEAD", "HEAD", "http://r/v2/a/manifests/" + digest, "", 200, 0, 2},
		{"range read", "GET", "http://r/v2/a/blobs/" + digest, "bytes=0-10", 200, 100, 2},
		{"not found", "GET", "http://r/v2/a/blobs/" + digest, "", 404, 10, 2},
		{"body over the bound", "GET", "http://r/v2/a/blobs/" + digest, "", 200, 16<<20 + 1, 2},
		{"body at the bound", "GET", "http://r/v2/a/blobs/" + digest, "", 200, 16 << 20, 1},
		{"upload path", "GET", "http://r/v2/a/blobs/uploads/" + digest, "", 200, 10, 2},
		{"not the registry API", "GET", "http://r/a/blobs/" + digest, "", 200, 10, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRegistry{status: tt.status, size: tt.size}
			c := newReadCache(f)
			for i := range 2 {
				req, err := http.NewRequest(tt.method, tt.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.rangeHdr != "" {
					req.Header.Set("Range", tt.rangeHdr)
				}
				resp, err := c.RoundTrip(req)
				if err != nil {
					t.Fatalf("RoundTrip() = %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status || len(body) != tt.size {
					t.Errorf("request %d: status %d, %d bytes; want %d, %d", i, resp.StatusCode, len(body), tt.status, tt.size)
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != "sha256:abc" {
					t.Errorf("request %d: Docker-Content-Digest = %q, want the registry's", i, got)
				}
			}
			if f.calls != tt.wantCalls {
				t.Errorf("requests reaching the registry = %d, want %d", f.calls, tt.wantCalls)
			}
		})
	}
}

// TestReadCacheKeys: the same digest in another repository or registry is
// another read (access is per repository), and the cache stops growing at
// its total bound.
func TestReadCacheKeys(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f := &fakeRegistry{status: 200, size: 5 << 20}
	c := newReadCache(f)
	get := func(url string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, u := range []string{"http://r/v2/a/blobs/", "http://r/v2/b/blobs/", "http://s/v2/a/blobs/"} {
		get(u + digest)
		get(u + digest)
	}
	if f.calls != 3 {
		t.Fatalf("requests = %d, want 3 (one per repository and registry)", f.calls)
	}
	for i := range 14 { // 14 × 5 MiB is over the 64 MiB bound
		get("http://r/v2/c" + strconv.Itoa(i) + "/blobs/" + digest)
	}
	if c.size > 64<<20 {
		t.Errorf("cache holds %d bytes, over its 64 MiB bound", c.size)
	}
	f.calls = 0
	get("http://r/v2/c13/blobs/" + digest)
	if f.calls != 1 {
		t.Errorf("a read past the bound was answered from memory (%d requests), want it fetched", f.calls)
	}
}

// TestReadCachePing: a registry's ping answer (200, or 401 with its
// challenge) is kept for the transport's life, per scheme and host; other
// answers, other hosts and requests with credentials reach the registry.
func TestReadCachePing(t *testing.T) {
	tests := []struct {
		name      string
		urls      [2]string
		auth      string
		status    int
		wantCalls int
		wantCode  int // of the second answer
	}{
		{"anonymous registry", [2]string{"http://r/v2/", "http://r/v2/"}, "", 200, 1, 200},
		{"token challenge", [2]string{"https://r/v2/", "https://r/v2/"}, "", 401, 1, 401},
		{"server error", [2]string{"http://r/v2/", "http://r/v2/"}, "", 500, 2, 500},
		{"other host", [2]string{"http://r/v2/", "http://s/v2/"}, "", 200, 2, 200},
		{"other scheme", [2]string{"http://r/v2/", "https://r/v2/"}, "", 200, 2, 200},
		{"with credentials", [2]string{"http://r/v2/", "http://r/v2/"}, "Bearer t", 200, 2, 200},
		{"catalog", [2]string{"http://r/v2/_catalog", "http://r/v2/_catalog"}, "", 200, 2, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRegistry{status: tt.status, size: 2}
			c := newReadCache(f)
			var last *http.Response
			for _, u := range tt.urls {
				req, err := http.NewRequest("GET", u, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				if last, err = c.RoundTrip(req); err != nil {
					t.Fatalf("RoundTrip() = %v", err)
				}
				b, _ := io.ReadAll(last.Body)
				if string(b) != "xx" {
					t.Errorf("body = %q, want %q", b, "xx")
				}
			}
			if f.calls != tt.wantCalls {
				t.Errorf("registry calls = %d, want %d", f.calls, tt.wantCalls)
			}
			if last.StatusCode != tt.wantCode || last.Header.Get("Docker-Content-Digest") != "sha256:abc" {
				t.Errorf("second answer = %d %v, want %d with the registry's headers", last.StatusCode, last.Header, tt.wantCode)
			}
		})
	}
}
