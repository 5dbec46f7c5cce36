// Package yamlvalue turns a YAML document into the plain values a JSON
// decoder would give (map[string]any, []any, string, bool, numbers), which is
// how the sink config file, the instance config file and Function Mesh
// manifests are read. Unlike decoding into any, it keeps timestamps and
// binary scalars as the text written (a stream named 2024-01-01 stays a
// string), refuses duplicate and non-scalar keys, and bounds the work of
// expanding aliases ("billion laughs").
package yamlvalue

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// MaxNodes bounds the nodes visited, aliases counted each time they are
// expanded.
const MaxNodes = 100_000

// maxDepth bounds nesting.
const maxDepth = 64

// Error is a conversion error at a line of the document.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Parse parses data (YAML, or JSON read as YAML) and converts its document.
// An empty document is nil.
func Parse(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s", errtext.OneLine(err.Error()))
	}
	if doc.Kind == 0 { // no document at all
		return nil, nil
	}
	return Value(&doc)
}

// Value converts n to plain values.
func Value(n *yaml.Node) (any, error) {
	budget := MaxNodes
	return value(n, &budget, 0)
}

func value(n *yaml.Node, budget *int, depth int) (any, error) {
	*budget--
	if *budget < 0 || depth > maxDepth {
		return nil, &Error{n.Line, "the document is too large or too deeply nested"}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return value(n.Content[0], budget, depth+1)
	case yaml.AliasNode:
		return value(n.Alias, budget, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, &Error{k.Line, "map keys must be plain names"}
			}
			if _, dup := m[k.Value]; dup {
				return nil, &Error{k.Line, fmt.Sprintf("key %q appears twice", k.Value)}
			}
			v, err := value(n.Content[i+1], budget, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := value(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp", "!!binary":
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &Error{n.Line, errtext.OneLine(err.Error())}
		}
		return v, nil
	}
	return nil, &Error{n.Line, "unsupported YAML node"}
}
