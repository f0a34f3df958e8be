package main

import (
	"strings"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build/scan"
	"github.com/drydock-dev/drydock/policies"
)

// inputFlags are the flags (and commands) that give the inputs libraries
// name by field: in their InputError (one type, internal/inputerr.Error)
// and in attest's refusals (attest.RefusalError).
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
	"kind":                   "--kind",
	"claim":                  "--claim",
	"flavour":                "--for",
	"shards":                 "--shards",
	"buildkit":               "--buildkit-addr",
	"prefix":                 "--to",
	"bins":                   "--binary PATH",

	// Refusals (attest.Refuse) name the verifier and the way out.
	attest.FieldVerifier:       "--key",
	attest.FieldPublicKey:      "--key cosign.pub",
	attest.FieldTrustedRoot:    "--trusted-root",
	attest.FieldSourceDigest:   "--source-digest",
	attest.FieldUnboundBundles: "--allow-unbound-bundles",
	attest.FieldSign:           `"drydock sign IMAGE --key cosign.key"`,
	attest.FieldAttest:         `"drydock sign IMAGE --key cosign.key --attest" (drydock harden attests what it builds)`,
	attest.FieldSignCertified:  `"drydock sign IMAGE --certificate cert.pem --key key.pem"`,
	attest.FieldScan:           `"drydock harden SRC --to DST --vuln-db DIR --key cosign.key" (it attests its scan)`,
	scan.FieldFailOn:           "--fail-on",
	policies.FieldFloorFile:    "--floor",
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
