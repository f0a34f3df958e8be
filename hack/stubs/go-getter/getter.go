// Package getter stands in for github.com/hashicorp/go-getter in drydock's
// build: syft refers to these names for downloads drydock never makes. See
// README.md beside this file.
package getter

import (
	"errors"
	"io"
	"net/http"
)

// ErrNoDownloads is what every download returns.
var ErrNoDownloads = errors.New("drydock is built without go-getter (hack/stubs/go-getter): downloads are not supported")

// Getter is any of the getters below.
type Getter interface{}

// HttpGetter carries syft's HTTP settings; it never fetches.
type HttpGetter struct {
	Client *http.Client
	Header http.Header
}

// The other default getters, by name only.
type (
	FileGetter struct{}
	GitGetter  struct{}
	GCSGetter  struct{}
	HgGetter   struct{}
	S3Getter   struct{}
)

// Decompressor is a decompressor of go-getter's; none is built in.
type Decompressor interface{}

// Decompressors names the archive kinds go-getter would unpack; syft reads
// only the names.
var Decompressors = map[string]Decompressor{
	"bz2": nil, "gz": nil, "xz": nil, "zip": nil, "zst": nil,
	"tar.bz2": nil, "tar.tbz2": nil, "tbz2": nil, "tar.gz": nil, "tgz": nil,
	"tar.xz": nil, "txz": nil, "tar.zst": nil, "tzst": nil,
}

// LimitedDecompressors returns Decompressors.
func LimitedDecompressors(int, int64) map[string]Decompressor { return Decompressors }

// ProgressTracker is go-getter's progress hook.
type ProgressTracker interface {
	TrackProgress(src string, currentSize, totalSize int64, stream io.ReadCloser) io.ReadCloser
}

// ClientOption configures a Client.
type ClientOption func(*Client) error

// WithProgress is accepted and ignored.
func WithProgress(ProgressTracker) ClientOption { return func(*Client) error { return nil } }

// WithDecompressors is accepted and ignored.
func WithDecompressors(map[string]Decompressor) ClientOption {
	return func(*Client) error { return nil }
}

// Client is go-getter's request.
type Client struct {
	Src, Dst string
	Dir      bool
	Getters  map[string]Getter
	Options  []ClientOption
}

// Get refuses: drydock makes no downloads through go-getter.
func (c *Client) Get() error { return ErrNoDownloads }
