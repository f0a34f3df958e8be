package egress

import (
	"encoding/hex"
	"io"
	"log"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// TestDNSAnswersWire pins one answer byte for byte (compressed: the
// answer's name points at the question's) and the queries the responder
// drops or does not answer with an address.
func TestDNSAnswersWire(t *testing.T) {
	names := NewNames([]string{"api.github.com:443", "*.githubusercontent.com:443", "10.0.0.1:443"}, []string{"db.internal:5432", "10.9.9.9:6379"}, false)
	lg := log.New(io.Discard, "", 0)

	resp, ok := answer(query(t, "db.internal.", dnsmessage.TypeA), names, lg)
	require.True(t, ok)
	require.Equal(t, "0007"+"8580"+"0001"+"0001"+"0000"+"0000"+ // ID 7; response, authoritative, RD, RA; 1 question, 1 answer
		"02"+hex.EncodeToString([]byte("db"))+"08"+hex.EncodeToString([]byte("internal"))+"00"+"0001"+"0001"+ // db.internal. A IN
		"c00c"+"0001"+"0001"+"0000003c"+"0004"+"7f010001", // -> question's name, A IN, TTL 60, 127.1.0.1
		hex.EncodeToString(resp))

	build := func(h dnsmessage.Header, qs ...dnsmessage.Question) []byte {
		b := dnsmessage.NewBuilder(nil, h)
		require.NoError(t, b.StartQuestions())
		for _, q := range qs {
			require.NoError(t, b.Question(q))
		}
		m, err := b.Finish()
		require.NoError(t, err)
		return m
	}
	q := func(name string, class dnsmessage.Class) dnsmessage.Question {
		return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: class}
	}
	// Dropped messages are not queries for a name: no "denied" line.
	var logs syncBuffer
	quiet := log.New(&logs, "", 0)
	_, ok = answer(build(dnsmessage.Header{ID: 7, Response: true}, q("cache.internal.", dnsmessage.ClassINET)), names, quiet)
	require.False(t, ok, "a response is dropped, never answered")
	_, ok = answer(build(dnsmessage.Header{ID: 7}), names, quiet)
	require.False(t, ok, "a query without a question is dropped")
	require.Empty(t, logs.String())

	for _, tc := range []struct {
		name  string
		msg   []byte
		rcode dnsmessage.RCode
	}{
		{"not a standard query", build(dnsmessage.Header{ID: 7, OpCode: 2}, q("db.internal.", dnsmessage.ClassINET)), dnsmessage.RCodeNotImplemented},
		{"not the Internet class", build(dnsmessage.Header{ID: 7}, q("db.internal.", dnsmessage.ClassCHAOS)), dnsmessage.RCodeSuccess},
		{"an IP entry is no name", query(t, "10.0.0.1.", dnsmessage.TypeA), dnsmessage.RCodeNameError},
		{"a tcp:// IP entry is no name", query(t, "10.9.9.9.", dnsmessage.TypeA), dnsmessage.RCodeNameError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ok := answer(tc.msg, names, lg)
			require.True(t, ok)
			var p dnsmessage.Parser
			h, err := p.Start(resp)
			require.NoError(t, err)
			require.Equal(t, tc.rcode, h.RCode)
			require.NoError(t, p.SkipAllQuestions())
			_, err = p.AnswerHeader()
			require.ErrorIs(t, err, dnsmessage.ErrSectionDone, "no address in the answer")
		})
	}
}

// TestDNSLookupEdges: a wildcard's bare suffix, IP entries and (in public
// mode) the empty name get no address.
func TestDNSLookupEdges(t *testing.T) {
	names := NewNames([]string{"*.githubusercontent.com:443", "10.0.0.1:443"}, []string{"10.9.9.9:6379"}, false)
	for _, n := range []string{".githubusercontent.com", "githubusercontent.com", "10.0.0.1", "10.9.9.9", ""} {
		_, ok := names.Lookup(n)
		require.False(t, ok, "%q", n)
	}
	a, ok := names.Lookup("RAW.GitHubUserContent.com.")
	require.True(t, ok)
	require.Equal(t, "127.0.0.1", a.String())
	pub := NewNames(nil, nil, true)
	_, ok = pub.Lookup("")
	require.False(t, ok, "public mode answers names, not the empty one")
	_, ok = pub.Lookup(".")
	require.False(t, ok, "nor the root")
}
