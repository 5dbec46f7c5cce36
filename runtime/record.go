package runtime

import (
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// The record types live in package record, which has no dependencies, so
// that the encoders need no Pulsar client; these aliases make
// runtime.RecordData and record.Data one type.
type (
	RecordData        = record.Data
	EncryptionKey     = record.EncryptionKey
	EncryptionContext = record.EncryptionContext
	SchemaType        = record.SchemaType
	KeyValueEncoding  = record.KeyValueEncoding
	Schema            = record.Schema
)

const (
	SchemaNone           = record.SchemaNone
	SchemaString         = record.SchemaString
	SchemaJSON           = record.SchemaJSON
	SchemaProtobuf       = record.SchemaProtobuf
	SchemaAvro           = record.SchemaAvro
	SchemaBoolean        = record.SchemaBoolean
	SchemaInt8           = record.SchemaInt8
	SchemaInt16          = record.SchemaInt16
	SchemaInt32          = record.SchemaInt32
	SchemaInt64          = record.SchemaInt64
	SchemaFloat          = record.SchemaFloat
	SchemaDouble         = record.SchemaDouble
	SchemaDate           = record.SchemaDate
	SchemaTime           = record.SchemaTime
	SchemaTimestamp      = record.SchemaTimestamp
	SchemaKeyValue       = record.SchemaKeyValue
	SchemaInstant        = record.SchemaInstant
	SchemaLocalDate      = record.SchemaLocalDate
	SchemaLocalTime      = record.SchemaLocalTime
	SchemaLocalDateTime  = record.SchemaLocalDateTime
	SchemaProtobufNative = record.SchemaProtobufNative
	SchemaBytes          = record.SchemaBytes
	SchemaAutoConsume    = record.SchemaAutoConsume

	KeyValueInline    = record.KeyValueInline
	KeyValueSeparated = record.KeyValueSeparated
)

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
