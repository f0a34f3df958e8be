package policies

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// ErrNoLabel means an image carries no policy label at all.
var ErrNoLabel = errors.New("no " + LabelKey + " label")

// Encode returns the canonical label value: JSON with sorted keys and no
// insignificant space, so that the same policy always yields the same bytes
// (and the same image digest).
func (p *Policy) Encode() (string, error) {
	q := *p
	q.normalize()
	raw, err := json.Marshal(&q)
	if err != nil {
		return "", fmt.Errorf("encoding policy: %w", err)
	}
	// Round-tripping through a generic value sorts object keys.
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return "", fmt.Errorf("encoding policy: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return "", fmt.Errorf("encoding policy: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(out) > MaxLabelSize {
		return "", fmt.Errorf("encoded policy is %d bytes, more than the %d allowed in a label", len(out), MaxLabelSize)
	}
	return string(out), nil
}

// Digest is the sha256 of the canonical encoding, for provenance records.
func (p *Policy) Digest() (string, error) {
	s, err := p.Encode()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Decode parses and validates a label value. Unlike Load it applies no
// defaults: a label must state every field, so that what was signed is
// exactly what runs.
func Decode(label string) (*Policy, error) {
	if len(label) > MaxLabelSize {
		return nil, fmt.Errorf("%s label is %d bytes, more than the %d allowed", LabelKey, len(label), MaxLabelSize)
	}
	if err := checkFields([]byte(label), reflect.TypeFor[Policy]()); err != nil {
		return nil, fmt.Errorf("%s label: %w", LabelKey, err)
	}
	var p Policy
	if err := json.Unmarshal([]byte(label), &p); err != nil {
		return nil, fmt.Errorf("%s label: %w", LabelKey, describeJSONError(err))
	}
	p.normalize()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s label: %w", LabelKey, err)
	}
	return &p, nil
}

// FromLabels finds and decodes the policy among an image's config labels.
func FromLabels(labels map[string]string) (*Policy, error) {
	v, ok := labels[LabelKey]
	if !ok {
		return nil, ErrNoLabel
	}
	return Decode(v)
}
