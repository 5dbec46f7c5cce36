// Package record is what a Pulsar record is to the sink: its payload, key,
// properties, topic, times and schema, as plain values with no dependency,
// so that the encoders and the router can be built and tested without a
// Pulsar client. Package runtime fills it from a received message (and
// re-exports these types under its own names); package schemafetch fills
// its Schema.
package record

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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

// Data is everything the sink may read from a record.
type Data struct {
	Payload    []byte
	Key        string
	HasKey     bool
	Properties map[string]string
	// Topic is the full topic name including any -partition-N suffix.
	Topic string
	// Partition is the partition index, or -1 for a non-partitioned topic.
	Partition int
	// MessageID is the Pulsar message id (a pulsar.MessageID from a live
	// consumer); the sink only prints it.
	MessageID   fmt.Stringer
	PublishTime time.Time
	// EventTime is zero when the producer did not set one.
	EventTime       time.Time
	RedeliveryCount uint32
	SchemaVersion   []byte
	// Schema is nil when the message carries no schema (raw bytes).
	Schema     *Schema
	Encryption *EncryptionContext
}

// messageIDParts are the parts of a Pulsar message id (pulsar.MessageID has
// these methods).
type messageIDParts interface {
	LedgerID() int64
	EntryID() int64
	PartitionIdx() int32
	BatchIdx() int32
}

// MessageIDText is the record's message id in full,
// "<ledger>:<entry>:<partition>:<batch index>", as Pulsar's Java client
// prints a batched message's id: unique within the topic. (The Go client's
// String() leaves the batch index out, so the messages of one batch would
// share it.) "" when the record has no id.
func (d *Data) MessageIDText() string {
	switch id := d.MessageID.(type) {
	case nil:
		return ""
	case messageIDParts:
		b := make([]byte, 0, 48)
		b = strconv.AppendInt(b, id.LedgerID(), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, id.EntryID(), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(id.PartitionIdx()), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(id.BatchIdx()), 10)
		return string(b)
	default:
		return id.String()
	}
}

// Errorf is an error about the record, named by topic and full message id
// ("record <topic> <ledger:entry:partition:batch>: ..."): the one way
// failures name a record, so that a log line or a dead letter's reason
// points at one message, not at its whole batch. format may use %w.
func (d *Data) Errorf(format string, args ...any) error {
	return fmt.Errorf("record %s %s: "+format, append([]any{d.Topic, d.MessageIDText()}, args...)...)
}

// PartitionOf is the partition index in a topic name ("...-partition-3"
// is 3), or -1 for a non-partitioned topic.
func PartitionOf(topic string) int {
	i := strings.LastIndex(topic, "-partition-")
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(topic[i+len("-partition-"):])
	if err != nil {
		return -1
	}
	return n
}
