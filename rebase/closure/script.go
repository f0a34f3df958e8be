package closure

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// binprmBuf is how much of a script the kernel reads for the #! line
// (BINPRM_BUF_SIZE).
const binprmBuf = 256

// script carries the interpreter of a #! script at image path p (fs name
// name). The kernel splits the line into the interpreter and at most one
// argument; for /usr/bin/env that argument names the real interpreter,
// found in PATH (or split by env -S).
func (c *collector) script(p, name string, depth int) error {
	if depth >= maxScriptDepth {
		return fmt.Errorf("%s: more than %d levels of #! interpreters", p, maxScriptDepth)
	}
	f, err := c.r.fsys.Open(name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	buf := make([]byte, binprmBuf)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	line := string(buf[:n])
	if !strings.HasPrefix(line, "#!") {
		return fmt.Errorf("%s is neither an ELF executable nor a #! script: it cannot be executed", p)
	}
	line, _, _ = strings.Cut(line[2:], "\n")
	line = strings.Trim(line, " \t\r")
	interp, arg, _ := strings.Cut(line, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	arg = strings.Trim(arg, " \t")
	if !strings.HasPrefix(interp, "/") {
		// the kernel opens a relative interpreter from the working
		// directory, which the closure cannot know
		return fmt.Errorf("%s: #! interpreter %q is not an absolute path", p, interp)
	}
	if err := c.executable(interp, depth+1); err != nil {
		return fmt.Errorf("interpreter of %s: %w", p, err)
	}
	if path.Base(interp) != "env" {
		return nil
	}
	prog := envProgram(arg)
	if prog == "" {
		return fmt.Errorf("%s: #!%s names no program", p, line)
	}
	if err := c.executable(prog, depth+1); err != nil {
		return fmt.Errorf("interpreter of %s (through %s): %w", p, interp, err)
	}
	return nil
}

// envProgram returns the program env runs given the single argument the
// kernel passes it: the whole argument, unless it starts with options (env
// -S splits it into words; then options and NAME=VALUE words are skipped).
func envProgram(arg string) string {
	if !strings.HasPrefix(arg, "-") {
		return arg
	}
	words := strings.Fields(arg)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-u" || w == "-C" || w == "--unset" || w == "--chdir":
			i++ // the option's value
		case strings.HasPrefix(w, "-"):
		case strings.Contains(w, "="):
		default:
			return w
		}
	}
	return ""
}
