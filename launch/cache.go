package launch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Offline verified launch. While verifying online, every registry response
// attest and launch read (the tag's manifest, the image manifest and config,
// the .sig manifest and its payload layers) is recorded. After a successful
// verification the recording is saved under the user's cache directory. When
// the registry is unreachable later, the same verification code runs again
// against the recording: digests are recomputed by go-containerregistry and
// signatures checked by attest with the given key. There is no cached "ok"
// bit to trust, and a tampered cache file fails like a tampered registry.

// maxRecordedBody bounds what is kept of one response: verification reads
// manifests, a config and small signature payloads, never layers.
const maxRecordedBody = 4 << 20

type recordedResponse struct {
	Method string      `json:"method"`
	Host   string      `json:"host"`
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body,omitempty"`
}

type cacheFile struct {
	Ref       string             `json:"ref"`
	Responses []recordedResponse `json:"responses"`
}

// recorder is an http.RoundTripper that remembers successful registry reads.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	resp []recordedResponse
}

var keptHeaders = []string{"Content-Type", "Docker-Content-Digest", "Content-Length"}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !registryRead(req) {
		return resp, err
	}
	rec := recordedResponse{Method: req.Method, Host: req.URL.Host, Path: req.URL.Path, Header: http.Header{}}
	for _, h := range keptHeaders {
		if v := resp.Header.Get(h); v != "" {
			rec.Header.Set(h, v)
		}
	}
	if req.Method == http.MethodHead {
		r.add(rec)
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) <= maxRecordedBody {
		rec.Body = body
		r.add(rec)
	}
	return resp, nil
}

func (r *recorder) add(rec recordedResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resp = append(r.resp, rec)
}

func registryRead(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	p := req.URL.Path
	return strings.HasPrefix(p, "/v2/") && (strings.Contains(p, "/manifests/") || strings.Contains(p, "/blobs/"))
}

// replay serves a recording as if it were the registry. Anything not
// recorded is a 404, so verification fails closed.
type replay struct {
	byKey map[string]recordedResponse
}

func newReplay(c *cacheFile) *replay {
	r := &replay{byKey: map[string]recordedResponse{}}
	for _, rec := range c.Responses {
		r.byKey[rec.Method+" "+rec.Host+rec.Path] = rec
	}
	return r
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}}
	if req.URL.Path == "/v2/" || req.URL.Path == "/v2" {
		// Ping: answer without an auth challenge; nothing here needs a token.
		resp.StatusCode, resp.Body = http.StatusOK, io.NopCloser(strings.NewReader("{}"))
		return resp, nil
	}
	rec, ok := r.byKey[req.Method+" "+req.URL.Host+req.URL.Path]
	if !ok && req.Method == http.MethodHead {
		// A HEAD can be answered from a recorded GET.
		rec, ok = r.byKey[http.MethodGet+" "+req.URL.Host+req.URL.Path]
		rec.Body = nil
	}
	if !ok {
		resp.StatusCode = http.StatusNotFound
		resp.Header.Set("Content-Type", "application/json")
		resp.Body = io.NopCloser(strings.NewReader(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not in drydock's offline cache"}]}`))
		return resp, nil
	}
	resp.StatusCode = http.StatusOK
	resp.Header = rec.Header.Clone()
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
		return resp, nil
	}
	resp.Header.Set("Content-Length", strconv.Itoa(len(rec.Body)))
	resp.ContentLength = int64(len(rec.Body))
	resp.Body = io.NopCloser(bytes.NewReader(rec.Body))
	return resp, nil
}

// DefaultCacheDir is where verified material is kept: the user's cache
// directory (e.g. ~/.cache/drydock/verified).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's cache directory: %w", err)
	}
	return filepath.Join(dir, "drydock", "verified"), nil
}

// cachePath names the cache file of a reference as the user wrote it, so a
// tag resolves offline to the digest it last verified as.
func cachePath(dir, ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".json")
}

func saveCache(dir, ref string, rec *recorder) error {
	rec.mu.Lock()
	c := cacheFile{Ref: ref, Responses: append([]recordedResponse(nil), rec.resp...)}
	rec.mu.Unlock()
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding the offline cache of %s: %w", ref, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating cache directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the offline cache of %s: %w", ref, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the offline cache of %s: %w", ref, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the offline cache of %s: %w", ref, err)
	}
	// Rename is atomic: concurrent runs never read half a file.
	if err := os.Rename(tmp.Name(), cachePath(dir, ref)); err != nil {
		return fmt.Errorf("writing the offline cache of %s: %w", ref, err)
	}
	return nil
}

func loadCache(dir, ref string) (*cacheFile, error) {
	data, err := os.ReadFile(cachePath(dir, ref))
	if err != nil {
		return nil, err
	}
	var c cacheFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("reading the offline cache of %s: %w", ref, err)
	}
	if c.Ref != ref {
		return nil, fmt.Errorf("the offline cache file of %s names %s", ref, c.Ref)
	}
	return &c, nil
}

// unreachable reports errors that mean the registry could not be talked to
// at all (as opposed to an answer, which is never a reason to go offline).
func unreachable(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return false
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || (errors.As(err, &ne) && ne.Timeout())
}
