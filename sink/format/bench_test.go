package format

import (
	"bytes"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// benchRecords are a typical plain record (1 KiB payload, a few
// properties) and a typical encrypted one.
func benchRecords() map[string]*runtime.RecordData {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64)
	props := map[string]string{"trace-id": "0af7651916cd43dd8448eb211c80319c", "source": "orders", "schema": "v3"}
	return map[string]*runtime.RecordData{
		"plain": {Topic: "persistent://public/default/bench", Payload: payload, Properties: props},
		"encrypted": {Topic: "persistent://public/default/bench", Payload: payload, Properties: props,
			Encryption: &runtime.EncryptionContext{
				Keys: map[string]runtime.EncryptionKey{
					"producer-key": {Value: bytes.Repeat([]byte{7}, 256), Metadata: map[string]string{"version": "3"}},
				},
				Param: make([]byte, 12), Algorithm: "RSA", CompressionType: "LZ4", UncompressedSize: 2048,
				BatchSize: 10, HasBatchSize: true,
			}},
	}
}

func benchmarkEncode(b *testing.B, f Format) {
	e := mustEncoder(b, f)
	for name, rec := range benchRecords() {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 8192)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = e.Encode(buf[:0], rec)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkEncodeRaw(b *testing.B)  { benchmarkEncode(b, OnlyRawPayload) }
func BenchmarkEncodeJSON(b *testing.B) { benchmarkEncode(b, FullMessageInJSON) }
func BenchmarkEncodeFB(b *testing.B)   { benchmarkEncode(b, FullMessageInFB) }

// BenchmarkEncodeManyProperties covers the slower ordering path (8 or more
// entries replay the Java table growth).
func BenchmarkEncodeManyProperties(b *testing.B) {
	rec := &runtime.RecordData{Payload: []byte("p"), Properties: numberedProps(40)}
	for _, f := range []Format{FullMessageInJSON, FullMessageInFB} {
		e := mustEncoder(b, f)
		b.Run(string(f), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = e.Encode(buf[:0], rec)
			}
		})
	}
}

// TestEncodeAllocs pins the steady state: once the pool is warm and dst
// has room, encoding a record allocates nothing.
func TestEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop entries")
	}
	recs := benchRecords()
	recs["many-properties"] = &runtime.RecordData{Payload: []byte("p"), Properties: numberedProps(40)}
	for _, f := range []Format{OnlyRawPayload, FullMessageInJSON, FullMessageInFB} {
		e := mustEncoder(t, f)
		for name, rec := range recs {
			buf := make([]byte, 0, 16384)
			allocs := testing.AllocsPerRun(100, func() {
				buf, _ = e.Encode(buf[:0], rec)
			})
			if allocs != 0 {
				t.Errorf("%s %s: %v allocations per record", f, name, allocs)
			}
		}
	}
}
