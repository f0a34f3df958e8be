package build

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// ErrNeedsShell means the upstream starts through a shell script that the
// hardened image will not have a shell to run.
var ErrNeedsShell = errors.New("the entrypoint needs a shell")

var shells = []string{"sh", "bash", "dash", "ash", "zsh"}

// shellMeta are the characters that make a script more than one command
// with literal arguments; such a script cannot be turned into exec form.
var shellMeta = regexp.MustCompile("[$`;|&<>(){}*?\\[\\]~'\"\\\\#\n=]")

// ExecForm turns a start command of the form `sh -c "node index.js"` (what
// Nixpacks and many Dockerfiles write) into the exec form `node index.js`,
// so the server still starts once the shell is removed. It returns the
// command unchanged when it does not start with a shell, and ErrNeedsShell
// when the script is more than one plain command.
func ExecForm(entrypoint, cmd []string) (newEntrypoint, newCmd []string, rewritten bool, err error) {
	argv := append(append([]string{}, entrypoint...), cmd...)
	if len(argv) == 0 || !slices.Contains(shells, path.Base(argv[0])) {
		return entrypoint, cmd, false, nil
	}
	i := 1
	for i < len(argv) && strings.HasPrefix(argv[i], "-") && !strings.HasSuffix(argv[i], "c") {
		i++ // -l, -e and the like before -c
	}
	if i >= len(argv) || !isDashC(argv[i]) || i+1 >= len(argv) {
		return nil, nil, false, fmt.Errorf("%w: %q runs a shell without -c SCRIPT", ErrNeedsShell, strings.Join(argv, " "))
	}
	script := strings.TrimSpace(argv[i+1])
	if len(argv) > i+2 || script == "" || shellMeta.MatchString(script) {
		return nil, nil, false, fmt.Errorf("%w: %q is more than one plain command", ErrNeedsShell, script)
	}
	fields := strings.Fields(script)
	if fields[0] == "exec" {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return nil, nil, false, fmt.Errorf("%w: %q has no command", ErrNeedsShell, script)
	}
	return fields, nil, true, nil
}

func isDashC(a string) bool {
	return a == "-c" || (strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.HasSuffix(a, "c"))
}
