package egress

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseHeaderEdges pins readHeader's bound at exactly maxHeader bytes,
// a connection closed before the newline, and the first and a large TCP
// index.
func TestParseHeaderEdges(t *testing.T) {
	pad := func(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
	tests := []struct {
		name    string
		in      string
		want    header
		wantErr error
	}{
		{name: "64 bytes before the newline", in: pad("DRYDOCK-EGRESS/1 proxy", 64) + "\n", want: header{kind: KindProxy}},
		{name: "65 bytes before the newline", in: pad("DRYDOCK-EGRESS/1 proxy", 65) + "\n", wantErr: errHeader},
		{name: "closed before the newline", in: "DRYDOCK-EGRESS/1 proxy", wantErr: io.EOF},
		{name: "empty line", in: "\n", wantErr: errHeader},
		{name: "entry 0", in: "DRYDOCK-EGRESS/1 tcp 0\nrest", want: header{kind: KindTCP, index: 0}},
		{name: "entry 12", in: "DRYDOCK-EGRESS/1 tcp 12\n", want: header{kind: KindTCP, index: 12}},
		{name: "entry with a sign", in: "DRYDOCK-EGRESS/1 tcp +1\n", wantErr: errHeader},
		{name: "only the magic", in: "DRYDOCK-EGRESS/1\n", wantErr: errHeader},
		{name: "kind unknown", in: "DRYDOCK-EGRESS/1 udp\n", wantErr: errHeader},
		{name: "tcp with two numbers", in: "DRYDOCK-EGRESS/1 tcp 1 2\n", wantErr: errHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tt.in))
			got, err := readHeader(r)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, header{}, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			rest, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, strings.SplitN(tt.in, "\n", 2)[1], string(rest), "the header's newline ends what is read")
		})
	}
}
