// Package inputerr is the one input error of drydock's libraries: a
// problem with an input the caller gave or left out, naming each input by
// its place in the library's API (a field or option), never by a CLI flag.
// A CLI renders it with its own names for those inputs (Render). The
// libraries export it under their own name (type InputError =
// inputerr.Error), so errors.As works with any of them.
package inputerr

// Error is a problem with inputs the caller gave or left out.
type Error struct {
	// Fields are the inputs the message names, in the order it names them.
	Fields []string
	// Err is the cause or a sentinel, for errors.Is and errors.As; may be
	// nil.
	Err error
	// text writes the message, naming each field by name(field).
	text func(name func(field string) string) string
}

// New is the error whose message text writes, naming each of fields by the
// name it is given; err (may be nil) is what it wraps.
func New(text func(name func(field string) string) string, err error, fields ...string) *Error {
	return &Error{Fields: fields, Err: err, text: text}
}

// Field is err about the value v given for field: "FIELD v: err".
func Field(field, v string, err error) *Error {
	return New(func(n func(string) string) string {
		return n(field) + " " + v + ": " + err.Error()
	}, err, field)
}

func (e *Error) Unwrap() error { return e.Err }

// Error is the message with each field named as the library names it.
func (e *Error) Error() string { return e.text(func(f string) string { return f }) }

// Render is the message with each field named by name (a CLI passes its
// flag, e.g. "--mount"); a field for which name returns "" keeps its API
// name.
func (e *Error) Render(name func(field string) string) string {
	return e.text(func(f string) string {
		if n := name(f); n != "" {
			return n
		}
		return f
	})
}
