package launch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	if tag, ok := manifestByTag(r); ok {
		return c.seed(r, tag)
	}
	if !cacheable(r) {
		return c.base.RoundTrip(r)
	}
	// The URL alone is the key: what a digest names is the same whatever
	// the Accept header says (ggcr hashes it, not its media type).
	key := r.URL.String()
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

// manifestByTag reports a GET of a manifest by tag and returns the tag.
func manifestByTag(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet || r.Header.Get("Range") != "" {
		return "", false
	}
	i := strings.LastIndex(r.URL.Path, "/manifests/")
	if i < 0 {
		return "", false
	}
	tag := r.URL.Path[i+len("/manifests/"):]
	return tag, tag != "" && !strings.Contains(tag, ":")
}

// seed fetches a manifest by tag, never from the cache (a tag can move),
// and remembers its body under the digest it hashes to, so that reading
// the same manifest by digest next (the config read, the pull check) is
// no second round trip. The digest is computed here, not taken from the
// registry's header.
func (c *immutableCache) seed(r *http.Request, tag string) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength > maxCachedBody {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > maxCachedBody {
		return resp, nil
	}
	sum := sha256.Sum256(body)
	u := *r.URL
	u.Path = strings.TrimSuffix(u.Path, tag) + "sha256:" + hex.EncodeToString(sum[:])
	u.RawPath = ""
	h := resp.Header.Clone()
	h.Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
	c.mu.Lock()
	c.hits[u.String()] = cachedResponse{header: h, body: body}
	c.mu.Unlock()
	return resp, nil
}
