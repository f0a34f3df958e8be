package policies

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckNetworkEntry pins each network.allow entry rule at its edges:
// the port range's ends, an empty host, wildcards and characters that are
// no host name.
func TestCheckNetworkEntry(t *testing.T) {
	for _, tc := range []struct {
		entry, wantErr string
	}{
		{"api.github.com:443", ""},
		{"*.githubusercontent.com:443", ""},
		{"10.0.0.5:1", ""},
		{"[::1]:65535", ""},
		{"tcp://db.internal:1", ""},
		{"tcp://db.internal:65535", ""},
		{"api.github.com:0", `"api.github.com:0" must be host:port (or tcp://host:port for a TCP service)`},
		{"api.github.com:65536", `"api.github.com:65536" must be host:port (or tcp://host:port for a TCP service)`},
		{"tcp://db.internal:65536", `"tcp://db.internal:65536" must be tcp://host:port with a port from 1 to 65535`},
		{"api.github.com:https", `"api.github.com:https" must be host:port (or tcp://host:port for a TCP service)`},
		{":443", `":443" must be host:port (or tcp://host:port for a TCP service)`},
		{"tcp://:5432", `"tcp://:5432" must be tcp://host:port with a port from 1 to 65535`},
		{"api.github.com", `"api.github.com" must be host:port (or tcp://host:port for a TCP service)`},
		{"tcp://*.internal:5432", `"tcp://*.internal:5432": a tcp:// entry names exactly one host; wildcards are for HTTP(S) entries`},
		{"api.*.com:443", `"api.*.com:443": "api.*.com" is not a host name or IP address`},
		{"user@host:443", `"user@host:443": "user@host" is not a host name or IP address`},
		{"a/b:443", `"a/b:443": "a/b" is not a host name or IP address`},
		{"a b:443", `"a b:443": "a b" is not a host name or IP address`},
		{".github.com:443", `".github.com:443": ".github.com" is not a host name or IP address`},
		{"*..github.com:443", `"*..github.com:443": "*..github.com" is not a host name or IP address`},
		{"tcp://.internal:5432", `"tcp://.internal:5432": ".internal" is not a host name or IP address`},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			err := checkEntry(tc.entry)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.wantErr)
		})
	}
}

// TestNetworkEntriesSplit: HTTP and TCP entries are told apart by the
// scheme alone, each keeps its order, and the scheme is stripped.
func TestNetworkEntriesSplit(t *testing.T) {
	allow := []string{"tcp://db:5432", "api.github.com:443", "tcp://10.0.0.5:6379", "*.example.com:443"}
	require.Equal(t, []string{"api.github.com:443", "*.example.com:443"}, HTTPEntries(allow))
	require.Equal(t, []string{"db:5432", "10.0.0.5:6379"}, TCPEntries(allow))
	require.Nil(t, HTTPEntries([]string{"tcp://db:5432"}))
	require.Nil(t, TCPEntries([]string{"db:5432"}))
	tcp, hp := splitEntry("tcp://db:5432")
	require.True(t, tcp)
	require.Equal(t, "db:5432", hp)
	tcp, hp = splitEntry("db:5432")
	require.False(t, tcp)
	require.Equal(t, "db:5432", hp)
}
