package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"
)

// password reads the key password from COSIGN_PASSWORD (as cosign does) or,
// on a terminal, from a prompt. It is never taken from argv.
func password(confirm bool) ([]byte, error) {
	if p, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(p), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("no key password: set COSIGN_PASSWORD (it may be empty)")
	}
	fmt.Fprint(os.Stderr, "Enter password for private key: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if confirm {
		fmt.Fprint(os.Stderr, "Enter password for private key again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, fmt.Errorf("reading password: %w", err)
		}
		if string(again) != string(p) {
			return nil, errors.New("passwords do not match")
		}
	}
	return p, nil
}
