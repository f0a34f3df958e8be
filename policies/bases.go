package policies

import (
	_ "embed"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Bases maps upstream runtimes to hardened bases (policies/bases.yaml).
type Bases struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Runtimes   []Runtime `json:"runtimes"`
}

// Runtime is one upstream runtime and the hardened base its images move onto.
type Runtime struct {
	Name string `json:"name"`
	// Base is the hardened base image reference.
	Base string `json:"base"`
	// Commands are entrypoint program names (basenames, a version suffix
	// such as "python3.11" also matches "python3") that mean this runtime.
	Commands []string `json:"commands,omitempty"`
	// Env are config environment variables that mean this runtime: a name
	// (set to anything) or NAME=VALUE (exactly that value, as Nixpacks'
	// NIXPACKS_METADATA=node).
	Env []string `json:"env,omitempty"`
	// Default marks the runtime used when nothing else matches.
	Default bool `json:"default,omitempty"`
	// UpstreamBases are known upstream base images; one whose layers are a
	// prefix of the upstream image's is taken as its base.
	UpstreamBases []string `json:"upstreamBases,omitempty"`
}

//go:embed bases.yaml
var defaultBasesYAML []byte

// DefaultBases returns the built-in bases file (policies/bases.yaml).
func DefaultBases() *Bases {
	b, err := parseBases(defaultBasesYAML, "policies/bases.yaml")
	if err != nil {
		panic(fmt.Sprintf("embedded bases file is invalid: %v", err))
	}
	return b
}

// LoadBases reads a bases file.
func LoadBases(file string) (*Bases, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading bases file: %w", err)
	}
	return parseBases(data, file)
}

func parseBases(data []byte, name string) (*Bases, error) {
	// UnmarshalStrict refuses duplicates too, but without the field path.
	if err := yamlDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var b Bases
	if err := yaml.UnmarshalStrict(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if b.APIVersion != APIVersion || b.Kind != "Bases" {
		return nil, fmt.Errorf("%s: want apiVersion %s and kind Bases, got %q and %q", name, APIVersion, b.APIVersion, b.Kind)
	}
	seen := map[string]bool{}
	defaults := 0
	for i, r := range b.Runtimes {
		switch {
		case r.Name == "":
			return nil, fmt.Errorf("%s: runtimes[%d].name: required", name, i)
		case seen[r.Name]:
			return nil, fmt.Errorf("%s: runtimes[%d].name: %q listed twice", name, i, r.Name)
		case r.Base == "":
			return nil, fmt.Errorf("%s: runtimes[%d].base: required (the hardened base for %s)", name, i, r.Name)
		}
		seen[r.Name] = true
		if r.Default {
			defaults++
		}
	}
	if defaults > 1 {
		return nil, fmt.Errorf("%s: more than one runtime has default: true", name)
	}
	return &b, nil
}

// Runtime returns the named runtime, or nil.
func (b *Bases) Runtime(name string) *Runtime {
	for i := range b.Runtimes {
		if b.Runtimes[i].Name == name {
			return &b.Runtimes[i]
		}
	}
	return nil
}

// Detect picks the runtime of an image from its entrypoint+cmd (the program
// run, or the first word of `sh -c "..."`), then its environment, then the
// default runtime. It returns nil when nothing matches and no default is
// set, and says why it chose what it chose.
func (b *Bases) Detect(entrypoint, cmd, env []string) (*Runtime, string) {
	if prog := Program(entrypoint, cmd); prog != "" {
		for i, r := range b.Runtimes {
			for _, c := range r.Commands {
				if prog == c || (strings.HasPrefix(prog, c) && strings.Trim(prog[len(c):], "0123456789.") == "") {
					return &b.Runtimes[i], fmt.Sprintf("entrypoint runs %s", prog)
				}
			}
		}
	}
	for i, r := range b.Runtimes {
		for _, e := range env {
			k, _, _ := strings.Cut(e, "=")
			if slices.Contains(r.Env, k) {
				return &b.Runtimes[i], fmt.Sprintf("config sets %s", k)
			}
			if slices.Contains(r.Env, e) {
				return &b.Runtimes[i], fmt.Sprintf("config sets %s", e)
			}
		}
	}
	for i, r := range b.Runtimes {
		if r.Default {
			return &b.Runtimes[i], "no runtime recognised; using the default"
		}
	}
	return nil, "no runtime recognised and the bases file has no default"
}

// Program is the basename of the program an image runs: argv[0] of
// entrypoint+cmd, looking through `sh -c "prog ..."` (with shell options
// before the script, as Nixpacks' `bash -l -c` or `bash -ol pipefail -c`),
// a leading `cd DIR &&`, and `env prog`.
func Program(entrypoint, cmd []string) string {
	argv := append(append([]string{}, entrypoint...), cmd...)
	for len(argv) > 0 {
		p := path.Base(argv[0])
		switch {
		case slices.Contains([]string{"sh", "bash", "dash", "ash"}, p):
			script, ok := shellScript(argv[1:])
			if !ok {
				return p
			}
			argv = strings.Fields(script)
		case p == "cd" && len(argv) > 2 && argv[2] == "&&":
			argv = argv[3:]
		case p == "env" || p == "exec" || p == "tini" || p == "dumb-init":
			argv = argv[1:]
			for len(argv) > 0 && (strings.HasPrefix(argv[0], "-") || strings.Contains(argv[0], "=")) {
				argv = argv[1:]
			}
		default:
			return p
		}
	}
	return ""
}

// shellScript finds the script of `sh [options] -c SCRIPT`: options such as
// -l, -e, -o pipefail (an option that takes a value) come before it, and -c
// may be combined with others (-lc).
func shellScript(args []string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c"):
			if strings.Contains(a, "o") {
				i++ // -oc NAME SCRIPT: o's value comes first
			}
			if i+1 < len(args) {
				return args[i+1], true
			}
			return "", false
		case (strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+")) && !strings.HasPrefix(a, "--") && strings.Contains(a, "o"):
			i++ // -o NAME, -ol NAME: the option's value
		case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
		default:
			return "", false // a script file, not -c
		}
	}
	return "", false
}
