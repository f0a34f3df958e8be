package launch

import (
	"fmt"
	"github.com/drydock-dev/drydock/internal/inputerr"
	"regexp"
)

// argPlaceholder is {{NAME}} (required) or {{NAME?}} (optional) in a
// server argument given after --; the catalog's args use the same syntax
// (build/mirror). NAME's value comes from drydock's environment when the
// run says --env NAME.
var argPlaceholder = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)(\?)?\}\}`)

// placeholderNames are the names args refer to.
func placeholderNames(args []string) map[string]bool {
	names := map[string]bool{}
	for _, a := range args {
		for _, m := range argPlaceholder.FindAllStringSubmatch(a, -1) {
			names[m[1]] = true
		}
	}
	return names
}

// fillArgs puts the values of vals into args' placeholders. An arg with an
// optional placeholder whose name has no value is left out; a required one
// is refused. The result goes only into the container's command, so a
// secret given this way never appears in drydock's argv, the image or the
// label; errors name the placeholder, never a value.
func fillArgs(args []string, vals map[string]string) ([]string, error) {
	if args == nil {
		return nil, nil
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		drop := false
		var missing string
		filled := argPlaceholder.ReplaceAllStringFunc(a, func(m string) string {
			sub := argPlaceholder.FindStringSubmatch(m)
			v, ok := vals[sub[1]]
			switch {
			case ok:
				return v
			case sub[2] == "?":
				drop = true
			case missing == "":
				missing = sub[1]
			}
			return m
		})
		if missing != "" {
			return nil, inputerr.New(func(n func(string) string) string {
				return fmt.Sprintf("argument %d (%s) needs the value of %s: pass %s %s and set %s in drydock's environment (the MCP client's env for this server)", i+1, a, missing, n("env"), missing, missing)
			}, nil, "env")
		}
		if !drop {
			out = append(out, filled)
		}
	}
	return out, nil
}

// isPlaceholderOnly says whether --env name only fills args: the policy
// does not allow it into the container's environment.
func isPlaceholderOnly(name string, names map[string]bool, allow []string) bool {
	if !names[name] {
		return false
	}
	for _, a := range allow {
		if a == name {
			return false
		}
	}
	return true
}
