// Package scan matches an image's packages (from its SBOM, as purls)
// against an OSV-format vulnerability database on disk, offline, and
// applies OpenVEX statements to the findings.
package scan

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Advisory is the part of an OSV record (https://ossf.github.io/osv-schema/)
// that matching and severity need.
type Advisory struct {
	ID               string          `json:"id"`
	Aliases          []string        `json:"aliases"`
	Summary          string          `json:"summary"`
	Withdrawn        string          `json:"withdrawn"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity          []osvSeverity   `json:"severity"`
	Ranges            []osvRange      `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// DB is an OSV database loaded into memory, indexed by ecosystem and
// package name.
type DB struct {
	dir        string
	advisories int
	byPackage  map[key][]*Advisory
}

// key indexes advisories by base ecosystem ("Debian", not "Debian:12")
// and normalised package name.
type key struct{ ecosystem, name string }

// Len is the number of advisories loaded.
func (db *DB) Len() int { return db.advisories }

// Dir is the folder the database was loaded from.
func (db *DB) Dir() string { return db.dir }

// LoadDB reads every OSV record under dir: *.json files (one advisory
// each) and *.zip archives holding them, the layout of osv.dev's
// per-ecosystem exports (https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip).
// Withdrawn advisories are skipped. A folder with no advisory at all is
// an error, so a mistyped path never passes as "no vulnerabilities".
func LoadDB(dir string) (*DB, error) {
	db := &DB{dir: dir, byPackage: map[key][]*Advisory{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case strings.HasSuffix(path, ".json"):
			return db.addFile(path)
		case strings.HasSuffix(path, ".zip"):
			return db.addZip(path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading the vulnerability database %s: %w", dir, err)
	}
	if db.advisories == 0 {
		return nil, fmt.Errorf("loading the vulnerability database %s: no OSV advisory (*.json or osv.dev all.zip) found; see README, \"Vulnerability gate\", for how to fill it", dir)
	}
	return db, nil
}

func (db *DB) addFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return db.add(path, b)
}

func (db *DB) addZip(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("reading %s in %s: %w", f.Name, path, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading %s in %s: %w", f.Name, path, err)
		}
		if err := db.add(path+"!"+f.Name, b); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) add(where string, b []byte) error {
	var a Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("%s is not an OSV record: %w", where, err)
	}
	if a.ID == "" {
		return fmt.Errorf("%s is not an OSV record: it has no id", where)
	}
	if a.Withdrawn != "" {
		return nil
	}
	seen := map[key]bool{}
	for _, af := range a.Affected {
		k := key{baseEcosystem(af.Package.Ecosystem), normalizeName(baseEcosystem(af.Package.Ecosystem), af.Package.Name)}
		if k.name == "" || seen[k] {
			continue
		}
		seen[k] = true
		db.byPackage[k] = append(db.byPackage[k], &a)
	}
	db.advisories++
	return nil
}

// baseEcosystem drops the release suffix: "Debian:12" → "Debian".
func baseEcosystem(e string) string {
	b, _, _ := strings.Cut(e, ":")
	return b
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// normalizeName makes names that the ecosystem treats as equal equal:
// PyPI names per PEP 503, npm and PyPI case-insensitively.
func normalizeName(ecosystem, n string) string {
	switch ecosystem {
	case "PyPI":
		return pep503.ReplaceAllString(strings.ToLower(n), "-")
	case "npm":
		return strings.ToLower(n)
	}
	return n
}
