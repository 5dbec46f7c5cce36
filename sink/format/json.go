package format

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// FULL_MESSAGE_IN_JSON, as the Java sink writes it: a Gson JsonObject
// turned into text with JsonObject.toString(), then into bytes with
// String.getBytes() (the platform charset: UTF-8 on Java 18+ and on any
// UTF-8 locale, which is what we write).
//
//	{"payloadBase64":"…","properties":{…},"encryptionCtx":{
//	  "keysMapBase64":{name:base64,…},"keysMetadataMap":{name:{k:v,…},…},
//	  "encParamBase64":"…","algorithm":"…",
//	  "compressionType":"LZ4","uncompressedMessageSize":N,"batchSize":N}}
//
// Rules, from the Java code:
//   - "properties" is always present, "{}" when the message has none
//     (Java's getProperties() is never null for a received message);
//   - "encryptionCtx" only for an encrypted message; inside it,
//     "keysMetadataMap" is always present and lists only the keys that
//     have metadata; "compressionType" and "uncompressedMessageSize" only
//     when a compression type is set (always, for a message Java received:
//     the runtime should report "NONE" rather than ""), "batchSize" only
//     for a batch;
//   - base64 is java.util.Base64.getEncoder(): standard alphabet, padded;
//   - no whitespace; map entries in Java HashMap order (javamap.go).
//
// String escaping is Gson's JsonWriter without HTML escaping: toString()
// creates a plain JsonWriter, whose htmlSafe flag is false (only a Gson
// instance built without disableHtmlEscaping() sets it). So <, >, &, = and
// the apostrophe are written as they are. What JsonWriter always escapes:
// '"' and '\\' with a backslash; \t \b \n \r \f in short form; every other
// code point below U+0020 as \u00xx (lowercase hex); U+2028 and U+2029 as
// \u2028 and \u2029 (they end lines in JavaScript). Everything else,
// including U+007F and non-ASCII, is written raw in UTF-8.
type jsonEncoder struct {
	pool scratchPool
	// messageID: end each record with "messageTopic" and "messageId"
	// (jsonIncludeMessageId), which the Java sink does not write.
	messageID bool
}

func newJSONEncoder() *jsonEncoder { return &jsonEncoder{} }

func (e *jsonEncoder) Encode(dst []byte, r *record.Data) ([]byte, error) {
	if r == nil {
		return dst, errNilRecord
	}
	s := e.pool.get()
	defer e.pool.put(s)

	dst = append(dst, `{"payloadBase64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.Payload)
	dst = append(dst, `","properties":{`...)
	for i, p := range s.orderedProps(r.Properties) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendGsonString(dst, p.key)
		dst = append(dst, ':')
		dst = appendGsonString(dst, p.val)
	}
	dst = append(dst, '}')

	if enc := r.Encryption; enc != nil {
		keys := s.orderedKeys(enc.Keys)
		dst = append(dst, `,"encryptionCtx":{"keysMapBase64":{`...)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendGsonString(dst, k.key)
			dst = append(dst, `:"`...)
			dst = base64.StdEncoding.AppendEncode(dst, k.val.Value)
			dst = append(dst, '"')
		}
		dst = append(dst, `},"keysMetadataMap":{`...)
		first := true
		for _, k := range keys {
			if len(k.val.Metadata) == 0 {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendGsonString(dst, k.key)
			dst = append(dst, ":{"...)
			for j, m := range s.orderedMeta(k.val.Metadata) {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendGsonString(dst, m.key)
				dst = append(dst, ':')
				dst = appendGsonString(dst, m.val)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, `},"encParamBase64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, enc.Param)
		dst = append(dst, `","algorithm":`...)
		dst = appendGsonString(dst, enc.Algorithm)
		if enc.CompressionType != "" {
			dst = append(dst, `,"compressionType":`...)
			dst = appendGsonString(dst, enc.CompressionType)
			dst = append(dst, `,"uncompressedMessageSize":`...)
			dst = strconv.AppendInt(dst, int64(javaInt(enc.UncompressedSize)), 10)
		}
		if enc.HasBatchSize {
			dst = append(dst, `,"batchSize":`...)
			dst = strconv.AppendInt(dst, int64(javaInt(enc.BatchSize)), 10)
		}
		dst = append(dst, '}')
	}
	if e.messageID {
		dst = appendMessageID(dst, r)
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendGsonString appends s as a quoted JSON string escaped the way Gson's
// JsonWriter escapes it (see the type comment). Invalid UTF-8 bytes become
// U+FFFD, as in the string Java would hold.
func appendGsonString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending raw output
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '"':
				esc = `\"`
			case c == '\\':
				esc = `\\`
			case c == '\t':
				esc = `\t`
			case c == '\b':
				esc = `\b`
			case c == '\n':
				esc = `\n`
			case c == '\r':
				esc = `\r`
			case c == '\f':
				esc = `\f`
			case c < 0x20:
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
				i++
				start = i
				continue
			default:
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, esc...)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
		case r == '\u2028':
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u2028`...)
		case r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u2029`...)
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendMessageID writes ,"messageTopic":…,"messageId":… : where the record
// came from, which tells the copies of one Pulsar message (at-least-once
// delivery) from distinct messages.
func appendMessageID(dst []byte, r *record.Data) []byte {
	dst = append(dst, `,"messageTopic":`...)
	dst = appendGsonString(dst, r.Topic)
	dst = append(dst, `,"messageId":`...)
	if r.MessageID == nil {
		return append(dst, "null"...)
	}
	return appendGsonString(dst, r.MessageIDText())
}
