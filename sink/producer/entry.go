package producer

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

// Entry is one record to put. The producer keeps Data and the strings until
// the record resolves; the caller must not modify Data after Put.
type Entry struct {
	// Stream is the target stream name. Records of different streams are
	// batched separately.
	Stream string
	// PartitionKey routes the record (MD5 of the key picks the shard) and,
	// with RetainOrdering, defines the ordering scope. 1..256 Unicode
	// characters of valid UTF-8.
	PartitionKey string
	// ExplicitHashKey, when not empty, overrides the partition key hash for
	// routing: a decimal integer in [0, 2^128-1] without leading zeros.
	ExplicitHashKey string
	// Data is the record payload.
	Data []byte
	// Tag is carried through to the Result untouched, e.g. the sink's
	// *runtime.Record, so that one shared Callback can serve every entry
	// without a closure per record.
	Tag any
	// Callback receives the record's outcome exactly once, if Put returned
	// nil. It runs on a producer goroutine (or on Put's goroutine for
	// records rejected before buffering), must be quick, and must not call
	// Put, Flush or Close: the record's buffer space is freed only after it
	// returns. While it blocks, its goroutine sends nothing else; callbacks
	// that take seconds are logged (Options.Logger). Required.
	Callback func(Result)
}

// Result is the outcome of one record.
type Result struct {
	Tag          any
	Stream       string
	PartitionKey string
	// ShardID and SequenceNumber are set when Kinesis accepted the record.
	// With aggregation they are those of the aggregated Kinesis record that
	// carried it, shared by every user record in it.
	ShardID, SequenceNumber string
	// KinesisRecordUserRecords and KinesisRecordBytes describe the accepted
	// Kinesis record that carried this user record: how many user records
	// it held (1 unaggregated) and its data bytes.
	// FirstInKinesisRecord is true for exactly one user record of each
	// accepted Kinesis record, so that per-Kinesis-record metrics can be
	// counted once.
	KinesisRecordUserRecords, KinesisRecordBytes int
	FirstInKinesisRecord                         bool
	// DataBytes is len(Entry.Data), for metrics.
	DataBytes int
	// Attempts is how many PutRecords calls carried the record.
	Attempts int
	// Latency is the time from Put to this result.
	Latency time.Duration
	// Err is nil on success, else an *Error (see Kind for what to do).
	Err error
}

// streamRef returns the request fields that name stream: StreamARN when it
// is an ARN (what AWS recommends, and what a resource-based stream policy
// needs for writes from another account), else StreamName.
func streamRef(stream string) (name, arn *string) {
	if kinesisrules.IsStreamARN(stream) {
		return nil, &stream
	}
	return &stream, nil
}

// validateEntry checks what Kinesis would reject for this record alone
// (stream name, partition key, explicit hash key), so that one bad record
// never costs a request split. Sizes are checked by the caller, which knows
// the stream's limit.
func validateEntry(e *Entry) *Error {
	bad := func(format string, args ...any) *Error {
		return &Error{Kind: KindInvalid, Stream: e.Stream, Message: fmt.Sprintf(format, args...)}
	}
	if kinesisrules.IsStreamARN(e.Stream) {
		if _, ok := kinesisrules.ParseStreamARN(e.Stream); !ok {
			return bad("stream %q is not a valid stream ARN", errtext.Truncate(e.Stream, 200))
		}
	} else {
		if n := len(e.Stream); n < 1 || n > kinesisrules.MaxStreamNameChars {
			return bad("stream name has %d characters; allowed 1..%d", n, kinesisrules.MaxStreamNameChars)
		}
		for i := 0; i < len(e.Stream); i++ {
			if c := e.Stream[i]; !kinesisrules.StreamNameChar(c) {
				return bad("stream name contains %q; allowed letters, digits, '_', '.', '-'", c)
			}
		}
	}
	if !utf8.ValidString(e.PartitionKey) {
		return bad("partition key %q is not valid UTF-8", e.PartitionKey)
	}
	// Kinesis counts Unicode characters, not bytes.
	if n := utf8.RuneCountInString(e.PartitionKey); n < 1 || n > kinesisrules.MaxPartitionKeyChars {
		return bad("partition key has %d characters; allowed 1..%d", n, kinesisrules.MaxPartitionKeyChars)
	}
	if h := e.ExplicitHashKey; h != "" && !kinesisrules.ValidExplicitHashKey(h) {
		h = errtext.Truncate(h, 64)
		return bad("explicit hash key %q: allowed a decimal integer in [0, 2^128-1] without leading zeros", h)
	}
	return nil
}
