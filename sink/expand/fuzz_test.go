package expand

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// fuzzSchemas are the schemas FuzzEncode picks from (by the kind byte).
func fuzzSchemas(t testing.TB) []*runtime.Schema {
	_, protoDef := protoDescriptor(t)
	js := sch(runtime.SchemaJSON, "")
	return []*runtime.Schema{
		nil,
		sch(runtime.SchemaString, ""),
		sch(runtime.SchemaInt32, ""),
		sch(runtime.SchemaFloat, ""),
		sch(runtime.SchemaDouble, ""),
		sch(runtime.SchemaTime, ""),
		sch(runtime.SchemaInstant, ""),
		sch(runtime.SchemaLocalDateTime, ""),
		js,
		sch(runtime.SchemaAvro, scalarsDef),
		sch(runtime.SchemaAvro, arraysDef),
		sch(runtime.SchemaAvro, mapDef(`["null","string","int"]`, false)),
		sch(runtime.SchemaAvro, mapDef(`{"type":"map","values":"double"}`, true)),
		sch(runtime.SchemaAvro, `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`),
		sch(runtime.SchemaAvro, decimalDef),
		sch(runtime.SchemaAvro, logicalDef),
		sch(runtime.SchemaAvro, utilsValueDef),
		sch(runtime.SchemaProtobufNative, protoDef),
		kvSchema(runtime.KeyValueInline, sch(runtime.SchemaAvro, utilsKeyDef), js),
		kvSchema(runtime.KeyValueSeparated, js, sch(runtime.SchemaString, "")),
	}
}

// FuzzEncode feeds arbitrary payloads (and KEY_VALUE keys) to every kind of
// schema: Encode must not panic, must leave dst alone on error, must be
// deterministic, and must write JSON (flattened output may hold raw control
// characters, as the Java sink's does).
func FuzzEncode(f *testing.F) {
	schemas := fuzzSchemas(f)
	for _, c := range goldenCases(f) {
		kind := -1
		for i, s := range schemas {
			if definitionKey(s) == definitionKey(c.rec.Schema) {
				kind = i
			}
		}
		if kind < 0 {
			continue
		}
		flags := byte(0)
		if c.opts.IncludeNonNulls {
			flags |= 1
		}
		if c.opts.Flatten {
			flags |= 2
		}
		f.Add(byte(kind), flags, c.rec.Payload, []byte(c.rec.Key))
	}
	f.Add(byte(8), byte(1), []byte(`{"a":[1,{"b":1e5}],"c":"\ud800"}`), []byte{})
	f.Add(byte(19), byte(3), []byte("v"), []byte(base64.StdEncoding.EncodeToString([]byte(`{"k":1}`))))
	encs := [4]*Encoder{}
	for i := range encs {
		encs[i], _ = New(Options{IncludeNonNulls: i&1 != 0, Flatten: i&2 != 0})
	}
	f.Fuzz(func(t *testing.T, kind, flags byte, payload, key []byte) {
		s := schemas[int(kind)%len(schemas)]
		enc := encs[flags&3]
		r := mkRecord(s, payload)
		r.Key = string(key)
		r.HasKey = len(key) > 0 || flags&4 != 0
		prefix := []byte("pre")
		out, err := enc.Encode(bytes.Clone(prefix), &r)
		if err != nil {
			if !bytes.Equal(out, prefix) {
				t.Fatalf("dst changed on error %v: %q", err, out)
			}
			return
		}
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("prefix lost: %q", out)
		}
		out = out[len(prefix):]
		again, err := enc.Encode(nil, &r)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second encode differs: %q %v", again, err)
		}
		if !json.Valid(out) && !(flags&2 != 0 && hasControl(out)) {
			t.Fatalf("not JSON: %q", out)
		}
	})
}
