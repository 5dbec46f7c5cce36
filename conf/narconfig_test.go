package conf

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// narConfigClass is the kinesis-go NAR's config class: a field per key
// with its FieldDoc (type, default, help, sensitive), from the same doc
// comments and defaults as KEYS.md, so that `pulsar-admin sinks
// available-sinks` and the worker's config-definition endpoint show every
// key the sink reads.
func narConfigClass(t *testing.T) string {
	t.Helper()
	docs := keyDocs(t)
	def := Default()
	var b strings.Builder
	b.WriteString(`// Generated from conf/conf.go by ` + "`go test ./conf -run TestNARConfigClass -update`" + `; do not edit.
package io.github.pulsarkinesis;

import java.io.Serializable;
import java.util.Map;
import org.apache.pulsar.io.core.annotations.FieldDoc;

/**
 * The kinesis-go sink's configuration keys, for the worker to show (the sink reads the configuration as a map
 * and hands it to kinesis-sink, which checks it; conf/KEYS.md in the repository documents the same keys).
 * The Java Kinesis sink's keys come first, with its names, types and defaults.
 */
public class KinesisGoSinkConfig implements Serializable {
    private static final long serialVersionUID = 1L;
`)
	for _, sp := range specs {
		typ := map[kind]string{kString: "String", kSecret: "String", kEnum: "String", kBool: "boolean", kInt: "long",
			kPort: "Integer", kMap: "Map<String, String>"}[sp.kind]
		if typ == "" {
			t.Fatalf("key %s: no Java type for its kind", sp.name)
		}
		help := docs[sp.name]
		if a := allowedLabel(&sp); a != "" {
			help += " Allowed: " + strings.ReplaceAll(a, "`", "") + "."
		}
		sensitive := ""
		if sp.kind == kSecret {
			sensitive = "sensitive = true, "
		}
		fmt.Fprintf(&b, "\n    @FieldDoc(required = false, %sdefaultValue = %s,\n            help = %s)\n    private %s %s;\n",
			sensitive, javaString(fieldDefault(def, sp.name)), javaString(help), typ, sp.name)
	}
	b.WriteString("}\n")
	return b.String()
}

// fieldDefault is a key's default as FieldDoc shows it: "" for none.
func fieldDefault(c *Config, name string) string {
	v := c.field(name)
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Pointer, reflect.Map:
		return ""
	}
	return fmt.Sprint(v.Interface())
}

// javaString quotes s as a Java string literal (ASCII escapes; the source
// is UTF-8).
func javaString(s string) string {
	q := strconv.Quote(s)
	// Go's \a, \v and \x escapes are not Java's; doc comments hold none.
	if strings.Contains(q, `\x`) || strings.Contains(q, `\a`) || strings.Contains(q, `\v`) {
		panic("javaString: " + q)
	}
	return q
}

const narConfigPath = "../packaging/nar/src/main/java/io/github/pulsarkinesis/KinesisGoSinkConfig.java"

func TestNARConfigClass(t *testing.T) {
	got := narConfigClass(t)
	if *update {
		if err := os.WriteFile(narConfigPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(narConfigPath)
	if err != nil || string(want) != got {
		t.Fatalf("%s is out of date (%v): run go test ./conf -run TestNARConfigClass -update", narConfigPath, err)
	}
	// Every key has its field, secrets are marked sensitive.
	for _, sp := range specs {
		if !strings.Contains(got, " "+sp.name+";\n") {
			t.Errorf("no field for %s", sp.name)
		}
	}
	if n := strings.Count(got, "sensitive = true"); n != 1 {
		t.Errorf("%d sensitive fields, want 1 (awsCredentialPluginParam)", n)
	}
}
