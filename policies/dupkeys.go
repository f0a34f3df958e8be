package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// Duplicate keys are refused everywhere: encoding/json and sigs.k8s.io/yaml
// keep the last of two equal keys while other readers (a reviewer's tool,
// jq, Python) may keep the first, so the same signed label or file would
// mean different things to drydock and to whoever checked it.

const writeOnce = "write each key once (readers disagree on which of two values counts)"

// yamlToJSON converts a YAML or JSON document to JSON, refusing duplicate
// keys with their field path and lines.
func yamlToJSON(data []byte) ([]byte, error) {
	if err := yamlDuplicateKeys(data); err != nil {
		return nil, err
	}
	// The strict converter refuses what the walk above may miss (it only
	// runs when yaml.v3 parses the document, and the converter is yaml.v2).
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	return js, nil
}

// yamlDuplicateKeys reports every key that appears twice in one mapping,
// counting keys brought in with a << merge. A document yaml.v3 cannot parse
// is left to the converter, which reports the syntax error.
func yamlDuplicateKeys(data []byte) error {
	var doc yamlv3.Node
	if yamlv3.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	var errs []error
	walkYAML(doc.Content[0], "", &errs)
	return errors.Join(errs...)
}

func walkYAML(n *yamlv3.Node, path string, errs *[]error) {
	switch n.Kind {
	case yamlv3.MappingNode:
		seen := map[string]int{} // key -> line of its first appearance
		claim := func(k *yamlv3.Node) {
			key := scalarValue(k)
			if first, dup := seen[key]; dup {
				*errs = append(*errs, fmt.Errorf("%s: duplicate key (lines %d and %d); %s", join(path, key), first, k.Line, writeOnce))
				return
			}
			seen[key] = k.Line
		}
		for i := 0; i < len(n.Content); i += 2 { // a mapping's Content is key, value, key, value…
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yamlv3.ScalarNode && k.Tag == "!!merge" {
				for _, mk := range mergedKeys(v, map[*yamlv3.Node]bool{}) {
					claim(mk)
				}
				continue
			}
			claim(k)
			walkYAML(v, join(path, scalarValue(k)), errs)
		}
	case yamlv3.SequenceNode:
		for i, item := range n.Content {
			walkYAML(item, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
	// Aliases are not followed: the anchored node was checked where it is
	// written, and following them could loop or blow up exponentially.
}

// mergedKeys lists the keys a << merge value brings in: a mapping, an alias
// of one, or a list of those. Their own duplicates were reported where they
// are written. Each node is visited once, so alias cycles end and a merge
// "bomb" costs no more than the document's size; a mapping merged twice
// adds nothing the second time, and the strict converter refuses it.
func mergedKeys(v *yamlv3.Node, visited map[*yamlv3.Node]bool) []*yamlv3.Node {
	if visited[v] {
		return nil
	}
	visited[v] = true
	var keys []*yamlv3.Node
	switch v.Kind {
	case yamlv3.AliasNode:
		keys = mergedKeys(v.Alias, visited) // yaml.v3 refuses an alias of an unknown anchor
	case yamlv3.SequenceNode:
		for _, item := range v.Content {
			keys = append(keys, mergedKeys(item, visited)...)
		}
	case yamlv3.MappingNode:
		for i := 0; i < len(v.Content); i += 2 {
			if k := v.Content[i]; k.Kind == yamlv3.ScalarNode && k.Tag == "!!merge" {
				keys = append(keys, mergedKeys(v.Content[i+1], visited)...)
			} else {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// scalarValue is a key's text as it ends up in JSON ("1" for both 1 and
// '1'); an alias used as a key stands for its anchor's text.
func scalarValue(k *yamlv3.Node) string {
	if k.Kind == yamlv3.AliasNode {
		return k.Alias.Value
	}
	return k.Value
}

// jsonDuplicateKeys reports every key that appears twice in one object of
// the JSON document js, comparing keys after unescaping ("us\u0065r" is
// "user"). The caller decodes js as well and reports its syntax errors.
func jsonDuplicateKeys(js []byte) error {
	var errs []error
	walkJSON(json.NewDecoder(bytes.NewReader(js)), "", &errs)
	return errors.Join(errs...)
}

// walkJSON reads one value from dec. Token's errors are not checked: on
// invalid input More turns false and the walk ends, and the caller's own
// decoding reports the error.
func walkJSON(dec *json.Decoder, path string, errs *[]error) {
	tok, _ := dec.Token()
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, _ := dec.Token()
			key, _ := kt.(string)
			if seen[key] {
				*errs = append(*errs, fmt.Errorf("%s: duplicate key; %s", join(path, key), writeOnce))
			}
			seen[key] = true
			walkJSON(dec, join(path, key), errs)
		}
		dec.Token() // the closing }
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			walkJSON(dec, fmt.Sprintf("%s[%d]", path, i), errs)
		}
		dec.Token() // the closing ]
	}
}
