// Package format turns a Pulsar record into the data blob of a Kinesis
// record, byte for byte as Apache Pulsar's Java Kinesis sink does for its
// messageFormat setting:
//
//   - ONLY_RAW_PAYLOAD: the payload bytes as they are;
//   - FULL_MESSAGE_IN_JSON: payload, properties and encryption context as
//     Gson's JsonObject.toString writes them (json.go);
//   - FULL_MESSAGE_IN_FB: the same as a FlatBuffers Message of
//     flatbuf/kinesis_message.fbs (flatbuffers.go);
//   - FULL_MESSAGE_IN_JSON_EXPAND_VALUE: delegated to the encoder in
//     Options.Expand (package sink/expand).
//
// Where the Java output depends on Java map iteration order, javamap.go
// reproduces it. Encoders append to a caller-owned buffer and are safe for
// concurrent use.
//
// Evidence and decisions:
//
//   - Empty payloads are valid. Kinesis PutRecordsRequestEntry.Data has a
//     minimum length of 0 (Kinesis API reference), and the Java sink sends
//     an empty payload as an empty blob. aws-sdk-go-v2's validator rejects a
//     NIL Data (validatePutRecordsRequestEntry: "v.Data == nil"), so Encode
//     never returns nil: an empty result is a non-nil, zero-length slice.
//     Callers must not turn it back into nil.
//   - Invalid UTF-8 in property keys/values, key names or metadata is
//     written as U+FFFD, because the Java client decodes them with
//     replacement before the Java sink ever sees them.
package format

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// Format is the sink's messageFormat setting.
type Format string

// The message formats, named as in the Java sink's configuration.
const (
	// OnlyRawPayload sends the message payload unchanged (the default).
	OnlyRawPayload Format = "ONLY_RAW_PAYLOAD"
	// FullMessageInJSON sends payload, properties and encryption context
	// as JSON, binary fields in base64.
	FullMessageInJSON Format = "FULL_MESSAGE_IN_JSON"
	// FullMessageInFB sends the same content as a FlatBuffers Message.
	FullMessageInFB Format = "FULL_MESSAGE_IN_FB"
	// FullMessageInJSONExpandValue sends topic, key, the schema-decoded
	// value, properties and event time as JSON (package sink/expand).
	FullMessageInJSONExpandValue Format = "FULL_MESSAGE_IN_JSON_EXPAND_VALUE"
)

// Formats lists every supported format, the default first.
var Formats = []Format{OnlyRawPayload, FullMessageInJSON, FullMessageInFB, FullMessageInJSONExpandValue}

// ParseFormat reads a messageFormat value. Java accepts the exact enum
// names only; we also accept any letter case and surrounding blanks, and
// treat an empty value as the default ONLY_RAW_PAYLOAD (what Java does with
// a null format). Accepting more than Java cannot break a Java config.
func ParseFormat(s string) (Format, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return OnlyRawPayload, nil
	}
	for _, f := range Formats {
		if strings.EqualFold(t, string(f)) {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("messageFormat %q: allowed values are %s", s, strings.Join(names, ", "))
}

// Encoder builds the Kinesis data blob of a record. Encode appends it to dst
// (which may be nil or a pooled buffer) and returns the extended slice,
// never nil. Implementations are safe for concurrent use.
type Encoder interface {
	Encode(dst []byte, r *record.Data) ([]byte, error)
}

// Options configures New. The two JSON settings are the Java sink's
// jsonIncludeNonNulls (default true) and jsonFlatten (default false); they
// only concern FULL_MESSAGE_IN_JSON_EXPAND_VALUE and are carried here so the
// caller can build Expand from the same place it reads the format.
type Options struct {
	// JSONIncludeNonNulls: EXPAND_VALUE drops null fields.
	JSONIncludeNonNulls bool
	// JSONFlatten: EXPAND_VALUE flattens nested objects to dotted keys.
	JSONFlatten bool
	// IncludeMessageID: FULL_MESSAGE_IN_JSON ends each record with
	// "messageTopic" and "messageId" (jsonIncludeMessageId; the expand
	// encoder has the same option of its own).
	IncludeMessageID bool
	// Expand encodes FULL_MESSAGE_IN_JSON_EXPAND_VALUE (expand.New from
	// package sink/expand, built with the two settings above). It is a
	// field rather than an import so that package can depend on this one.
	// Required for that format, ignored for the others.
	Expand Encoder
}

// New returns the encoder for f.
func New(f Format, opts Options) (Encoder, error) {
	switch f {
	case OnlyRawPayload:
		return rawEncoder{}, nil
	case FullMessageInJSON:
		e := newJSONEncoder()
		e.messageID = opts.IncludeMessageID
		return e, nil
	case FullMessageInFB:
		return newFBEncoder(), nil
	case FullMessageInJSONExpandValue:
		if opts.Expand == nil {
			return nil, errors.New("messageFormat FULL_MESSAGE_IN_JSON_EXPAND_VALUE: no expand encoder configured (format.Options.Expand is nil)")
		}
		return expandEncoder{opts.Expand}, nil
	}
	// Not a canonical name: accept what ParseFormat accepts.
	p, err := ParseFormat(string(f))
	if err != nil {
		return nil, err
	}
	return New(p, opts)
}

// errNilRecord is returned for a nil record, which only a caller bug can
// produce.
var errNilRecord = errors.New("format: nil record")

// nonNil makes an empty result a non-nil slice (see the package comment).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// rawEncoder is ONLY_RAW_PAYLOAD: the payload, not decoded by any schema.
type rawEncoder struct{}

func (rawEncoder) Encode(dst []byte, r *record.Data) ([]byte, error) {
	if r == nil {
		return dst, errNilRecord
	}
	return nonNil(append(dst, r.Payload...)), nil
}

// expandEncoder wraps the EXPAND_VALUE encoder so its results follow this
// package's contract: non-nil data, dst unchanged on error. Its errors are
// passed through as they are; they are expected to name the record already
// (a schema decoding failure is about the record's own bytes).
type expandEncoder struct{ e Encoder }

func (x expandEncoder) Encode(dst []byte, r *record.Data) ([]byte, error) {
	if r == nil {
		return dst, errNilRecord
	}
	out, err := x.e.Encode(dst, r)
	if err != nil {
		return dst, err
	}
	return nonNil(out), nil
}
