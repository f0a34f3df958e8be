package build

import "github.com/drydock-dev/drydock/internal/inputerr"

// InputError means Harden needs an input the caller did not give. It names
// the input by its field ("oldBase" for WithOldBase, "base" for WithBase),
// never by a CLI flag: the CLI renders it with its flag names (Render). It
// is the same type as attest's, launch's and mirror's InputError.
type InputError = inputerr.Error

// fieldWords are how the library's own messages name the fields.
var fieldWords = map[string]string{
	"oldBase": "the upstream base image (WithOldBase)",
	"base":    "a hardened base image (WithBase)",
}

// needInput is "PROBLEM; pass FIELD[, or OR]": field is missing, problem
// says why (naming the image), or is the other way out (may be empty) and
// err a sentinel or cause problem already spells out (may be nil).
func needInput(field, problem, or string, err error) *InputError {
	return inputerr.New(func(n func(string) string) string {
		name := n(field)
		if name == field {
			// Not renamed by a CLI: the library's own words.
			name = fieldWords[field]
		}
		msg := problem + "; pass " + name
		if or != "" {
			msg += ", or " + or
		}
		return msg
	}, err, field)
}
