// Command drydock hardens, signs, verifies and launches MCP server images.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
)

// Exit codes scripts can rely on.
const (
	exitOK      = 0
	exitRefused = 1 // verification or policy refused the image
	exitError   = 2 // bad input or an unreachable component
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := NewRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCodeFor(err))
}

// exitCodeError carries an exit code chosen by a command (run passes the
// server's own) with an optional message.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitCodeError) Unwrap() error { return e.err }

func exitCodeFor(err error) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(os.Stderr, "drydock:", cliMessage(ec.err))
		}
		return ec.code
	}
	fmt.Fprintln(os.Stderr, "drydock:", cliMessage(err))
	if errors.Is(err, attest.ErrRefused) || errors.Is(err, launch.ErrRefused) {
		return exitRefused
	}
	return exitError
}
