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
// (NAME=value, export NAME=value, export NAME, unset NAME), and those inside
// an `if [ TEST ]; then … fi` whose test drydock can decide from the image
// (see ifBlock). Other blocks and commands are not run: drydock never runs a
// shell, so it can only honour what it can read; each skipped line is
// reported in steps. stat finds a path in the image for -e/-f/-d tests.
func applyProfile(fsys fs.FS, file string, env *environ, runtime map[string]bool, stat func(string) (fs.FileInfo, error)) (steps []string, err error) {
	b, err := fs.ReadFile(fsys, fsName(file))
	if err != nil {
		return nil, nil // a missing profile file is what the shell skips too
	}
	depth, start := 0, 0
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
		if before == 0 && depth > 0 {
			start = i
		}
		if before > 0 && depth == 0 {
			s, n, err := applyBlock(file, start, lines[start:i+1], env, runtime, stat)
			steps, skipped = append(steps, s...), skipped+n
			if err != nil {
				return steps, err
			}
			continue
		}
		if before > 0 || depth > 0 || strings.Contains(line, "()") {
			if depth == 0 {
				skipped++ // a one-line function or block
			}
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
	if depth > 0 {
		skipped += len(lines) - start // an unclosed block: the shell would refuse the file
	}
	if skipped > 0 {
		steps = append(steps, fmt.Sprintf("%s: %d line(s) are not plain assignments (blocks, commands); not run", file, skipped))
	}
	return steps, nil
}

// ifBlock is the one block form drydock decides: `if [ TEST ]; then` on
// one line, plain lines, then `fi` (Nix installers guard their PATH lines
// this way: if [ -n "${HOME-}" ]; then export PATH=…; fi).
var ifBlock = regexp.MustCompile(`^if \[ (.+) \]; then$`)

// applyBlock applies the lines of a block that starts at index start of
// the file when it is an ifBlock whose test is decided true. It returns the
// steps and how many lines were not run (all of them when the test cannot
// be decided, or the block has else, elif or nested blocks).
func applyBlock(file string, start int, block []string, env *environ, runtime map[string]bool, stat func(string) (fs.FileInfo, error)) ([]string, int, error) {
	undecided := 0
	for _, l := range block {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			undecided++
		}
	}
	m := ifBlock.FindStringSubmatch(strings.TrimSpace(block[0]))
	if m == nil || strings.TrimSpace(block[len(block)-1]) != "fi" {
		return nil, undecided, nil
	}
	body := block[1 : len(block)-1]
	for _, l := range body {
		for _, w := range wordSep.Split(strings.TrimSpace(l), -1) {
			if openers[w] || closers[w] || w == "else" || w == "elif" || w == "then" {
				return nil, undecided, nil
			}
		}
	}
	val, ok := decideTest(m[1], env, runtime, stat)
	if !ok {
		return nil, undecided, nil
	}
	if !val {
		return []string{fmt.Sprintf("%s line %d: [ %s ] is false in the image; its block is not run", file, start+1, m[1])}, 0, nil
	}
	steps := []string{fmt.Sprintf("%s line %d: [ %s ] is true in the image; its block is read", file, start+1, m[1])}
	skipped := 0
	for j, l := range body {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		applied, err := applyLine(l, env, runtime)
		if err != nil {
			return steps, skipped, fmt.Errorf("%s line %d: %w", file, start+j+2, err)
		}
		if applied == "" {
			skipped++
			continue
		}
		steps = append(steps, fmt.Sprintf("%s line %d: %s", file, start+j+2, applied))
	}
	return steps, skipped, nil
}

// decideTest evaluates the test of `[ TEST ]` when it is -n or -z of a
// word, or -e, -f or -d of a path in the image; ok is false for anything
// else (including a word that expands to no field or to several, which
// changes what the test means, and a variable given at run time).
func decideTest(test string, env *environ, runtime map[string]bool, stat func(string) (fs.FileInfo, error)) (val, ok bool) {
	lx := &lexer{src: test, lookup: env.get, unsetEmpty: true, runtime: runtime}
	toks, err := lx.tokens()
	if err != nil || len(toks) != 2 || toks[0].op != "" || toks[1].op != "" || len(toks[0].fields) != 1 || len(toks[1].fields) != 1 {
		return false, false
	}
	op, arg := toks[0].fields[0], toks[1].fields[0]
	switch op {
	case "-n":
		return arg != "", true
	case "-z":
		return arg == "", true
	case "-e", "-f", "-d":
		if !path.IsAbs(arg) {
			return false, false // relative to a directory the login shell decides
		}
		fi, err := stat(arg)
		if err != nil {
			return false, true
		}
		return op == "-e" || op == "-f" && fi.Mode().IsRegular() || op == "-d" && fi.IsDir(), true
	}
	return false, false
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
