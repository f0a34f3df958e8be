package startcmd

import (
	"fmt"
	"regexp"
	"strings"
)

// NeedsShellError means a start command (or a profile line) uses a shell
// feature that an exec-form entrypoint cannot reproduce.
type NeedsShellError struct {
	Command string // the command or line as written
	Reason  string // what in it needs a shell
}

func (e *NeedsShellError) Error() string {
	return fmt.Sprintf("start command %q needs a shell: %s; give the image an exec-form entrypoint or a start command without it", e.Command, e.Reason)
}

// token is one word or operator of a command line.
type token struct {
	op     string   // "&&", "|", ... when the token is an operator
	fields []string // the fields the word expands to (none, one or several)
	assign string   // NAME when the word is written NAME=... with a literal name
	value  string   // the expanded value after NAME=
}

var assignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// operators maps the characters that start a shell operator to why they
// need a shell; longer operators come first so that "&&" wins over "&".
var operators = []struct{ op, reason string }{
	{"&&", "it runs a second command after the first (&&)"},
	{"||", "it runs a second command when the first fails (||)"},
	{";;", "it is a case statement"},
	{"|", "it pipes one command into another (|)"},
	{";", "it runs several commands (;)"},
	{"&", "it runs a command in the background (&)"},
	{">", "it redirects output (>)"},
	{"<", "it redirects input (<)"},
	{"(", "it runs a subshell or function (( ))"},
	{")", "it runs a subshell or function (( ))"},
	{"\n", "it has several lines"},
}

// lexer splits a command line into tokens the way sh does, expanding only
// literal text, quotes and simple $NAME / ${NAME}.
type lexer struct {
	src    string
	lookup func(name string) (string, bool)
	// unsetEmpty makes an unset variable expand to "" (profile files rely on
	// it); otherwise an unset variable is refused, because its value would
	// come from the container's environment at run time.
	unsetEmpty bool
	// runtime names variables whose value is given at run time (the policy's
	// env allow list); referring to them needs a shell whatever the image says.
	runtime map[string]bool
}

func (l *lexer) fail(reason string) error {
	return &NeedsShellError{Command: strings.TrimSpace(l.src), Reason: reason}
}

// tokens lexes the whole line.
func (l *lexer) tokens() ([]token, error) {
	var out []token
	s := l.src
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
			continue
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2 // line continuation
			continue
		}
		if op, ok := l.operatorAt(i); ok {
			out = append(out, token{op: op})
			i += len(op)
			continue
		}
		if c == '#' {
			return nil, l.fail("it has a comment (#)")
		}
		t, n, err := l.word(i)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		i = n
	}
	return out, nil
}

func (l *lexer) operatorAt(i int) (string, bool) {
	for _, o := range operators {
		if strings.HasPrefix(l.src[i:], o.op) {
			return o.op, true
		}
	}
	return "", false
}

// reasonFor says why an operator needs a shell.
func reasonFor(op string) string {
	for _, o := range operators {
		if o.op == op {
			return o.reason
		}
	}
	return "it uses " + op
}

// word lexes one word starting at i and returns the index after it.
func (l *lexer) word(i int) (token, int, error) {
	s := l.src
	w := &wordBuilder{}
	var t token
	if m := assignRE.FindString(s[i:]); m != "" {
		t.assign = m[:len(m)-1]
	}
	start := i
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' {
			break
		}
		if _, ok := l.operatorAt(i); ok {
			break
		}
		switch c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return t, 0, l.fail("it has an unterminated ' quote")
			}
			w.quoted(s[i+1 : i+1+j])
			i += j + 2
		case '"':
			n, err := l.doubleQuoted(w, i+1)
			if err != nil {
				return t, 0, err
			}
			i = n
		case '\\':
			if i+1 >= len(s) {
				return t, 0, l.fail("it ends with a backslash")
			}
			w.quoted(s[i+1 : i+2])
			i += 2
		case '$':
			v, n, err := l.expansion(i)
			if err != nil {
				return t, 0, err
			}
			if strings.ContainsAny(v, "*?[") {
				return t, 0, l.fail(fmt.Sprintf("the value of %s has glob characters, which the shell would expand", s[i:n]))
			}
			w.unquoted(v)
			i = n
		case '`':
			return t, 0, l.fail("it uses command substitution (`...`)")
		case '*', '?', '[':
			return t, 0, l.fail(fmt.Sprintf("it uses a glob (%c) the shell would expand", c))
		case '~':
			if i == start || (t.assign != "" && i == start+len(t.assign)+1) {
				return t, 0, l.fail("it uses tilde expansion (~)")
			}
			w.literal(c)
			i++
		case '{', '}':
			if j := strings.IndexByte(s[i:], '}'); c == '{' && j > 0 && (strings.Contains(s[i:i+j], ",") || strings.Contains(s[i:i+j], "..")) {
				return t, 0, l.fail("it uses brace expansion ({...})")
			}
			w.literal(c)
			i++
		default:
			w.literal(c)
			i++
		}
	}
	t.fields = w.done()
	if t.assign != "" {
		t.value = strings.Join(t.fields, " ")
		t.value = strings.TrimPrefix(t.value, t.assign+"=")
	}
	return t, i, nil
}

// doubleQuoted reads a "..." body starting after the opening quote.
func (l *lexer) doubleQuoted(w *wordBuilder, i int) (int, error) {
	s := l.src
	w.quoted("")
	for i < len(s) {
		c := s[i]
		switch c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
				w.quoted(s[i+1 : i+2])
				i += 2
				continue
			}
			w.quoted("\\")
			i++
		case '$':
			v, n, err := l.expansion(i)
			if err != nil {
				return 0, err
			}
			w.quoted(v)
			i = n
		case '`':
			return 0, l.fail("it uses command substitution (`...`)")
		default:
			w.quoted(s[i : i+1])
			i++
		}
	}
	return 0, l.fail(`it has an unterminated " quote`)
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// expansion reads $NAME or ${NAME} at i and returns its value.
func (l *lexer) expansion(i int) (string, int, error) {
	s := l.src[i+1:]
	var name string
	n := i + 1
	switch {
	case strings.HasPrefix(s, "(("):
		return "", 0, l.fail("it uses arithmetic expansion ($((...)))")
	case strings.HasPrefix(s, "("):
		return "", 0, l.fail("it uses command substitution ($(...))")
	case strings.HasPrefix(s, "{"):
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", 0, l.fail("it uses a parameter expansion other than ${NAME}")
		}
		name = nameRE.FindString(s[1:end])
		rest := s[1+len(name) : end]
		// Profile files (unsetEmpty) may read a maybe-unset variable with a
		// default; a start command's default would stand for a value given
		// at run time, which exec form cannot read.
		if name == "" || rest != "" && (!l.unsetEmpty || !defaultRE.MatchString(rest)) {
			return "", 0, l.fail("it uses a parameter expansion other than ${NAME}")
		}
		n += end + 1
		if rest != "" {
			return l.withDefault(name, rest, n)
		}
	default:
		name = nameRE.FindString(s)
		if name == "" {
			if s == "" || s[0] == ' ' || s[0] == '"' {
				return "$", n, nil // a lone $ is literal
			}
			return "", 0, l.fail(fmt.Sprintf("it uses the special parameter $%c", s[0]))
		}
		n += len(name)
	}
	if l.runtime[name] {
		return "", 0, l.fail(fmt.Sprintf("it uses $%s, which is given at run time; exec form cannot read it", name))
	}
	v, ok := l.lookup(name)
	if !ok && !l.unsetEmpty {
		return "", 0, l.fail(fmt.Sprintf("it uses $%s, which the image does not set; its value would come from the container's environment at run time", name))
	}
	return v, n, nil
}

// defaultRE is the literal default of ${NAME-word} / ${NAME:-word} (the
// form profile files use to read a variable that may be unset).
var defaultRE = regexp.MustCompile(`^:?-[A-Za-z0-9_./:@%+,=-]*$`)

// withDefault expands ${NAME-word} (word when NAME is unset) and
// ${NAME:-word} (also when it is empty) in a profile file. n is the index
// after the brace.
func (l *lexer) withDefault(name, rest string, n int) (string, int, error) {
	if l.runtime[name] {
		return "", 0, l.fail(fmt.Sprintf("it uses $%s, which is given at run time; exec form cannot read it", name))
	}
	v, ok := l.lookup(name)
	if !ok || strings.HasPrefix(rest, ":") && v == "" {
		v = strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "-")
	}
	return v, n, nil
}

// wordBuilder assembles the fields of one word: quoted text never splits,
// unquoted expansions split on blanks like the shell's default IFS.
type wordBuilder struct {
	fields []string
	cur    strings.Builder
	has    bool // the current field exists (quotes make an empty field exist)
}

func (w *wordBuilder) literal(c byte)  { w.cur.WriteByte(c); w.has = true }
func (w *wordBuilder) quoted(s string) { w.cur.WriteString(s); w.has = true }

func (w *wordBuilder) unquoted(v string) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == ' ' || c == '\t' || c == '\n' {
			w.flush()
			continue
		}
		w.literal(v[i])
	}
}

func (w *wordBuilder) flush() {
	if w.has {
		w.fields = append(w.fields, w.cur.String())
	}
	w.cur.Reset()
	w.has = false
}

func (w *wordBuilder) done() []string { w.flush(); return w.fields }
