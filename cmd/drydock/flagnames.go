package main

import (
	"strings"
)

// inputFlags are the flags that give the inputs libraries name by field
// (their InputError, one type: internal/inputerr.Error).
var inputFlags = map[string]string{
	"oldBase":                "--old-base IMAGE",
	"base":                   "--base IMAGE",
	"WithVerifier":           "--key cosign.pub",
	"mount":                  "--mount",
	"env":                    "--env",
	"client":                 "--client",
	"Identity.Subject":       "--certificate-identity",
	"Identity.SubjectRegExp": "--certificate-identity-regexp",
	"Identity.Issuer":        "--certificate-oidc-issuer",
	"Identity.IssuerRegExp":  "--certificate-oidc-issuer-regexp",
	"Certificate.ChainPEM":   "--certificate-chain",
	"signer":                 "--key",
	"dir":                    "--out-dir",
	"jobs":                   "--jobs",
	"shard":                  "--shard",
}

// inputError is a library error that names inputs by field and can be
// rendered with other names for them.
type inputError interface {
	error
	Render(name func(field string) string) string
}

// cliMessage is err's text with every library input error in it naming
// drydock's flags instead of the library's fields.
func cliMessage(err error) string {
	msg := err.Error()
	for _, ie := range inputErrors(err) {
		msg = strings.Replace(msg, ie.Error(), ie.Render(func(f string) string { return inputFlags[f] }), 1)
	}
	return msg
}

// inputErrors are the input errors in err's tree, outermost first (so an
// outer one's text still contains an inner one's when it is replaced).
func inputErrors(err error) []inputError {
	var out []inputError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ie, ok := e.(inputError); ok {
			out = append(out, ie)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}
