package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// cacheDir is ${XDG_CACHE_HOME:-~/.cache}/drydock/NAME, created.
func cacheDir(name string) (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		var err error
		if base, err = os.UserCacheDir(); err != nil {
			return "", fmt.Errorf("finding the cache directory: %w", err)
		}
	}
	dir := filepath.Join(base, "drydock", name)
	return dir, os.MkdirAll(dir, 0o755)
}
