package build

import "strings"

// InputError means Harden needs an input the caller did not give. It names
// the input by its field (as the options do), never by a CLI flag: the CLI
// renders it with its flag names (Render).
type InputError struct {
	// Field is the missing input: "oldBase" (WithOldBase) or "base"
	// (WithBase).
	Field string
	// Problem says what is missing and why, naming the image.
	Problem string
	// Or is the other way out, e.g. "use strategy inplace"; may be empty.
	Or string
	// Err is a sentinel or cause the Problem spells out (ErrNoUpstreamBase),
	// for errors.Is; its text is not repeated.
	Err error
}

func (e *InputError) Unwrap() error { return e.Err }

// fieldWords are how the library's own messages name the fields.
var fieldWords = map[string]string{
	"oldBase": "the upstream base image (WithOldBase)",
	"base":    "a hardened base image (WithBase)",
}

func (e *InputError) Error() string {
	return e.Render(func(f string) string { return fieldWords[f] })
}

// Render is the message with the field named by name (a CLI passes its
// flag, e.g. "--old-base IMAGE"); where name returns "", the library's own
// words stay.
func (e *InputError) Render(name func(field string) string) string {
	n := name(e.Field)
	if n == "" {
		n = fieldWords[e.Field]
	}
	var b strings.Builder
	b.WriteString(e.Problem)
	b.WriteString("; pass ")
	b.WriteString(n)
	if e.Or != "" {
		b.WriteString(", or ")
		b.WriteString(e.Or)
	}
	return b.String()
}
