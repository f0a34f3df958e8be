package attest

// InputError is a problem with inputs the caller gave or left out. It names
// each input by its place in this package's API (Identity.SubjectRegExp,
// Certificate.ChainPEM), never by a CLI flag: a CLI renders it with its own
// flag names (Render).
type InputError struct {
	// Fields are the inputs the message names, in the order it names them.
	Fields []string
	// Err is the cause or a sentinel, for errors.Is and errors.As; may be
	// nil.
	Err error
	// text writes the message, naming each field by name(field).
	text func(name func(field string) string) string
}

func (e *InputError) Unwrap() error { return e.Err }

func (e *InputError) Error() string { return e.text(func(f string) string { return f }) }

// Render is the message with each field named by name (a CLI passes its
// flag, e.g. "--certificate-identity"); a field for which name returns "" keeps
// its API name.
func (e *InputError) Render(name func(field string) string) string {
	return e.text(func(f string) string {
		if n := name(f); n != "" {
			return n
		}
		return f
	})
}
