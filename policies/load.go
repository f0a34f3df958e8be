package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
)

// Load reads a policy file (YAML or JSON) over the default policy: fields the
// file leaves out keep their default values. The result is validated; errors
// name the file and the field path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	p, err := parse(data, path, Default())
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// parse decodes YAML or JSON onto base, refusing unknown fields by path.
func parse(data []byte, name string, base *Policy) (*Policy, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkFields(js, reflect.TypeFor[Policy]()); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(js, base); err != nil {
		return nil, fmt.Errorf("%s: %w", name, describeJSONError(err))
	}
	base.normalize()
	return base, nil
}

// checkFields walks the decoded document against the JSON shape of t
// (Policy or Floor) and reports every duplicate key and every unknown field
// with its path. A newer label read by an older drydock therefore fails
// naming the field it does not know.
func checkFields(js []byte, t reflect.Type) error {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber() // so a number too large for float64 is left to json.Unmarshal, which names its field
	if err := dec.Decode(&doc); err != nil {
		return describeJSONError(err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return errors.New("the document must be a mapping of fields")
	}
	if err := jsonDuplicateKeys(js); err != nil {
		return err
	}
	var unknown []string
	walkFields(doc, t, "", &unknown)
	sort.Strings(unknown)
	errs := make([]error, len(unknown))
	for i, f := range unknown {
		errs[i] = fmt.Errorf("%s: unknown field (this drydock understands %s; upgrade drydock or remove the field)", f, APIVersion)
	}
	return errors.Join(errs...) // nil when there are none
}

func walkFields(v any, t reflect.Type, path string, unknown *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return // a type error; json.Unmarshal reports it
		}
		fields := jsonFields(t)
		for k, sub := range m {
			ft, ok := fields[k]
			if !ok {
				*unknown = append(*unknown, join(path, k))
				continue
			}
			walkFields(sub, ft, join(path, k), unknown)
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return
		}
		for i, item := range items {
			walkFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), unknown)
		}
	}
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// describeJSONError turns encoding/json's type errors into "field: want T".
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: got a %s, want a %s", te.Field, te.Value, jsonKind(te.Type))
	}
	return err
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "whole number"
	case reflect.Slice:
		return "list"
	case reflect.Struct, reflect.Map:
		return "mapping"
	}
	return t.String()
}
