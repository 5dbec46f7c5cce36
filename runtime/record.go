package runtime

import (
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/schematype"
)

// The schema types live in schematype so that schemafetch (which fills
// Record.Schema) and this package share one definition without an import
// cycle; these aliases make runtime.Schema and schematype.Schema one type.
type (
	SchemaType       = schematype.SchemaType
	KeyValueEncoding = schematype.KeyValueEncoding
	Schema           = schematype.Schema
)

const (
	SchemaNone           = schematype.SchemaNone
	SchemaString         = schematype.SchemaString
	SchemaJSON           = schematype.SchemaJSON
	SchemaProtobuf       = schematype.SchemaProtobuf
	SchemaAvro           = schematype.SchemaAvro
	SchemaBoolean        = schematype.SchemaBoolean
	SchemaInt8           = schematype.SchemaInt8
	SchemaInt16          = schematype.SchemaInt16
	SchemaInt32          = schematype.SchemaInt32
	SchemaInt64          = schematype.SchemaInt64
	SchemaFloat          = schematype.SchemaFloat
	SchemaDouble         = schematype.SchemaDouble
	SchemaDate           = schematype.SchemaDate
	SchemaTime           = schematype.SchemaTime
	SchemaTimestamp      = schematype.SchemaTimestamp
	SchemaKeyValue       = schematype.SchemaKeyValue
	SchemaInstant        = schematype.SchemaInstant
	SchemaLocalDate      = schematype.SchemaLocalDate
	SchemaLocalTime      = schematype.SchemaLocalTime
	SchemaLocalDateTime  = schematype.SchemaLocalDateTime
	SchemaProtobufNative = schematype.SchemaProtobufNative
	SchemaBytes          = schematype.SchemaBytes
	SchemaAutoConsume    = schematype.SchemaAutoConsume

	KeyValueInline    = schematype.KeyValueInline
	KeyValueSeparated = schematype.KeyValueSeparated
)

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
	// consumer and msg are set for records from a live instance.
	consumer pulsar.Consumer
	msg      pulsar.Message
	// The instance's pendingQueue links, guarded by its mutex.
	prev, next *Record
	queued     bool
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
