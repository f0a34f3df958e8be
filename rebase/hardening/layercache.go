package hardening

import (
	"archive/tar"
	"bufio"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The layer cache keeps, per layer digest, what a hardening pass reads from
// a layer: every tar header in order and the content of the entries it may
// rewrite. Replaying it gives the same tree as reading the layer, without
// downloading and inflating it again. Layers are content-addressed, so an
// entry never goes stale; it lives in the user's own cache directory, with
// the same trust as BuildKit's or Docker's local state.

// passVersion names what a record means: the cachedEntry layout, which
// entries keep() holds content for, and that records are complete (every
// entry of the layer, in order). Bump it whenever one of those changes, so
// records an older pass wrote are never replayed by a newer one.
const passVersion = "v2-inodes"

// maxCachedLayerData bounds the content one cached layer may carry; a layer
// over it is not recorded at all.
const maxCachedLayerData = 64 << 20

type cachedEntry struct {
	Header tar.Header
	Data   []byte
}

// cachePath keys a record by layer digest, pass version and the settings
// that decide what a record holds. No Options field changes a record (they
// only change what the pass makes of the tree, or whether it refuses), so
// none is part of the key.
func cachePath(dir string, d v1.Hash) string {
	key := fmt.Sprintf("%s-%s.%s-max%d.gob", d.Algorithm, d.Hex, passVersion, maxCachedLayerData)
	return filepath.Join(dir, key)
}

// loadEntries returns the recorded entries of layer d, if any. A damaged
// file is a miss, not an error.
func loadEntries(dir string, d v1.Hash) ([]cachedEntry, bool) {
	f, err := os.Open(cachePath(dir, d))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var entries []cachedEntry
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&entries); err != nil {
		return nil, false
	}
	return entries, true
}

// saveEntries writes the entries beside their final name and renames, so a
// reader never sees half a file; failures are ignored (the cache is only
// an optimisation).
func saveEntries(dir string, d v1.Hash, entries []cachedEntry) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".layer-*.tmp")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if err := gob.NewEncoder(w).Encode(entries); err != nil {
		tmp.Close()
		return
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return
	}
	if err := tmp.Close(); err != nil {
		return
	}
	_ = os.Rename(tmp.Name(), cachePath(dir, d))
}
