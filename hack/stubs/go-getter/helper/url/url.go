// Package url is go-getter's URL helper (stub): net/url's parser.
package url

import "net/url"

// Parse parses rawURL with net/url.
func Parse(rawURL string) (*url.URL, error) { return url.Parse(rawURL) }
