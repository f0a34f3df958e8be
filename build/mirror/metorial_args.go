package mirror

import (
	"regexp"
	"slices"
	"strings"

	"github.com/drydock-dev/drydock/policies"
)

// metorialConfig is what a manifest's config becomes in the catalog.
type metorialConfig struct {
	args   []string
	env    []string
	mounts []policies.Mount
}

// mountRoot is where directory arguments are mounted in the container.
const mountRoot = "/mnt/"

var camelHump = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// mapConfig maps config.argumentsTemplate and the cli/environment fields:
//
//   - environment fields are allowed environment variables;
//   - the template is split on spaces into args; its {{NAME}} placeholders
//     are filled at run time from --env NAME; a first word equal to the
//     plan's start program is the program, not an argument, and is dropped;
//   - cli fields the template does not use become --flag={{ID_FLAG}}
//     ({{ID_FLAG?}} when optional), named after the server id so that a
//     generic flag such as --port never picks up an unrelated variable;
//   - a directory placeholder ({{DIR}}, {{DATA_DIR}}) becomes a declared
//     read-only mount at /mnt/<name> and the arg names that path, so the
//     host path is never part of the image or catalog.
func mapConfig(m *metorialManifest, startCommand string, note func(kind, format string, args ...any)) metorialConfig {
	var c metorialConfig
	type cliField struct {
		key      string
		required bool
	}
	var cli []cliField
	for _, cv := range m.Config.ConfigValues {
		for _, f := range cv.Fields {
			switch {
			case f.Type == "cli":
				cli = append(cli, cliField{f.Key, cv.Required})
			case f.Type == "file":
				note(NoteFile, "config field %q of type file is not carried over (declare a mount for it by hand)", f.Key)
			case f.Type != "environment":
				note(NoteEnv, "config field %q has unknown type %q; left out", f.Key, f.Type)
			case !envKey.MatchString(f.Key):
				note(NoteEnv, "%q is not an environment variable name; left out", f.Key)
			case !slices.Contains(c.env, f.Key):
				c.env = append(c.env, f.Key)
			}
		}
	}
	used := map[string]bool{} // cli keys the template accounts for
	if t := strings.TrimSpace(m.Config.ArgumentsTemplate); t != "" {
		words := strings.Fields(t)
		switch {
		case userFill.MatchString(t):
			note(NoteArgsOut, "argumentsTemplate %q asks for a value in <...> that has no variable name; no args", t)
			words = nil
		case startCommand != "" && words[0] == strings.Fields(startCommand)[0]:
			note(NoteArgs, "argumentsTemplate %q starts with the start command %s; that word is the program, not an argument, and is dropped", t, words[0])
			words = words[1:]
		}
		for _, w := range words {
			for _, f := range cli {
				switch {
				case f.key == "":
				case w == f.key && envKey.MatchString(w):
					// The template names a cli field bare (MONGODB_URI):
					// that is its value's placeholder.
					note(NoteArgs, "argumentsTemplate word %s is the name of a cli field; read as the placeholder {{%s}}", w, w)
					w = "{{" + w + "}}"
					used[f.key] = true
				case strings.Contains(w, f.key) || strings.Contains(w, "{{"+strings.Trim(f.key, "{}")+"}}"):
					used[f.key] = true
				}
			}
			if fixed := strings.ReplaceAll(w, "}}}", "}}"); fixed != w {
				note(NoteArgs, "argumentsTemplate word %q has a stray closing brace; read as %q", w, fixed)
				w = fixed
			}
			if err := checkArg(w); err != nil {
				note(NoteArgsOut, "argumentsTemplate word %q %v; left out", w, err)
				continue
			}
			c.args = append(c.args, c.mountDirs(w, true, note))
		}
	}
	for _, f := range cli {
		switch {
		case used[f.key]:
		case dockerEnv.MatchString(f.key):
			name := dockerEnv.FindStringSubmatch(f.key)[1]
			note(NoteArgs, "cli field %q is docker's -e syntax; allowed as the environment variable %s", f.key, name)
			if !slices.Contains(c.env, name) {
				c.env = append(c.env, name)
			}
		case !cliFlag.MatchString(f.key):
			note(NoteArgsOut, "cli field %q is not a --flag and the argumentsTemplate does not use it; left out", f.key)
		default:
			name := upperSnake(m.ID) + "_" + upperSnake(f.key)
			if isDirName(upperSnake(f.key)) {
				c.args = append(c.args, c.mountDirs(f.key+"={{"+upperSnake(f.key)+"}}", f.required, note))
				continue
			}
			opt := "?"
			if f.required {
				opt = ""
			}
			c.args = append(c.args, f.key+"={{"+name+opt+"}}")
		}
	}
	c.args = slices.DeleteFunc(c.args, func(a string) bool { return a == "" })
	return c
}

// mountDirs replaces directory placeholders in arg by a declared mount's
// target. An optional directory flag is not added as an arg (the server
// would get a path that exists only when mounted); its mount is declared
// and the note says how to use it.
func (c *metorialConfig) mountDirs(arg string, required bool, note func(kind, format string, args ...any)) string {
	out := arg
	for _, n := range Placeholders(arg) {
		if !isDirName(n) {
			continue
		}
		target := mountRoot + strings.ReplaceAll(strings.ToLower(n), "_", "-")
		out = strings.ReplaceAll(out, "{{"+n+"}}", target)
		if !slices.ContainsFunc(c.mounts, func(m policies.Mount) bool { return m.Target == target }) {
			c.mounts = append(c.mounts, policies.Mount{Target: target, ReadOnly: true, Required: required})
		}
		if required {
			note(NoteMount, "directory placeholder {{%s}} became the declared mount %s (read-only; give drydock run --mount SRC:%s)", n, target, target)
		} else {
			note(NoteMount, "optional directory flag %s: declared the mount %s (not required) but added no arg; add %q to args to use it", arg, target, out)
			return ""
		}
	}
	return out
}

// isDirName says whether a placeholder name stands for a directory.
func isDirName(n string) bool {
	return n == "DIR" || n == "DIRECTORY" || strings.HasSuffix(n, "_DIR") || strings.HasSuffix(n, "_DIRECTORY")
}

// upperSnake turns an id or flag (--api-key, --apiKey, mcp-k-8-s) into an
// environment variable name part (API_KEY, MCP_K_8_S).
func upperSnake(s string) string {
	s = camelHump.ReplaceAllString(strings.TrimLeft(s, "-"), "${1}_${2}")
	s = strings.ToUpper(strings.Trim(notEnvChar.ReplaceAllString(s, "_"), "_"))
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "MCP_" + s
	}
	return s
}

var notEnvChar = regexp.MustCompile(`[^A-Za-z0-9]+`)
