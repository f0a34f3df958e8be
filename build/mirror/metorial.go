package mirror

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

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
		ArgumentsTemplate string `json:"argumentsTemplate"`
		ConfigValues      []struct {
			Required bool `json:"required"`
			Fields   []struct {
				Type string `json:"type"`
				Key  string `json:"key"`
			} `json:"fields"`
		} `json:"configValues"`
	} `json:"config"`
}

// metorialVersion is versions/<sha>/version.json: one build of the server
// at upstream commit <sha>, with the manifest and Nixpacks plan it used.
type metorialVersion struct {
	Version   string            `json:"version"`
	CreatedAt string            `json:"createdAt"`
	Manifest  *metorialManifest `json:"manifest"`
	Builder   []struct {
		Type string `json:"type"`
		Plan struct {
			Variables map[string]string `json:"variables"`
			Start     struct {
				Cmd      string `json:"cmd"`
				RunImage string `json:"runImage"`
			} `json:"start"`
		} `json:"plan"`
	} `json:"builder"`
}

// Kinds of import notes.
const (
	NoteCase       = "case"          // fullId and folder differ only in letter case
	NotePlace      = "place"         // manifest outside catalog/<owner>/<repo>/<id>/, or fullId names another place
	NoteDuplicate  = "duplicate"     // two folders publish the same image (case variants)
	NoteNoManifest = "no-manifest"   // versions without manifest.json: the newest version's manifest is used
	NoteNoVersion  = "no-version"    // a manifest metorial never built: no image to mirror, left out
	NoteBadFile    = "unreadable"    // a manifest or version.json that is not valid JSON, or an odd versions/ folder
	NoteNoPlan     = "no-plan"       // a version without a Nixpacks plan or start command
	NoteArgs       = "args"          // argumentsTemplate read with an interpretation worth reviewing
	NoteArgsOut    = "args-left-out" // a template or cli field drydock cannot turn into an arg
	NoteMount      = "mount"         // a directory argument became a declared mount
	NoteEnv        = "env"           // a config field that is not an environment variable name
	NoteFile       = "file"          // a file config field (not carried over)
)

// Note is one thing ImportMetorial interpreted or left out.
type Note struct {
	Server string // the folder under catalog/, or the fullId
	Kind   string // one of the Note* kinds
	Text   string
}

func (n Note) String() string { return fmt.Sprintf("%s: %s (%s)", n.Server, n.Text, n.Kind) }

var (
	envKey      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	notRepoChar = regexp.MustCompile(`[^a-z0-9._-]+`)
	commitSHA   = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	cliFlag     = regexp.MustCompile(`^--?[A-Za-z][A-Za-z0-9_.-]*$`)
	dockerEnv   = regexp.MustCompile(`^-e ([A-Za-z_][A-Za-z0-9_]*)$`)
	userFill    = regexp.MustCompile(`<[^<>]+>`)
)

// place is one server folder under catalog/: its manifest and versions.
type place struct {
	rel      string   // slash path under catalog/
	manifest string   // file, or "" when the folder has only versions
	versions []string // versions/*/version.json files
}

// ImportMetorial converts a checkout of metorial/mcp-containers into a
// catalog: one server per image metorial built, named owner--repo--id and
// sourced from ghcr.io/metorial/mcp-container--owner--repo--id:<commit>
// (lowercase), the newest version by its createdAt. Config becomes env
// allowances, args with {{NAME}} placeholders and declared mounts; the
// build plan's runtime and start command are recorded under upstream.
// metorial records no network needs, so every server keeps the default
// policy's network (none). Odd entries become notes, never an error; only
// a directory without a catalog is an error.
func ImportMetorial(dir string) (*Catalog, []Note, error) {
	places, err := metorialPlaces(filepath.Join(dir, "catalog"))
	if err != nil {
		return nil, nil, err
	}
	if len(places) == 0 {
		return nil, nil, fmt.Errorf("%s has no catalog/<owner>/<repo>/<id>/manifest.json; give the root of a metorial/mcp-containers checkout", dir)
	}
	c := &Catalog{APIVersion: policies.APIVersion, Kind: KindCatalog}
	var notes []Note
	byName := map[string]string{} // server name -> place that took it
	for _, p := range places {
		s, n := metorialServer(p)
		if s != nil {
			if first, dup := byName[s.Name]; dup {
				n = append(n, Note{p.rel, NoteDuplicate, fmt.Sprintf("publishes the same image as %s, which is kept", first)})
				s = nil
			} else {
				byName[s.Name] = p.rel
			}
		}
		if s != nil {
			for _, x := range n {
				s.Notes = append(s.Notes, x.Kind+": "+x.Text)
			}
			c.Servers = append(c.Servers, *s)
		}
		notes = append(notes, n...)
	}
	return c, notes, nil
}

// metorialPlaces walks catalog/ for manifest.json and
// versions/*/version.json files, grouped by server folder, sorted.
func metorialPlaces(root string) ([]*place, error) {
	byRel := map[string]*place{}
	get := func(rel string) *place {
		if byRel[rel] == nil {
			byRel[rel] = &place{rel: rel}
		}
		return byRel[rel]
	}
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			if file == root && os.IsNotExist(err) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, file)
		rel = filepath.ToSlash(rel)
		switch {
		case path.Base(rel) == "manifest.json":
			get(path.Dir(rel)).manifest = file
		case path.Base(rel) == "version.json" && path.Base(path.Dir(path.Dir(rel))) == "versions":
			p := get(path.Dir(path.Dir(path.Dir(rel))))
			p.versions = append(p.versions, file)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading metorial catalog %s: %w", root, err)
	}
	var out []*place
	for _, p := range byRel {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *place) int { return strings.Compare(a.rel, b.rel) })
	return out, nil
}

// metorialServer turns one folder into a server, or nil when there is no
// image to mirror; the notes say what was interpreted or left out.
func metorialServer(p *place) (*Server, []Note) {
	var notes []Note
	note := func(kind, format string, args ...any) {
		notes = append(notes, Note{p.rel, kind, fmt.Sprintf(format, args...)})
	}
	var m *metorialManifest
	if p.manifest != "" {
		m = &metorialManifest{}
		if err := readJSON(p.manifest, m); err != nil {
			note(NoteBadFile, "manifest.json: %v; left out", err)
			return nil, notes
		}
	}
	v, sha := newestVersion(p, note)
	if v == nil {
		if m != nil {
			note(NoteNoVersion, "no versions/<commit>/version.json: metorial never built an image for %s; left out", m.FullID)
		}
		return nil, notes
	}
	if m == nil {
		if v.Manifest == nil {
			note(NoteBadFile, "no manifest.json and version %s records none; left out", sha)
			return nil, notes
		}
		m = v.Manifest
		note(NoteNoManifest, "no manifest.json: using the manifest recorded with version %s", sha)
	}
	// metorial names the image after the folder (its build reads
	// catalog/<folder>/manifest.json), so the folder wins over fullId.
	id := p.rel
	switch {
	case strings.Count(p.rel, "/") != 2:
		id = m.FullID
		note(NotePlace, "manifest is at catalog/%s, not catalog/<owner>/<repo>/<id>/; named after its fullId %s", p.rel, m.FullID)
	case m.FullID == "" || m.FullID == p.rel:
	case strings.EqualFold(m.FullID, p.rel):
		note(NoteCase, "fullId %s differs from its folder only in case; the image name is lowercase either way", m.FullID)
	default:
		note(NotePlace, "fullId %s does not match its folder; named after the folder, as metorial's build does", m.FullID)
	}
	image := strings.ToLower(strings.ReplaceAll(id, "/", "--"))
	s := &Server{
		Name:        strings.Trim(notRepoChar.ReplaceAllString(image, "-"), "-._"),
		Source:      MetorialRegistry + image + ":" + sha,
		Title:       m.Title,
		Description: oneLine(m.Description),
		Upstream:    &Upstream{Version: sha, CreatedAt: v.CreatedAt},
	}
	switch {
	case len(v.Builder) == 0:
		note(NoteNoPlan, "version %s records no build plan; the start command is unknown", sha)
	default:
		b := v.Builder[0]
		s.Upstream.Runtime = b.Plan.Variables["NIXPACKS_METADATA"]
		s.Upstream.StartCommand = b.Plan.Start.Cmd
		s.Upstream.RunImage = b.Plan.Start.RunImage
		if b.Plan.Start.Cmd == "" {
			note(NoteNoPlan, "the %s plan of version %s sets no start command; the image runs the builder's default", b.Type, sha)
		}
	}
	cfg := mapConfig(m, s.Upstream.StartCommand, note)
	s.Args = cfg.args
	if len(cfg.env) > 0 || len(cfg.mounts) > 0 {
		s.Policy = &Overrides{Mounts: cfg.mounts}
		if len(cfg.env) > 0 {
			slices.Sort(cfg.env)
			s.Policy.Env = &Allow{Allow: cfg.env}
		}
	}
	return s, notes
}

// newestVersion reads the folder's versions and returns the newest by
// createdAt, with its commit (the folder name, which metorial tags with).
func newestVersion(p *place, note func(kind, format string, args ...any)) (*metorialVersion, string) {
	var best *metorialVersion
	var bestAt time.Time
	var bestSHA string
	for _, f := range p.versions {
		sha := filepath.Base(filepath.Dir(f))
		if !commitSHA.MatchString(sha) {
			note(NoteBadFile, "versions/%q is not a commit folder; skipped", sha)
			continue
		}
		var v metorialVersion
		if err := readJSON(f, &v); err != nil {
			note(NoteBadFile, "versions/%s/version.json: %v; skipped", sha, err)
			continue
		}
		at, err := time.Parse(time.RFC3339, v.CreatedAt)
		if err != nil {
			note(NoteBadFile, "versions/%s/version.json: createdAt %q is not an RFC 3339 time; skipped", sha, v.CreatedAt)
			continue
		}
		if v.Version != sha {
			note(NoteBadFile, "versions/%s/version.json says version %q; the folder name is used as the tag", sha, v.Version)
			v.Version = sha
		}
		if best == nil || at.After(bestAt) || (at.Equal(bestAt) && sha > bestSHA) {
			best, bestAt, bestSHA = &v, at, sha
		}
	}
	return best, bestSHA
}

func readJSON(file string, v any) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return nil
}
