package expand

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// The literal outputs of Pulsar's UtilsTest (the Java sink's own tests).
const (
	utilsAvroWant = `{"topicName":"data-ks1.table1","key":"message-key","payload":{"c":"1","d":1,"e":{"a":"a","b":true,"d":1.0,"f":1.0,"i":1,"l":10}},"properties":{"prop-key":"prop-value"},"eventTime":1648502845803}`
	utilsKVWant   = `{"topicName":"data-ks1.table1","key":"message-key","payload":{"value":{"c":"1","d":1,"e":{"a":"a","b":true,"d":1.0,"f":1.0,"i":1,"l":10}},"key":{"a":"1","b":1}},"properties":{"prop-key":"prop-value"},"eventTime":1648502845803}`
	utilsKVFlat   = `{"topicName":"data-ks1.table1","key":"message-key","payload.value.c":"1","payload.value.d":1,"payload.value.e.a":"a","payload.value.e.b":true,"payload.value.e.d":1.0,"payload.value.e.f":1.0,"payload.value.e.i":1,"payload.value.e.l":10,"payload.key.a":"1","payload.key.b":1,"properties.prop-key":"prop-value","eventTime":1648502845803}`
	utilsString   = `{"topicName":"data-ks1.table1","key":"message-key","payload":"message-value","properties":{"prop-key":"prop-value"},"eventTime":1648502845803}`
)

func encodeOne(t *testing.T, opts Options, r runtime.RecordData) string {
	t.Helper()
	enc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encode(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestUtilsTestExamples(t *testing.T) {
	avroV := sch(runtime.SchemaAvro, utilsValueDef)
	kv := kvSchema(runtime.KeyValueInline, sch(runtime.SchemaAvro, utilsKeyDef), avroV)
	for _, c := range []struct {
		name string
		opts Options
		rec  runtime.RecordData
		want string
	}{
		{"avro", DefaultOptions(), utilsRecord(avroV, utilsValue(t)), utilsAvroWant},
		{"kv", DefaultOptions(), utilsRecord(kv, inlineKV(utilsKey(t), utilsValue(t))), utilsKVWant},
		{"kv flattened", Options{IncludeNonNulls: true, Flatten: true}, utilsRecord(kv, inlineKV(utilsKey(t), utilsValue(t))), utilsKVFlat},
		{"string", DefaultOptions(), utilsRecord(sch(runtime.SchemaString, ""), []byte("message-value")), utilsString},
	} {
		if got := encodeOne(t, c.opts, c.rec); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	enc, _ := New(DefaultOptions())
	r := mkRecord(sch(runtime.SchemaAvro, scalarsDef), []byte{0})
	_, err := enc.Encode(nil, &r)
	want := "record persistent://public/default/t 12:3:-1: AVRO value does not decode with schema version 0: i: int at byte 1: unexpected end of data"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	var re *RecordError
	if !errors.As(err, &re) || re.MessageID != "12:3:-1" || re.Topic != topicT {
		t.Fatalf("not a RecordError with the record's id: %#v", err)
	}
	bad := mkRecord(sch(runtime.SchemaAvro, `{"type":"record"`), nil)
	bad.Schema.Version = []byte{0, 0, 0, 0, 0, 0, 0, 4}
	_, err = enc.Encode(nil, &bad)
	if err == nil || !strings.HasPrefix(err.Error(), "record persistent://public/default/t 12:3:-1: AVRO schema version 4 is unusable: schema definition is not JSON") {
		t.Fatalf("schema error %v", err)
	}
	proto := mkRecord(sch(runtime.SchemaProtobuf, `{}`), nil)
	_, err = enc.Encode(nil, &proto)
	if err == nil || !strings.Contains(err.Error(), `schema type "PROTOBUF" is not supported`) {
		t.Fatalf("PROTOBUF error %v", err)
	}
	kv := mkRecord(kvSchema(runtime.KeyValueInline, sch(runtime.SchemaJSON, ""), sch(runtime.SchemaInt32, "")), inlineKV([]byte("{"), be32(1)))
	_, err = enc.Encode(nil, &kv)
	if err == nil || !strings.Contains(err.Error(), "JSON KEY_VALUE key does not decode with schema version 0: invalid JSON at offset 1") {
		t.Fatalf("KEY_VALUE error %v", err)
	}
	noID := r
	noID.MessageID = nil
	noID.Schema = nil
	noID.Topic = ""
	if _, err := enc.Encode(nil, &noID); err != nil {
		t.Fatalf("raw bytes never fail: %v", err)
	}
	if _, err := enc.Encode(nil, nil); err == nil {
		t.Fatal("nil record accepted")
	}
}

// TestCompileCache checks that compiled schemas are shared per *Schema and
// per definition, and that the caches stay bounded.
func TestCompileCache(t *testing.T) {
	enc, _ := New(DefaultOptions())
	payload := utilsValue(t)
	for i := range 3 * maxCached {
		r := utilsRecord(sch(runtime.SchemaAvro, utilsValueDef), payload)
		if i%2 == 0 {
			r.Schema.Definition = []byte(utilsValueDef + fmt.Sprintf("\n%d", i%7)) // a few distinct definitions
		}
		out, err := enc.Encode(nil, &r)
		if err != nil || string(out) != utilsAvroWant {
			t.Fatalf("record %d: %s %v", i, out, err)
		}
	}
	n := 0
	enc.byDef.Range(func(_, _ any) bool { n++; return true })
	if n > 8 {
		t.Errorf("%d compiled definitions, want at most 8", n)
	}
	n = 0
	enc.bySchema.Range(func(_, _ any) bool { n++; return true })
	if n > 2*maxCached {
		t.Errorf("%d cached schemas, want at most %d", n, 2*maxCached)
	}
	s := sch(runtime.SchemaAvro, utilsValueDef)
	r := utilsRecord(s, payload)
	enc.Encode(nil, &r)
	c1 := enc.compile(s)
	s2 := sch(runtime.SchemaAvro, utilsValueDef)
	if enc.compile(s2) != c1 {
		t.Error("an equal definition under a new *Schema was compiled again")
	}
}

// TestConcurrentEncode shares encoders between goroutines (run with -race)
// and checks every output against a serial run.
func TestConcurrentEncode(t *testing.T) {
	cases := goldenCases(t)
	encs := map[Options]*Encoder{}
	want := make([][]byte, len(cases))
	for i, c := range cases {
		if encs[c.opts] == nil {
			encs[c.opts], _ = New(c.opts)
		}
		r := c.rec
		want[i], _ = encs[c.opts].Encode(nil, &r)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 3 * len(cases) {
				i := (n*7 + g*13) % len(cases)
				r := cases[i].rec
				got, _ := encs[cases[i].opts].Encode(nil, &r)
				if !bytes.Equal(got, want[i]) {
					select {
					case errs <- fmt.Sprintf("%s: %s != %s", cases[i].name, got, want[i]):
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestOutputIsJSON: every nested output parses as JSON and every flattened
// one too unless the value holds raw control characters (which the Java
// flattener emits unescaped).
func TestOutputIsJSON(t *testing.T) {
	for _, c := range goldenCases(t) {
		if c.wantErr != "" {
			continue
		}
		enc, _ := New(c.opts)
		r := c.rec
		out, err := enc.Encode(nil, &r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !json.Valid(out) && !(c.opts.Flatten && hasControl(out)) {
			t.Errorf("%s: not JSON: %s", c.name, out)
		}
	}
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func TestDefaultOptions(t *testing.T) {
	if o := DefaultOptions(); !o.IncludeNonNulls || o.Flatten {
		t.Fatalf("DefaultOptions() = %+v, want the Java defaults", o)
	}
}

// TestOutputBounded: small payloads that would expand without limit are
// refused instead (Kinesis takes at most 10 MiB per record anyway).
func TestOutputBounded(t *testing.T) {
	flat, _ := New(Options{IncludeNonNulls: true, Flatten: true})
	nested, _ := New(DefaultOptions())
	huge := "[" + strings.Repeat("1e999999,", 40) + "1]"
	r := mkRecord(sch(runtime.SchemaJSON, ""), []byte(huge))
	if _, err := flat.Encode(nil, &r); err == nil || !strings.Contains(err.Error(), "exceeds 16 MiB") {
		t.Fatalf("flattened 1e999999 x40: %v", err)
	}
	if out, err := nested.Encode(nil, &r); err != nil || !strings.Contains(string(out), "1E+999999") {
		t.Fatalf("nested 1e999999 stays short: %v", err)
	}
	nulls := `{"type":"record","name":"N","fields":[{"name":"n","type":{"type":"array","items":"null"}}]}`
	million := aw{}.long(maxZeroSizeItems).long(0)
	r = mkRecord(sch(runtime.SchemaAvro, nulls), million)
	if _, err := flat.Encode(nil, &r); err == nil || !strings.Contains(err.Error(), "exceeds 16 MiB") {
		t.Fatalf("a million flattened nulls: %v", err)
	}
	out, err := nested.Encode(nil, &r)
	if err != nil || bytes.Count(out, []byte("null")) != maxZeroSizeItems {
		t.Fatalf("a million nulls: %d bytes, %v", len(out), err)
	}
	r = mkRecord(sch(runtime.SchemaAvro, nulls), aw{}.long(maxZeroSizeItems+1).long(0))
	if _, err := nested.Encode(nil, &r); err == nil || !strings.Contains(err.Error(), "items of a type that takes no bytes") {
		t.Fatalf("too many nulls: %v", err)
	}
}

// TestCollidingMapScales: a map of many keys sharing one hash lives in
// HashMap tree bins; the simulation must stay fast (Java's is O(n log n)).
func TestCollidingMapScales(t *testing.T) {
	keys := collidingKeys(14) // 16384 keys, one hash
	var w aw
	w = w.long(int64(len(keys)))
	for i, k := range keys {
		w = w.str(k).long(int64(i))
	}
	w = w.long(0)
	enc, _ := New(DefaultOptions())
	r := mkRecord(sch(runtime.SchemaAvro, mapDef(`"int"`, false)), w)
	start := time.Now()
	out, err := enc.Encode(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	var v struct{ Payload struct{ M map[string]int } }
	if err := json.Unmarshal(out, &v); err != nil || len(v.Payload.M) != len(keys) {
		t.Fatalf("%d keys back, %v", len(v.Payload.M), err)
	}
}
