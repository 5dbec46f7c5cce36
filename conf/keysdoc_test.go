package conf

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite KEYS.md and the NAR's config class from the doc comments of Config")

// keysMarkdown builds the key table from the doc comments of Config's fields
// in conf.go and the defaults and ranges the loader uses, so the key
// table cannot drift from the code.
func keysMarkdown(t *testing.T) string {
	t.Helper()
	docs := keyDocs(t)
	def := Default()
	var b strings.Builder
	b.WriteString("<!-- Generated from conf/conf.go by `go test ./conf -run TestKeysDoc -update`; do not edit. -->\n")
	b.WriteString("# Kinesis sink configuration keys\n\n")
	b.WriteString("Values may be given as strings (\"100\", \"true\"), as Pulsar passes them. " +
		"Enumerated values match regardless of case. Unknown keys are logged as warnings.\n")
	for _, java := range []bool{true, false} {
		if java {
			b.WriteString("\n## Keys of the Java Kinesis sink (same names, types and defaults)\n\n")
		} else {
			b.WriteString("\n## Keys added by this sink\n\n")
		}
		b.WriteString("| Key | Type | Default | Allowed | Description |\n|---|---|---|---|---|\n")
		for _, sp := range specs {
			if sp.java != java {
				continue
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", sp.name, typeLabel(&sp), defaultLabel(def, sp.name),
				allowedLabel(&sp), strings.ReplaceAll(docs[sp.name], "|", `\|`))
		}
	}
	return b.String()
}

// keyDocs reads each key's doc comment from Config's fields in conf.go.
func keyDocs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "conf.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, f := range ts.Type.(*ast.StructType).Fields.List {
			if f.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(f.Tag.Value)
			name := strings.Split(reflect.StructTag(tag).Get("json"), ",")[0]
			if name == "" {
				continue
			}
			if f.Doc == nil {
				t.Errorf("key %s has no doc comment", name)
				continue
			}
			docs[name] = strings.Join(strings.Fields(f.Doc.Text()), " ")
		}
		return false
	})
	return docs
}

func typeLabel(sp *spec) string {
	switch sp.kind {
	case kString:
		return "string"
	case kSecret:
		return "string, secret"
	case kBool:
		return "boolean"
	case kInt:
		return "integer"
	case kPort:
		return "integer or null"
	case kEnum:
		return "enum"
	case kMap:
		return "map"
	}
	return "?"
}

func defaultLabel(c *Config, name string) string {
	v := c.field(name)
	switch v.Kind() {
	case reflect.String:
		return "`" + strconv.Quote(v.String()) + "`"
	case reflect.Pointer:
		return "null"
	case reflect.Map:
		return "{}"
	}
	return fmt.Sprintf("`%v`", v.Interface())
}

func allowedLabel(sp *spec) string {
	switch sp.kind {
	case kInt, kPort:
		s := fmt.Sprintf("%d–%d", sp.min, sp.max)
		if sp.unit != "" {
			s += " " + sp.unit
		}
		return s
	case kEnum:
		q := make([]string, len(sp.enum))
		for i, e := range sp.enum {
			q[i] = "`" + e + "`"
		}
		return strings.Join(q, ", ")
	}
	return ""
}

func TestKeysDoc(t *testing.T) {
	got := keysMarkdown(t)
	if *update {
		if err := os.WriteFile("KEYS.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("KEYS.md")
	if err != nil || string(want) != got {
		t.Fatalf("KEYS.md is out of date (%v): run go test ./conf -run TestKeysDoc -update", err)
	}
}
