package startcmd

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// loginFiles lists the files a login shell reads, in order: bash reads the
// first of ~/.bash_profile, ~/.bash_login, ~/.profile; sh reads ~/.profile.
// /etc/profile.d/*.sh are read when /etc/profile loops over them, as
// Debian's and Ubuntu's does.
func loginFiles(fsys fs.FS, shell, home string) []string {
	files := []string{"/etc/profile"}
	if b, err := fs.ReadFile(fsys, "etc/profile"); err == nil && strings.Contains(string(b), "/etc/profile.d") {
		if m, err := fs.Glob(fsys, "etc/profile.d/*.sh"); err == nil {
			for _, f := range m {
				files = append(files, "/"+f)
			}
		}
	}
	personal := []string{".profile"}
	if shell == "bash" {
		personal = []string{".bash_profile", ".bash_login", ".profile"}
	}
	for _, p := range personal {
		f := path.Join(home, p)
		if _, err := fs.Stat(fsys, fsName(f)); err == nil {
			files = append(files, f)
			break
		}
	}
	return files
}

var (
	openers = map[string]bool{"if": true, "case": true, "for": true, "while": true, "until": true, "{": true}
	closers = map[string]bool{"fi": true, "esac": true, "done": true, "}": true}
	wordSep = regexp.MustCompile(`[\s;&|]+`)
)

// applyProfile applies the top-level assignments of one profile file to env
// (NAME=value, export NAME=value, export NAME, unset NAME). Lines inside
// if/for/case/while blocks and other commands are not run: drydock never
// runs a shell, so it can only honour what it can read; each skipped line
// is reported in steps.
func applyProfile(fsys fs.FS, file string, env *environ, runtime map[string]bool) (steps []string, err error) {
	b, err := fs.ReadFile(fsys, fsName(file))
	if err != nil {
		return nil, nil // a missing profile file is what the shell skips too
	}
	depth := 0
	lines := strings.Split(strings.ReplaceAll(string(b), "\\\n", ""), "\n")
	skipped := 0
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		before := depth
		for _, w := range wordSep.Split(line, -1) {
			switch {
			case openers[w]:
				depth++
			case closers[w] && depth > 0:
				depth--
			}
		}
		if before > 0 || depth > 0 || strings.Contains(line, "()") {
			skipped++
			continue
		}
		applied, err := applyLine(line, env, runtime)
		if err != nil {
			return steps, fmt.Errorf("%s line %d: %w", file, i+1, err)
		}
		if applied != "" {
			steps = append(steps, fmt.Sprintf("%s line %d: %s", file, i+1, applied))
		} else {
			skipped++
		}
	}
	if skipped > 0 {
		steps = append(steps, fmt.Sprintf("%s: %d line(s) are not plain assignments (blocks, commands); not run", file, skipped))
	}
	return steps, nil
}

// applyLine applies one top-level line; it returns what it did, or "" when
// the line is a command rather than an assignment.
func applyLine(line string, env *environ, runtime map[string]bool) (string, error) {
	fields := strings.Fields(line)
	isExport := fields[0] == "export"
	isUnset := fields[0] == "unset"
	if !isExport && !isUnset && !assignRE.MatchString(line) {
		return "", nil
	}
	lx := &lexer{src: line, lookup: env.get, unsetEmpty: true, runtime: runtime}
	toks, err := lx.tokens()
	if err != nil {
		return "", err
	}
	if isExport || isUnset {
		toks = toks[1:]
	}
	for _, t := range toks {
		switch {
		case t.op != "" && (isExport || isUnset):
			return "", lx.fail(reasonFor(t.op))
		case t.op != "":
			return "", nil // NAME=x cmd || true: a command, not ours to run
		case t.assign == "" && !isExport && !isUnset:
			return "", nil // NAME=x cmd: the assignment is for cmd only
		}
	}
	var done []string
	for _, t := range toks {
		switch {
		case isUnset:
			for _, n := range t.fields {
				env.unset(n)
				done = append(done, "unset "+n)
			}
		case t.assign != "":
			env.set(t.assign, t.value, isExport)
			done = append(done, t.assign+"="+t.value)
		case isExport:
			for _, n := range t.fields {
				env.export(n)
				done = append(done, "export "+n)
			}
		}
	}
	return strings.Join(done, " "), nil
}
