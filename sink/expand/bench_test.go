package expand

import (
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

func benchEncode(b *testing.B, opts Options, r runtime.RecordData) {
	enc, _ := New(opts)
	buf := make([]byte, 0, 4096)
	out, err := enc.Encode(buf[:0], &r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := enc.Encode(buf[:0], &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAvro(b *testing.B) {
	benchEncode(b, DefaultOptions(), utilsRecord(sch(runtime.SchemaAvro, utilsValueDef), utilsValue(b)))
}

func BenchmarkEncodeAvroFlat(b *testing.B) {
	benchEncode(b, Options{IncludeNonNulls: true, Flatten: true}, utilsRecord(sch(runtime.SchemaAvro, utilsValueDef), utilsValue(b)))
}

func BenchmarkEncodeAvroMap(b *testing.B) {
	var kv []any
	for i := range 50 {
		kv = append(kv, string(rune('a'+i%26))+string(rune('a'+i/26)), i)
	}
	benchEncode(b, DefaultOptions(), mkRecord(sch(runtime.SchemaAvro, mapDef(`"int"`, false)), aw{}.mapInts(kv...)))
}

func BenchmarkEncodeJSON(b *testing.B) {
	benchEncode(b, DefaultOptions(), utilsRecord(sch(runtime.SchemaJSON, utilsValueDef),
		[]byte(`{"c":"1","d":1,"e":{"a":"a","b":true,"d":1.0,"f":1.0,"i":1,"l":10}}`)))
}

func BenchmarkEncodeString(b *testing.B) {
	benchEncode(b, DefaultOptions(), utilsRecord(sch(runtime.SchemaString, ""), []byte("message-value")))
}
