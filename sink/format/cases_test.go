package format

import (
	"fmt"
	"slices"

	"github.com/pulsar-kinesis/kinesis-sink/internal/javamap"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// testCase is one record the golden files and the Java reference cover.
type testCase struct {
	name string
	rec  runtime.RecordData
}

func encKey(value string, meta map[string]string) runtime.EncryptionKey {
	return runtime.EncryptionKey{Value: []byte(value), Metadata: meta}
}

func binaryPayload() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// sameBucketKeys returns n distinct keys "k<i>" whose Java HashMap hashes
// share the low 4 bits (one bucket of a 16-bucket table) but not all of
// bit 4, so whether the table grew to 32 buckets changes their order.
func sameBucketKeys(n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("k%d", i)
		if javamap.Spread(javamap.StringHash(k))&15 == 5 {
			keys = append(keys, k)
		}
	}
	return keys
}

func numberedProps(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("prop-%02d", i)] = fmt.Sprintf("value-%d", i)
	}
	return m
}

func keysProps(keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = fmt.Sprint(i)
	}
	return m
}

// testCases covers every branch of the three formats. Topic and message id
// do not reach the data blob; they are set so errors would name something.
func testCases() []testCase {
	special := map[string]string{
		"quote\"key":        "back\\slash and \"quotes\"",
		"html":              "<script>alert('x') & a=b</script>",
		"controls":          "tab\tnl\ncr\rbs\bff\fnul\x00us\x1fdel\x7f",
		"separators":        "line\u2028para\u2029end",
		"unicode-é-日本":      "Grüße, 日本語, emoji 😀, slash /",
		"emoji-😀-key":       "supplementary in the key changes the Java hash",
		"":                  "empty key",
		"empty-value":       "",
		"invalid-\xff-utf8": "bad \xc3( bytes",
	}
	cases := []testCase{
		{name: "no-properties", rec: runtime.RecordData{Payload: []byte("hello kinesis")}},
		{name: "empty-payload", rec: runtime.RecordData{Payload: nil}},
		{name: "binary-payload", rec: runtime.RecordData{Payload: binaryPayload()}},
		{name: "properties", rec: runtime.RecordData{
			Payload:    []byte(`{"a":1}`),
			Properties: map[string]string{"prop1": "value", "k": "v", "trace-id": "0af7651916cd43dd8448eb211c80319c"},
		}},
		{name: "properties-special", rec: runtime.RecordData{Payload: []byte("x"), Properties: special}},
		// "Aa" and "BB" have the same Java hash, as do all their
		// concatenations: one bucket, order decided by insertion order.
		{name: "properties-equal-hashes", rec: runtime.RecordData{
			Payload:    []byte("p"),
			Properties: map[string]string{"Aa": "1", "BB": "2", "AaAa": "3", "AaBB": "4", "BBAa": "5", "BBBB": "6", "C": "7"},
		}},
		// 13 entries: merge grows the table only before a 14th insert, so
		// Java keeps 16 buckets here (putVal would have 32).
		{name: "properties-13", rec: runtime.RecordData{Payload: []byte("p"), Properties: numberedProps(13)}},
		{name: "properties-14", rec: runtime.RecordData{Payload: []byte("p"), Properties: numberedProps(14)}},
		{name: "properties-30", rec: runtime.RecordData{Payload: []byte("p"), Properties: numberedProps(30)}},
		// 8 keys in one bucket: the 8th merge asks for a treeify, which
		// grows a 16-bucket table to 32 instead.
		{name: "properties-treeify-resize", rec: runtime.RecordData{Payload: []byte("p"), Properties: keysProps(sameBucketKeys(8))}},
		{name: "encrypted-minimal", rec: runtime.RecordData{
			Payload: []byte("ciphertext"),
			Encryption: &runtime.EncryptionContext{
				Keys:             map[string]runtime.EncryptionKey{"client-rsa.pem": encKey("encrypted-data-key", nil)},
				Param:            []byte("0123456789ab"),
				Algorithm:        "",
				CompressionType:  "NONE",
				UncompressedSize: 10,
			},
		}},
		{name: "encrypted-metadata-lz4-batch", rec: runtime.RecordData{
			Payload:    []byte{0xde, 0xad, 0xbe, 0xef},
			Properties: map[string]string{"prop1": "value"},
			Encryption: &runtime.EncryptionContext{
				Keys: map[string]runtime.EncryptionKey{
					"key1": encKey("test1", map[string]string{"ckms": "cmks-1", "version": "v1"}),
					"key2": encKey("test2", map[string]string{"ckms": "cmks-2", "version": "v2"}),
					"key3": encKey("test3", nil),
				},
				Param:            []byte("param"),
				Algorithm:        "algo",
				CompressionType:  "LZ4",
				UncompressedSize: 10,
				BatchSize:        10,
				HasBatchSize:     true,
			},
		}},
		{name: "encrypted-zlib", rec: runtime.RecordData{
			Payload: []byte("z"),
			Encryption: &runtime.EncryptionContext{
				Keys:             map[string]runtime.EncryptionKey{"k": encKey("v", map[string]string{"<m>": "'quoted' & \"more\""})},
				Param:            binaryPayload()[:12],
				Algorithm:        "RSA",
				CompressionType:  "ZLIB",
				UncompressedSize: 1 << 20,
			},
		}},
		// ZSTD keeps its name in JSON but is NONE in FlatBuffers.
		{name: "encrypted-zstd-batch-of-one", rec: runtime.RecordData{
			Payload: []byte("zs"),
			Encryption: &runtime.EncryptionContext{
				Keys:             map[string]runtime.EncryptionKey{"a": encKey("1", nil), "b": encKey("2", nil)},
				Param:            []byte{0},
				Algorithm:        "ECDSA",
				CompressionType:  "ZSTD",
				UncompressedSize: 3,
				BatchSize:        1,
				HasBatchSize:     true,
			},
		}},
		// No compression type at all (Java's null): JSON omits
		// compressionType and uncompressedMessageSize.
		{name: "encrypted-no-compression-no-keys", rec: runtime.RecordData{
			Payload: nil,
			Encryption: &runtime.EncryptionContext{
				Param:     []byte("iv"),
				Algorithm: "algo",
			},
		}},
	}
	for i := range cases {
		cases[i].rec.Topic = "persistent://public/default/format-test"
		cases[i].rec.Partition = -1
	}
	return cases
}

// sortedPairs lists a map as [key, value] pairs in ascending key order:
// the wire order the encoders assume (javamap.go), sanitised as Java would
// hold the strings.
func sortedPairs(m map[string]string) [][2]string {
	out := [][2]string{}
	for k, v := range m {
		out = append(out, [2]string{sanitizeUTF8(k), sanitizeUTF8(v)})
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if a[0] < b[0] {
			return -1
		}
		if a[0] > b[0] {
			return 1
		}
		return 0
	})
	return out
}
