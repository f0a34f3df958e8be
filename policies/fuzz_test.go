package policies

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; `go test` replays them
// on every run and `go test -fuzz=FuzzDecode ./policies` explores further.

// FuzzDecode feeds arbitrary label values to the decoder a verifier runs on
// attacker-controlled image configs: it must never panic, and whatever it
// accepts must be valid, hold no duplicate key, and re-encode to a label that
// decodes to the same policy.
func FuzzDecode(f *testing.F) {
	valid, err := Default().Encode()
	require.NoError(f, err)
	f.Add(valid)
	f.Fuzz(func(t *testing.T, label string) {
		p, err := Decode(label)
		if err != nil {
			return
		}
		if written, kept := keyCounts(t, label); written != kept {
			t.Fatalf("accepted a label with a duplicate key (%d keys written, %d kept): %s", written, kept, label)
		}
		roundTrip(t, p)
	})
}

// keyCounts counts the object keys written in the JSON text and those left
// after decoding it into maps; they differ exactly when an object repeats a
// key. It is the fuzz oracle, so it counts rather than reuse the decoder's
// duplicate check.
func keyCounts(t *testing.T, text string) (written, kept int) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	var inObject []bool // per open container: whether it is an object
	wantKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if wantKey {
			if tok != json.Delim('}') {
				written++
				wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			inObject = append(inObject, tok == json.Delim('{'))
			wantKey = tok == json.Delim('{')
			continue
		case json.Delim('}'), json.Delim(']'):
			inObject = inObject[:len(inObject)-1]
		}
		// A value has ended: in an object the next token is a key.
		wantKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
	var doc any
	require.NoError(t, json.Unmarshal([]byte(text), &doc))
	return written, countMapKeys(doc)
}

func countMapKeys(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for _, sub := range v {
			n += 1 + countMapKeys(sub)
		}
	case []any:
		for _, sub := range v {
			n += countMapKeys(sub)
		}
	}
	return n
}

// FuzzParse feeds arbitrary YAML/JSON to the policy file loader.
func FuzzParse(f *testing.F) {
	f.Add([]byte("resources:\n  memory: 256Mi\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := parse(doc, "fuzz.yaml", Default())
		if err != nil || p.Validate() != nil {
			return
		}
		roundTrip(t, p)
	})
}

// FuzzParseFloor feeds arbitrary YAML/JSON to the floor loader; an accepted
// floor must never reject the default policy's network mode "none" silently
// by panicking in Check.
func FuzzParseFloor(f *testing.F) {
	f.Add([]byte("apiVersion: drydock.dev/v1\nkind: Floor\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		fl, err := ParseFloor(doc, "fuzz.yaml", "/home/fuzz")
		if err != nil {
			return
		}
		_ = fl.Check(Default())
	})
}

func roundTrip(t *testing.T, p *Policy) {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatalf("accepted an invalid policy: %v", err)
	}
	enc, err := p.Encode()
	if err != nil {
		// Only size can fail here; the decoder already bounds the input.
		return
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatalf("re-encoded label %s does not decode: %v", enc, err)
	}
	again, err := back.Encode()
	if err != nil || again != enc {
		t.Fatalf("encoding is not stable:\n%s\n%s", enc, again)
	}
	if p.Network.Mode != NetworkAllowlist {
		if _, err := Translate(p); err != nil {
			t.Fatalf("valid policy does not translate: %v", err)
		}
	}
}
