package mirror

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/drydock-dev/drydock/build"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Transient reports whether err is worth retrying: a registry answer that
// says so (5xx, 429, or a temporary error code), a dropped connection, a
// builder that is unreachable or busy, or a build whose output was rejected
// (it is built again from scratch, never signed as is). Refusals, bad
// input and cancellation are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if anyTemporary(err) {
		return true
	}
	// ggcr's ping error list has As but no Unwrap: ask for its type.
	var te *transport.Error
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, target := range []error{
		io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE, net.ErrClosed,
		build.ErrNoBuildKit, build.ErrOutputRejected,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
			return true
		}
	}
	return false
}

// anyTemporary walks the whole error tree: errors.As stops at the first
// error with a Temporary method, and ggcr joins a refused https ping (not
// temporary) with the http answer that is.
func anyTemporary(err error) bool {
	if t, ok := err.(interface{ Temporary() bool }); ok && t.Temporary() {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return u.Unwrap() != nil && anyTemporary(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyTemporary(e) {
				return true
			}
		}
	}
	return false
}
