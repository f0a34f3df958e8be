package mirror

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/drydock-dev/drydock/policies"
)

// MetorialRegistry is where metorial/mcp-containers publishes its images.
const MetorialRegistry = "ghcr.io/metorial/mcp-container--"

// metorialManifest is the part of metorial's manifest.json drydock reads
// (catalog/<owner>/<repo>/<id>/manifest.json); other fields are ignored.
type metorialManifest struct {
	ID          string `json:"id"`
	FullID      string `json:"fullId"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Config      struct {
		ConfigValues []struct {
			Fields []struct {
				Type string `json:"type"`
				Key  string `json:"key"`
			} `json:"fields"`
		} `json:"configValues"`
	} `json:"config"`
}

var (
	envKey      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	notRepoChar = regexp.MustCompile(`[^a-z0-9._-]+`)
)

// ImportMetorial converts a checkout of metorial/mcp-containers (dir holds
// catalog/<owner>/<repo>/<id>/manifest.json) into a catalog: one server per
// manifest, named owner--repo--id, sourced from
// ghcr.io/metorial/mcp-container--owner--repo--id:latest (lowercase), with
// the environment variables its config declares allowed. metorial records
// no network needs, so every server keeps the default policy's network
// (none) until someone adds an allowlist. Notes lists what was left out.
func ImportMetorial(dir string) (c *Catalog, notes []string, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "catalog", "*", "*", "*", "manifest.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s has no catalog/<owner>/<repo>/<id>/manifest.json; give the root of a metorial/mcp-containers checkout", dir)
	}
	slices.Sort(files)
	c = &Catalog{APIVersion: policies.APIVersion, Kind: KindCatalog}
	for _, f := range files {
		s, n, err := metorialServer(dir, f)
		if err != nil {
			return nil, nil, err
		}
		c.Servers = append(c.Servers, s)
		notes = append(notes, n...)
	}
	return c, notes, nil
}

func metorialServer(dir, file string) (Server, []string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Server{}, nil, fmt.Errorf("reading %s: %w", file, err)
	}
	var m metorialManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Server{}, nil, fmt.Errorf("%s: not a metorial manifest: %w", file, err)
	}
	rel, _ := filepath.Rel(filepath.Join(dir, "catalog"), filepath.Dir(file))
	fullID := filepath.ToSlash(rel)
	if m.FullID != "" && m.FullID != fullID {
		return Server{}, nil, fmt.Errorf("%s: fullId %q does not match its place %s in the catalog", file, m.FullID, fullID)
	}
	id := strings.ToLower(strings.ReplaceAll(fullID, "/", "--"))
	s := Server{
		Name:        strings.Trim(notRepoChar.ReplaceAllString(id, "-"), "-._"),
		Source:      MetorialRegistry + id + ":latest",
		Title:       m.Title,
		Description: oneLine(m.Description),
	}
	var env, notes []string
	for _, cv := range m.Config.ConfigValues {
		for _, f := range cv.Fields {
			switch {
			case f.Type != "environment":
				notes = append(notes, fmt.Sprintf("%s: config field %q of type %s is not carried over (only environment variables are)", fullID, f.Key, f.Type))
			case !envKey.MatchString(f.Key):
				notes = append(notes, fmt.Sprintf("%s: %q is not an environment variable name; left out", fullID, f.Key))
			case !slices.Contains(env, f.Key):
				env = append(env, f.Key)
			}
		}
	}
	if len(env) > 0 {
		slices.Sort(env)
		s.Policy = &Overrides{Env: &Allow{Allow: env}}
	}
	return s, notes, nil
}
