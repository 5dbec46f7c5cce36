package runtime

import (
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// SchemaType names a Pulsar schema type exactly as the broker reports it
// (the names of org.apache.pulsar.common.schema.SchemaType).
type SchemaType string

// The schema types a record can carry. A message published without a schema
// (or with BYTES) has a nil *Schema.
const (
	SchemaNone           SchemaType = "NONE"
	SchemaString         SchemaType = "STRING"
	SchemaJSON           SchemaType = "JSON"
	SchemaProtobuf       SchemaType = "PROTOBUF"
	SchemaAvro           SchemaType = "AVRO"
	SchemaBoolean        SchemaType = "BOOLEAN"
	SchemaInt8           SchemaType = "INT8"
	SchemaInt16          SchemaType = "INT16"
	SchemaInt32          SchemaType = "INT32"
	SchemaInt64          SchemaType = "INT64"
	SchemaFloat          SchemaType = "FLOAT"
	SchemaDouble         SchemaType = "DOUBLE"
	SchemaDate           SchemaType = "DATE"
	SchemaTime           SchemaType = "TIME"
	SchemaTimestamp      SchemaType = "TIMESTAMP"
	SchemaKeyValue       SchemaType = "KEY_VALUE"
	SchemaInstant        SchemaType = "INSTANT"
	SchemaLocalDate      SchemaType = "LOCAL_DATE"
	SchemaLocalTime      SchemaType = "LOCAL_TIME"
	SchemaLocalDateTime  SchemaType = "LOCAL_DATE_TIME"
	SchemaProtobufNative SchemaType = "PROTOBUF_NATIVE"
	SchemaBytes          SchemaType = "BYTES"
	SchemaAutoConsume    SchemaType = "AUTO_CONSUME"
)

// KeyValueEncoding says where a KEY_VALUE record keeps its key.
type KeyValueEncoding string

const (
	// KeyValueInline: the payload holds [4-byte BE key length][key][4-byte BE value length][value].
	KeyValueInline KeyValueEncoding = "INLINE"
	// KeyValueSeparated: the payload holds only the value; the key is the
	// message key, base64-encoded by the producer.
	KeyValueSeparated KeyValueEncoding = "SEPARATED"
)

// Schema is a topic schema version as stored by the broker. It is immutable
// and shared by every record of that version (fetched once, then cached).
type Schema struct {
	Type SchemaType
	// Name is the schema name the broker reports (often the topic name).
	Name string
	// Definition is the raw schema data: the AVRO/JSON schema text, the
	// PROTOBUF_NATIVE descriptor JSON, empty for primitives. For KEY_VALUE it
	// is the broker's encoded pair; use Key/Value instead.
	Definition []byte
	Properties map[string]string
	// Version is the schema version bytes the message carried.
	Version []byte

	// For KEY_VALUE only: the two component schemas and the encoding.
	Key, Value       *Schema
	KeyValueEncoding KeyValueEncoding
}

// EncryptionKey is one data key of an encrypted message, as Pulsar carries it.
type EncryptionKey struct {
	Value    []byte
	Metadata map[string]string
}

// EncryptionContext describes an encrypted payload that was forwarded
// without decryption. CompressionType uses Pulsar's names ("NONE", "LZ4",
// "ZLIB", "ZSTD", "SNAPPY").
type EncryptionContext struct {
	Keys             map[string]EncryptionKey
	Param            []byte
	Algorithm        string
	CompressionType  string
	UncompressedSize int
	BatchSize        int // 0 when the message was not a batch
	HasBatchSize     bool
}

// RecordData is everything the sink may read from a record. It is a plain
// struct so that encoders and routers can be tested without a broker.
type RecordData struct {
	Payload    []byte
	Key        string
	HasKey     bool
	Properties map[string]string
	// Topic is the full topic name including any -partition-N suffix.
	Topic string
	// Partition is the partition index, or -1 for a non-partitioned topic.
	Partition   int
	MessageID   pulsar.MessageID
	PublishTime time.Time
	// EventTime is zero when the producer did not set one.
	EventTime       time.Time
	RedeliveryCount uint32
	SchemaVersion   []byte
	// Schema is nil when the message carries no schema (raw bytes).
	Schema     *Schema
	Encryption *EncryptionContext
}

// Record is one message handed to a Sink. The sink must resolve it exactly
// once with Ack or Fail, from any goroutine; later calls are ignored, so
// the runtime's ack-timeout and shutdown paths cannot double-resolve.
type Record struct {
	RecordData

	resolved atomic.Bool
	received time.Time
	resolver resolver
}

// resolver is what the runtime (or a test) does when a record resolves.
type resolver interface {
	ack(r *Record)
	fail(r *Record, err error)
}

// Ack tells the runtime that the record is durably delivered. It reports
// whether this call resolved the record (false if it was already resolved).
func (r *Record) Ack() bool {
	if !r.resolved.CompareAndSwap(false, true) {
		return false
	}
	if r.resolver != nil {
		r.resolver.ack(r)
	}
	return true
}

// Fail tells the runtime that the record could not be delivered; err is the
// reason, counted and kept in the latest-exceptions list. The message is
// negatively acknowledged and redelivered by Pulsar (or dead-lettered by the
// consumer's DLQ policy). It reports whether this call resolved the record.
func (r *Record) Fail(err error) bool {
	if !r.resolved.CompareAndSwap(false, true) {
		return false
	}
	if r.resolver != nil {
		r.resolver.fail(r, err)
	}
	return true
}

// Resolved reports whether Ack or Fail has been called.
func (r *Record) Resolved() bool { return r.resolved.Load() }

// ReceivedAt is when the runtime took the record from the consumer.
func (r *Record) ReceivedAt() time.Time { return r.received }

// ResolveFuncs is a resolver built from two functions, for tests and tools
// that drive a Sink without a broker.
type ResolveFuncs struct {
	OnAck  func(r *Record)
	OnFail func(r *Record, err error)
}

func (f ResolveFuncs) ack(r *Record) {
	if f.OnAck != nil {
		f.OnAck(r)
	}
}

func (f ResolveFuncs) fail(r *Record, err error) {
	if f.OnFail != nil {
		f.OnFail(r, err)
	}
}

// NewRecord builds a record outside a running instance (tests, benchmarks).
// on receives the resolution.
func NewRecord(d RecordData, on ResolveFuncs) *Record {
	return &Record{RecordData: d, received: time.Now(), resolver: on}
}
