package mirror

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// placeholder is {{NAME}} or {{NAME?}} in a server arg; NAME is an
// environment variable name (drydock run --env NAME supplies the value).
var placeholder = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)(\?)?\}\}`)

// Placeholders lists the names arg's placeholders refer to, in order.
func Placeholders(arg string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(arg, -1) {
		names = append(names, m[1])
	}
	return names
}

// checkArg refuses braces that are not a whole placeholder, so a typo such
// as {{TOKEN}}} or {{ TOKEN }} is caught when the catalog is read, not when
// a server gets a mangled secret.
func checkArg(arg string) error {
	// A NUL marks where placeholders were, so "{{KEY}}}" leaves "\x00}".
	rest := placeholder.ReplaceAllString(arg, "\x00")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") || strings.Contains(rest, "\x00}") || strings.Contains(rest, "{\x00") {
		return errors.New("has braces that are not a {{NAME}} or {{NAME?}} placeholder (NAME: letters, digits, _)")
	}
	if strings.ContainsAny(arg, "\x00\n") { // checked on arg, not rest
		return fmt.Errorf("holds a NUL or newline")
	}
	return nil
}
