package mirror

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/drydock-dev/drydock/build"
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
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
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
