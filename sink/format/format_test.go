package format

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"":                                    OnlyRawPayload,
		"ONLY_RAW_PAYLOAD":                    OnlyRawPayload,
		"FULL_MESSAGE_IN_JSON":                FullMessageInJSON,
		"FULL_MESSAGE_IN_FB":                  FullMessageInFB,
		"FULL_MESSAGE_IN_JSON_EXPAND_VALUE":   FullMessageInJSONExpandValue,
		" full_message_in_fb ":                FullMessageInFB,
		"Full_Message_In_Json_Expand_Value\n": FullMessageInJSONExpandValue,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseFormat("FULL_MESSAGE_IN_XML")
	if err == nil {
		t.Fatal("ParseFormat accepted FULL_MESSAGE_IN_XML")
	}
	want := `messageFormat "FULL_MESSAGE_IN_XML": allowed values are ONLY_RAW_PAYLOAD, FULL_MESSAGE_IN_JSON, FULL_MESSAGE_IN_FB, FULL_MESSAGE_IN_JSON_EXPAND_VALUE`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// fakeExpand stands in for package sink/expand, which is built by a
// colleague; it only records that it was called.
type fakeExpand struct{ err error }

func (f fakeExpand) Encode(dst []byte, r *runtime.RecordData) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return append(dst, "expanded:"+r.Topic...), nil
}

func TestNew(t *testing.T) {
	if _, err := New(FullMessageInJSONExpandValue, Options{}); err == nil ||
		!strings.Contains(err.Error(), "FULL_MESSAGE_IN_JSON_EXPAND_VALUE") {
		t.Errorf("EXPAND_VALUE without an expand encoder: err = %v", err)
	}
	if _, err := New("BOGUS", Options{}); err == nil || !strings.Contains(err.Error(), `"BOGUS"`) {
		t.Errorf("New(BOGUS): err = %v", err)
	}
	// Non-canonical spelling and the empty default are accepted.
	e, err := New("full_message_in_json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(*jsonEncoder); !ok {
		t.Errorf("New(full_message_in_json) = %T", e)
	}
	if e, _ := New("", Options{}); e != (rawEncoder{}) {
		t.Errorf(`New("") = %T`, e)
	}

	// The expand encoder is called through, appending to dst.
	e, err = New(FullMessageInJSONExpandValue, Options{Expand: fakeExpand{}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Encode([]byte("pre|"), &runtime.RecordData{Topic: "t1"})
	if err != nil || string(out) != "pre|expanded:t1" {
		t.Errorf("expand Encode = %q, %v", out, err)
	}
	boom := errors.New("record t1: AVRO decode failed")
	e, _ = New(FullMessageInJSONExpandValue, Options{Expand: fakeExpand{err: boom}})
	dst := []byte("keep")
	out, err = e.Encode(dst, &runtime.RecordData{Topic: "t1"})
	if !errors.Is(err, boom) || string(out) != "keep" {
		t.Errorf("expand error: out %q, err %v", out, err)
	}
}

func TestEncodeAppendsAndNeverNil(t *testing.T) {
	for _, f := range []Format{OnlyRawPayload, FullMessageInJSON, FullMessageInFB} {
		e := mustEncoder(t, f)
		if _, err := e.Encode(nil, nil); err == nil {
			t.Errorf("%s: nil record accepted", f)
		}
		// An empty payload gives valid, non-nil data.
		out, err := e.Encode(nil, &runtime.RecordData{})
		if err != nil || out == nil {
			t.Errorf("%s: empty record: %v, nil=%v", f, err, out == nil)
		}
		// Appends after what dst holds, leaving it intact.
		rec := &runtime.RecordData{Payload: []byte("abc")}
		alone, _ := e.Encode(nil, rec)
		pre := []byte("prefix")
		out, err = e.Encode(pre, rec)
		if err != nil || string(out) != "prefix"+string(alone) {
			t.Errorf("%s: append: %q, %v", f, out, err)
		}
	}
	if out, _ := mustEncoder(t, OnlyRawPayload).Encode(nil, &runtime.RecordData{}); len(out) != 0 {
		t.Errorf("raw empty payload: %q", out)
	}
}

// TestGsonEscaping checks string escaping against Gson's JsonWriter rules
// (no HTML escaping in JsonElement.toString). Expectations are written by
// hand from those rules; TestJavaReference runs the real Gson.
func TestGsonEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                       `"plain"`,
		`a"b\c`:                       `"a\"b\\c"`,
		"\t\b\n\r\f":                  `"\t\b\n\r\f"`,
		"\x00\x01\x0b\x1f":            `"\u0000\u0001\u000b\u001f"`,
		"\x7f":                        "\"\x7f\"",
		"<a href='x'>&amp;</a> = 1/2": `"<a href='x'>&amp;</a> = 1/2"`,
		"\u2028\u2029":                `"\u2028\u2029"`,
		"é日本😀\u2027\u202a":            "\"é日本😀\u2027\u202a\"",
		"bad\xffbyte":                 "\"bad\uFFFDbyte\"",
		"cut\xe6\x97":                 "\"cut\uFFFD\uFFFD\"",
		"":                            `""`,
	} {
		if got := string(appendGsonString(nil, in)); got != want {
			t.Errorf("appendGsonString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestJSONHandWritten pins one complete message, written by hand from the
// Java sink's rules: properties in Java HashMap order ("prop1" falls in
// bucket 1 of 16, "k" in bucket 11, "key1" in 0 and "key2" in 1, as printed
// by JDK 17 for String.hashCode() spread by HashMap), keysMetadataMap
// listing only keys with metadata, compression and batch fields present.
func TestJSONHandWritten(t *testing.T) {
	rec := &runtime.RecordData{
		Payload:    []byte("payload"),
		Properties: map[string]string{"k": "v", "prop1": "value"},
		Encryption: &runtime.EncryptionContext{
			Keys: map[string]runtime.EncryptionKey{
				"key1": encKey("test1", map[string]string{"ckms": "cmks-1"}),
				"key2": encKey("test2", nil),
			},
			Param:            []byte("param"),
			Algorithm:        "algo",
			CompressionType:  "LZ4",
			UncompressedSize: 10,
			BatchSize:        10,
			HasBatchSize:     true,
		},
	}
	want := `{"payloadBase64":"cGF5bG9hZA==","properties":{"prop1":"value","k":"v"},` +
		`"encryptionCtx":{"keysMapBase64":{"key1":"dGVzdDE=","key2":"dGVzdDI="},` +
		`"keysMetadataMap":{"key1":{"ckms":"cmks-1"}},"encParamBase64":"cGFyYW0=","algorithm":"algo",` +
		`"compressionType":"LZ4","uncompressedMessageSize":10,"batchSize":10}}`
	got, err := mustEncoder(t, FullMessageInJSON).Encode(nil, rec)
	if err != nil || string(got) != want {
		t.Errorf("got  %s, %v\nwant %s", got, err, want)
	}
}

// TestConcurrentEncode runs the pooled encoders from several goroutines;
// with -race it catches shared builder state (the Java sink's bug).
func TestConcurrentEncode(t *testing.T) {
	cases := testCases()
	for _, f := range []Format{FullMessageInJSON, FullMessageInFB} {
		e := mustEncoder(t, f)
		want := make([][]byte, len(cases))
		for i, c := range cases {
			want[i], _ = e.Encode(nil, &c.rec)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf []byte
				for n := range 50 {
					i := (g + n) % len(cases)
					var err error
					buf, err = e.Encode(buf[:0], &cases[i].rec)
					if err != nil || string(buf) != string(want[i]) {
						t.Errorf("%s %s: concurrent output differs", f, cases[i].name)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}
