package rebase

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Bounds of the read cache: a body is kept only when it is small (manifests,
// configs, small layers) and while the cache holds less than the total.
const (
	maxCachedBody  = 16 << 20
	maxCachedTotal = 64 << 20
)

// NewReadCache wraps next so that repeated GETs of content-addressed
// registry objects (manifests and blobs named by sha256 digest) are
// answered from memory for as long as the returned transport is used: one
// harden, or one mirror run. A harden reads the upstream's layers up to
// three times (the hardening pass, then the start command's view of the
// result and of the upstream), and in a mirror every entry reads the same
// bases while planning, hardening and signing each read the upstream
// again. Bodies up to 16 MiB are kept, 64 MiB in all; larger ones stream
// through.
func NewReadCache(next http.RoundTripper) http.RoundTripper { return newReadCache(next) }

// readCache is NewReadCache's transport. What a digest names never changes, and
// go-containerregistry checks every manifest and blob it reads by digest
// against that digest, so a cached body is as trustworthy as a fresh one.
// Keys are whole URLs (registry, repository and digest): a read is only
// answered for the repository it was made from.
type readCache struct {
	next http.RoundTripper
	mu   sync.Mutex
	m    map[string]cachedBody
	size int
}

type cachedBody struct {
	header http.Header
	body   []byte
}

func newReadCache(next http.RoundTripper) *readCache {
	return &readCache{next: next, m: map[string]cachedBody{}}
}

// cacheable: a plain GET of /v2/<repo>/{manifests,blobs}/sha256:<hex>.
func cacheable(r *http.Request) bool {
	if r.Method != http.MethodGet || r.Header.Get("Range") != "" {
		return false
	}
	p := r.URL.Path
	i := strings.LastIndex(p, "/")
	if i < 0 || !strings.HasPrefix(p[i+1:], "sha256:") {
		return false
	}
	dir := p[:i]
	return strings.HasPrefix(p, "/v2/") && (strings.HasSuffix(dir, "/manifests") || strings.HasSuffix(dir, "/blobs"))
}

func (c *readCache) RoundTrip(r *http.Request) (*http.Response, error) {
	if !cacheable(r) {
		return c.next.RoundTrip(r)
	}
	key := r.URL.String()
	c.mu.Lock()
	hit, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: hit.header.Clone(), Body: io.NopCloser(bytes.NewReader(hit.body)),
			ContentLength: int64(len(hit.body)), Request: r,
		}, nil
	}
	resp, err := c.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength < 0 || resp.ContentLength > maxCachedBody || !c.room(resp.ContentLength) {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, resp.ContentLength+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if int64(len(body)) == resp.ContentLength {
		c.put(key, resp.Header.Clone(), body)
	}
	return resp, nil
}

func (c *readCache) room(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(c.size)+n <= maxCachedTotal
}

func (c *readCache) put(key string, h http.Header, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok || c.size+len(body) > maxCachedTotal {
		return
	}
	c.m[key] = cachedBody{header: h, body: body}
	c.size += len(body)
}
