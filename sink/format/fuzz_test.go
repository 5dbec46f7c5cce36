package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pulsar-kinesis/kinesis-sink/flatbuf/kinesisfbs"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// fuzzRecord builds a record from fuzz inputs: props holds key/value pairs
// separated by NUL bytes; with encKey set the record carries an encryption
// context with that key name.
func fuzzRecord(payload []byte, key, props, encKey string, encValue []byte) *runtime.RecordData {
	r := &runtime.RecordData{Payload: payload, Key: key, HasKey: key != "", Topic: "persistent://public/default/fuzz", Partition: -1}
	if props != "" {
		parts := strings.Split(props, "\x00")
		r.Properties = map[string]string{}
		for i := 0; i+1 < len(parts); i += 2 {
			r.Properties[parts[i]] = parts[i+1]
		}
	}
	if encKey != "" {
		r.Encryption = &runtime.EncryptionContext{
			Keys:            map[string]runtime.EncryptionKey{encKey: {Value: encValue, Metadata: map[string]string{encKey: key}}},
			Param:           encValue,
			Algorithm:       key,
			CompressionType: "LZ4", UncompressedSize: len(payload), BatchSize: len(props), HasBatchSize: len(props)%2 == 0,
		}
	}
	return r
}

// FuzzEncode runs the raw, JSON and FlatBuffers encoders on arbitrary
// records. None may panic or fail; each appends to dst, is deterministic,
// and keeps the payload: raw as it is, JSON as valid JSON whose
// payloadBase64 decodes to it, FlatBuffers as a Message whose payload
// vector holds it and whose property count matches.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("plain-bytes"), "", "", "", []byte(nil))
	f.Add([]byte("message-value"), "message-key", "prop-key\x00prop-value", "", []byte(nil))
	f.Add([]byte{}, "k", "a\x00\x00\x00b\x00<>&='\u2028", "", []byte(nil))
	f.Add([]byte{0xff, 0x00, 0x80}, "\xff", "\xc3\x28\x00\xed\xa0\x80", "key1", []byte{1, 2, 3})
	f.Add([]byte("encrypted"), "algo", "x\x00y", "k\x00", []byte{})
	encs := map[Format]Encoder{}
	for _, fm := range []Format{OnlyRawPayload, FullMessageInJSON, FullMessageInFB} {
		e, err := New(fm, Options{})
		if err != nil {
			f.Fatal(err)
		}
		encs[fm] = e
	}
	f.Fuzz(func(t *testing.T, payload []byte, key, props, encKey string, encValue []byte) {
		r := fuzzRecord(payload, key, props, encKey, encValue)
		prefix := []byte("dst")
		for fm, e := range encs {
			out, err := e.Encode(append([]byte(nil), prefix...), r)
			if err != nil {
				t.Fatalf("%s: %v", fm, err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("%s: dst not kept", fm)
			}
			data := out[len(prefix):]
			again, err := e.Encode(nil, r)
			if err != nil || again == nil || !bytes.Equal(again, data) {
				t.Fatalf("%s: not deterministic (or nil): %v", fm, err)
			}
			switch fm {
			case OnlyRawPayload:
				if !bytes.Equal(data, payload) {
					t.Fatal("raw: payload changed")
				}
			case FullMessageInJSON:
				if !json.Valid(data) || !utf8.Valid(data) {
					t.Fatalf("json: invalid output %q", data)
				}
				var m struct {
					PayloadBase64 string            `json:"payloadBase64"`
					Properties    map[string]string `json:"properties"`
				}
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatalf("json: %v in %q", err, data)
				}
				got, err := base64.StdEncoding.DecodeString(m.PayloadBase64)
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("json: payloadBase64 %q does not hold the payload", m.PayloadBase64)
				}
			case FullMessageInFB:
				msg := kinesisfbs.GetRootAsMessage(data, 0)
				if msg.PayloadLength() != len(payload) {
					t.Fatalf("fb: payload length %d, want %d", msg.PayloadLength(), len(payload))
				}
				for i := range payload {
					if byte(msg.Payload(i)) != payload[i] {
						t.Fatalf("fb: payload byte %d differs", i)
					}
				}
				if msg.PropertiesLength() != len(r.Properties) {
					t.Fatalf("fb: %d properties, want %d", msg.PropertiesLength(), len(r.Properties))
				}
			}
		}
	})
}
