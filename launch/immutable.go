package launch

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// immutableCache answers repeated GETs of content-addressed registry URLs
// (manifests and blobs by sha256 digest) from memory within one
// verification. Resolving, verifying and reading the label each fetch the
// same manifest, and go-containerregistry checks every body against its
// digest, so a repeat adds latency to a launch and nothing to its safety.
type immutableCache struct {
	base http.RoundTripper
	mu   sync.Mutex
	hits map[string]cachedResponse
}

type cachedResponse struct {
	header http.Header
	body   []byte
}

// maxCachedBody keeps signatures, manifests and configs, not layers.
const maxCachedBody = 4 << 20

func newImmutableCache(base http.RoundTripper) *immutableCache {
	return &immutableCache{base: base, hits: map[string]cachedResponse{}}
}

func cacheable(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return (strings.Contains(p, "/manifests/sha256:") || strings.Contains(p, "/blobs/sha256:")) && r.Header.Get("Range") == ""
}

func (c *immutableCache) RoundTrip(r *http.Request) (*http.Response, error) {
	if !cacheable(r) {
		return c.base.RoundTrip(r)
	}
	key := r.URL.String() + "\x00" + r.Header.Get("Accept")
	c.mu.Lock()
	hit, ok := c.hits[key]
	c.mu.Unlock()
	if ok {
		return hit.response(r), nil
	}
	resp, err := c.base.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || resp.StatusCode != http.StatusOK || resp.ContentLength > maxCachedBody {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) <= maxCachedBody {
		c.mu.Lock()
		c.hits[key] = cachedResponse{header: resp.Header.Clone(), body: body}
		c.mu.Unlock()
	}
	return resp, nil
}

func (h cachedResponse) response(r *http.Request) *http.Response {
	resp := &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h.header.Clone(), ContentLength: int64(len(h.body)), Request: r,
		Body: io.NopCloser(bytes.NewReader(h.body)),
	}
	if r.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
	return resp
}
