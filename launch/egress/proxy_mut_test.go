package egress

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProxyResolveErrors: a name that does not resolve (an error, or no
// address) is that error before any address is checked or dialled, in
// allowlist and public mode alike.
func TestProxyResolveErrors(t *testing.T) {
	lookup := withLookup(func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "gone.test" {
			return nil, errors.New("server misbehaving")
		}
		return nil, nil
	})
	for _, public := range []bool{false, true} {
		opts := []Option{lookup}
		allow := []string{"gone.test:443", "empty.test:443"}
		if public {
			opts = append(opts, WithPublic(true))
			allow = nil
		}
		p, err := New(allow, opts...)
		require.NoError(t, err)
		for dest, want := range map[string]string{
			"gone.test:443":  "resolving gone.test: server misbehaving",
			"empty.test:443": "resolving empty.test: no addresses",
		} {
			addrs, err := p.target(context.Background(), dest)
			require.EqualError(t, err, want, "public %v", public)
			require.Nil(t, addrs)
		}
	}
}
