// Package record is what a Pulsar record is to the sink: its payload, key,
// properties, topic, times and schema, as plain values with no dependency,
// so that the encoders and the router can be built and tested without a
// Pulsar client. Package runtime fills it from a received message (and
// re-exports these types under its own names); package schemafetch fills
// its Schema.
package record

import (
	"fmt"
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
