// Package expand implements the FULL_MESSAGE_IN_JSON_EXPAND_VALUE message
// format of Apache Pulsar's Java Kinesis sink: the record's topic, key,
// value (decoded by its schema), properties and event time as one JSON
// object, optionally flattened to dotted keys.
//
// The output is byte-compatible with the Java sink (Pulsar 4.0.x on Java
// 19+): Jackson's field order, number formatting (Double.toString,
// BigDecimal.toString), string escaping and java.util.HashMap iteration
// order for maps, and json-flattener's key syntax and number narrowing.
// Where the Java sink throws instead of producing output, this package
// produces a documented value (see the "Java fails" notes in the code and
// README.md in this directory).
package expand

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pulsar-kinesis/kinesis-sink/internal/javamap"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// Options configures the encoder; they mirror the Java sink's settings.
type Options struct {
	// IncludeNonNulls is jsonIncludeNonNulls (Java default true): drop the
	// record fields that are absent (topicName, key, properties, eventTime,
	// payload) and null KEY_VALUE halves, as Jackson's Include.NON_NULL
	// does. Nulls inside the value itself (an Avro null field, a JSON null)
	// are always written, as in the Java sink. The zero Options keeps nulls;
	// use DefaultOptions for the Java defaults.
	IncludeNonNulls bool
	// Flatten is jsonFlatten (Java default false): flatten the JSON object
	// to "a.b[0].c" keys the way com.github.wnameless json-flattener does.
	Flatten bool
	// IncludeMessageID is jsonIncludeMessageId (default false): end each
	// record with "messageTopic" and "messageId", which the Java sink does
	// not write, so that consumers can drop duplicates.
	IncludeMessageID bool
}

// DefaultOptions are the Java sink's defaults (jsonIncludeNonNulls=true,
// jsonFlatten=false).
func DefaultOptions() Options { return Options{IncludeNonNulls: true} }

// Encoder converts records. It is safe for concurrent use; compiled schemas
// are cached, so the per-record work is decoding and writing.
type Encoder struct {
	opts     Options
	bySchema sync.Map // *record.Schema -> *compiled
	byDef    sync.Map // definition key -> *compiled
	cached   atomic.Int64
	pool     sync.Pool
}

// maxCached bounds each schema cache; past it the caches start over (schema
// versions are few, so this only guards against a runtime that hands out a
// new *Schema per record).
const maxCached = 4096

// New returns an encoder for opts.
func New(opts Options) (*Encoder, error) {
	e := &Encoder{opts: opts}
	e.pool.New = func() any { return new(emitter) }
	return e, nil
}

// Encode appends the JSON for r to dst. On error dst is returned unchanged
// and the error names the record, the schema and what failed.
//
// topicName is RecordData.Topic as is: the full name the broker reports
// ("persistent://tenant/ns/topic", with any -partition-N suffix), which is
// what the Java runtime's record.getTopicName() returns too.
func (enc *Encoder) Encode(dst []byte, r *record.Data) ([]byte, error) {
	if r == nil {
		return dst, errors.New("expand: nil record")
	}
	var c *compiled
	if r.Schema != nil {
		c = enc.compile(r.Schema)
		if c.err != nil {
			return dst, recordError(r, r.Schema, c.err, nil)
		}
	}
	e := enc.pool.Get().(*emitter)
	defer func() {
		e.buf = nil
		enc.pool.Put(e)
	}()
	e.reset(dst, enc.opts.Flatten)
	nonNull := enc.opts.IncludeNonNulls
	e.beginRoot()
	// JsonRecord's bean properties, in declaration order.
	switch {
	case r.Topic != "":
		e.name("topicName")
		e.text(r.Topic)
	case !nonNull:
		e.name("topicName")
		e.null()
	}
	switch {
	case r.HasKey:
		e.name("key")
		e.text(r.Key)
	case !nonNull:
		e.name("key")
		e.null()
	}
	e.name("payload")
	if c == nil {
		// No schema: the Java runtime reads the payload as BYTES.
		e.binary(r.Payload)
	} else if err := c.codec.emit(e, enc, r, r.Payload); err != nil {
		return dst, recordError(r, r.Schema, nil, err)
	}
	if e.err != nil {
		return dst, recordError(r, r.Schema, nil, e.err)
	}
	switch {
	case len(r.Properties) > 0:
		e.name("properties")
		enc.emitProperties(e, r.Properties)
	case !nonNull:
		e.name("properties")
		e.null()
	}
	switch {
	case !r.EventTime.IsZero() && r.EventTime.UnixMilli() != 0:
		// Pulsar's event time 0 means "not set", as in the Java runtime.
		e.name("eventTime")
		e.int64(r.EventTime.UnixMilli())
	case !nonNull:
		e.name("eventTime")
		e.null()
	}
	if enc.opts.IncludeMessageID {
		e.name("messageTopic")
		e.text(r.Topic)
		e.name("messageId")
		if r.MessageID == nil {
			e.null()
		} else {
			e.text(r.MessageIDText())
		}
	}
	e.endRoot()
	if e.err != nil {
		return dst, recordError(r, r.Schema, nil, e.err)
	}
	return e.buf, nil
}

func (enc *Encoder) emitProperties(e *emitter, props map[string]string) {
	// The Go client hands over a map, so the wire order (Java's insertion
	// order) is lost; ascending key order stands in for it. It only matters
	// for keys sharing a hash bucket, and it is the assumption the other
	// message formats make too.
	keys := make(javamap.StringKeys, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sortStrings(keys)
	e.beginObject()
	for _, i := range javaPropertiesOrder(keys) {
		e.name(keys[i])
		e.text(props[keys[i]])
	}
	e.endObject()
}

// codec decodes a payload of one schema and writes the converted value.
type codec interface {
	emit(e *emitter, enc *Encoder, r *record.Data, b []byte) error
}

type compiled struct {
	codec codec
	err   error
}

func (enc *Encoder) compile(s *record.Schema) *compiled {
	if c, ok := enc.bySchema.Load(s); ok {
		return c.(*compiled)
	}
	key := definitionKey(s)
	var c *compiled
	if v, ok := enc.byDef.Load(key); ok {
		c = v.(*compiled)
	} else {
		cd, err := compileSchema(s)
		c = &compiled{codec: cd, err: err}
		enc.remember(&enc.byDef, key, c)
	}
	enc.remember(&enc.bySchema, s, c)
	return c
}

func (enc *Encoder) remember(m *sync.Map, k any, c *compiled) {
	if enc.cached.Add(1) > 2*maxCached {
		enc.bySchema.Clear()
		enc.byDef.Clear()
		enc.cached.Store(0)
	}
	m.Store(k, c)
}

// definitionKey identifies what a compiled schema depends on.
func definitionKey(s *record.Schema) string {
	if s == nil {
		return ""
	}
	k := string(s.Type) + "\x00" + string(s.Definition)
	if s.Type == record.SchemaKeyValue {
		k += "\x00" + string(s.KeyValueEncoding) + "\x00" + definitionKey(s.Key) + "\x01" + definitionKey(s.Value)
	}
	return k
}

func compileSchema(s *record.Schema) (codec, error) {
	switch s.Type {
	case record.SchemaNone, record.SchemaBytes, "":
		return bytesCodec{}, nil
	case record.SchemaString:
		return stringCodec{}, nil
	case record.SchemaBoolean, record.SchemaInt8, record.SchemaInt16, record.SchemaInt32,
		record.SchemaInt64, record.SchemaFloat, record.SchemaDouble, record.SchemaDate,
		record.SchemaTime, record.SchemaTimestamp, record.SchemaInstant, record.SchemaLocalDate,
		record.SchemaLocalTime, record.SchemaLocalDateTime:
		return primitiveCodec{typ: s.Type}, nil
	case record.SchemaJSON:
		return jsonCodec{}, nil
	case record.SchemaAvro:
		return compileAvro(s.Definition)
	case record.SchemaProtobufNative:
		return compileProtobufNative(s.Definition)
	case record.SchemaKeyValue:
		return compileKeyValue(s)
	default:
		// PROTOBUF (the generated-class flavour) carries no descriptor we
		// could decode with; the Java sink rejects it (and every type not
		// handled above) with UnsupportedOperationException as well.
		return nil, fmt.Errorf("schema type %q is not supported by FULL_MESSAGE_IN_JSON_EXPAND_VALUE", s.Type)
	}
}

// decodeError says which schema failed on which part of the record.
type decodeError struct {
	part    string // "value", "KEY_VALUE key", "KEY_VALUE value"
	typ     record.SchemaType
	version string
	err     error
}

func (d *decodeError) Error() string {
	return fmt.Sprintf("%s %s does not decode with schema version %s: %v", d.typ, d.part, d.version, d.err)
}

func (d *decodeError) Unwrap() error { return d.err }

// schemaError is a schema definition this package cannot use.
type schemaError struct {
	typ     record.SchemaType
	version string
	err     error
}

func (s *schemaError) Error() string {
	return fmt.Sprintf("%s schema version %s is unusable: %v", s.typ, s.version, s.err)
}

func (s *schemaError) Unwrap() error { return s.err }

// RecordError is returned for a record that cannot be encoded. It names the
// topic and message id; Err says which schema and what failed.
type RecordError struct {
	Topic     string
	MessageID string
	Err       error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s %s: %v", e.Topic, e.MessageID, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

func recordError(r *record.Data, s *record.Schema, compileErr, err error) error {
	re := &RecordError{Topic: r.Topic, MessageID: "-"}
	if r.MessageID != nil {
		re.MessageID = r.MessageID.String()
	}
	version := "(none)"
	if s != nil {
		if v := schemaVersion(s.Version); v != "" {
			version = v
		} else if v := schemaVersion(r.SchemaVersion); v != "" {
			version = v
		}
	}
	switch {
	case compileErr != nil:
		re.Err = &schemaError{typ: s.Type, version: version, err: compileErr}
	default:
		var de *decodeError
		if !errors.As(err, &de) {
			typ := record.SchemaBytes
			if s != nil {
				typ = s.Type
			}
			de = &decodeError{part: "value", typ: typ, err: err}
		}
		de.version = version
		re.Err = de
	}
	return re
}

// schemaVersion renders Pulsar's 8-byte big-endian schema version.
func schemaVersion(v []byte) string {
	switch len(v) {
	case 0:
		return ""
	case 8:
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
	}
	return hex.EncodeToString(v)
}
