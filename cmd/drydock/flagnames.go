package main

import (
	"errors"
	"strings"

	"github.com/drydock-dev/drydock/build"
)

// inputFlags are the flags that give the inputs libraries name by field
// (build.InputError).
var inputFlags = map[string]string{
	"oldBase": "--old-base IMAGE",
	"base":    "--base IMAGE",
}

// cliMessage is err's text with a library's missing-input error naming
// drydock's flag instead of the library option.
func cliMessage(err error) string {
	msg := err.Error()
	var ie *build.InputError
	if errors.As(err, &ie) {
		msg = strings.Replace(msg, ie.Error(), ie.Render(func(f string) string { return inputFlags[f] }), 1)
	}
	return msg
}
