package rebase

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
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
	status int
	header http.Header
	body   []byte
}

// maxPingBody bounds a kept ping answer.
const maxPingBody = 64 << 10

// isPing: go-containerregistry's ping (GET /v2/ without credentials), which
// it makes again for every repository and scope it authenticates: each
// image read, each push, and each cross-repository mount (which widens the
// scope). Its answer (200, or 401 with the challenge naming the token
// service) does not change during one harden or one mirror run, so it is
// kept, per scheme and host, for as long as the transport is used.
func isPing(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/v2/" && r.Header.Get("Authorization") == ""
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
	if isPing(r) {
		return c.ping(r)
	}
	if !cacheable(r) {
		return c.next.RoundTrip(r)
	}
	key := r.URL.String()
	if hit, ok := c.get(key); ok {
		return hit.response(r), nil
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
		c.put(key, cachedBody{status: http.StatusOK, header: resp.Header.Clone(), body: body})
	}
	return resp, nil
}

// ping answers a ping from the first answer of 200 or 401 its registry
// gave; other answers and errors are not kept.
func (c *readCache) ping(r *http.Request) (*http.Response, error) {
	key := "ping " + r.URL.String()
	if hit, ok := c.get(key); ok {
		return hit.response(r), nil
	}
	resp, err := c.next.RoundTrip(r)
	if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPingBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) <= maxPingBody {
		c.put(key, cachedBody{status: resp.StatusCode, header: resp.Header.Clone(), body: body})
	}
	return resp, nil
}

func (c *readCache) get(key string) (cachedBody, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hit, ok := c.m[key]
	return hit, ok
}

// response is a fresh response to r from a kept answer.
func (b cachedBody) response(r *http.Request) *http.Response {
	return &http.Response{
		Status: strconv.Itoa(b.status) + " " + http.StatusText(b.status), StatusCode: b.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: b.header.Clone(), Body: io.NopCloser(bytes.NewReader(b.body)),
		ContentLength: int64(len(b.body)), Request: r,
	}
}

func (c *readCache) room(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(c.size)+n <= maxCachedTotal
}

func (c *readCache) put(key string, b cachedBody) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok || c.size+len(b.body) > maxCachedTotal {
		return
	}
	c.m[key] = b
	c.size += len(b.body)
}
