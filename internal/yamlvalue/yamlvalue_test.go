package yamlvalue

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	v, err := Parse([]byte("stream: 2024-01-01\nn: 5\nf: 1.5\nb: true\nl: [a, 1]\nm: {x: null}\nref: &r {k: v}\nalias: *r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"stream": "2024-01-01", "n": 5, "f": 1.5, "b": true, "l": []any{"a", 1},
		"m": map[string]any{"x": nil}, "ref": map[string]any{"k": "v"}, "alias": map[string]any{"k": "v"},
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v\nwant %#v", v, want)
	}
	if v, err := Parse(nil); v != nil || err != nil {
		t.Fatalf("empty: %v %v", v, err)
	}
}

func TestParseErrors(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 0, "a"; i < 8; i++ {
		name := string(rune('b' + i))
		laughs += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	for doc, want := range map[string]string{
		"a: 1\na: 2\n": `line 2: key "a" appears twice`,
		"? [k]\n: v\n": "line 1: map keys must be plain names",
		laughs:         "too large or too deeply nested",
		"a: [1\n":      "did not find expected",
		"n: !!int x\n": "line 1: ",
	} {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line with %q", doc, err, want)
		}
	}
}
