package producer

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

// Size units used by the defaults and limits below.
const (
	KiB = 1024
	MiB = 1024 * KiB
)

// Defaults applied by Options.withDefaults to zero-valued fields. Where the
// Java sink (through the KPL) has the same knob, the value is the same.
const (
	DefaultMaxRecordsPerRequest = 500                            // Java collectionMaxCount
	DefaultMaxBytesPerRequest   = 5 * MiB                        // Java collectionMaxSize 5242880
	DefaultLinger               = 100 * time.Millisecond         // KPL RecordMaxBufferedTime
	DefaultMaxInFlight          = 24                             // Java maxConnections
	DefaultRetryInitialDelay    = 100 * time.Millisecond         // Java retryInitialDelayInMillis
	DefaultRetryMaxDelay        = 60 * time.Second               // Java retryMaxDelayInMillis
	DefaultRecordTTL            = 30 * time.Second               // Java recordTtl
	DefaultRequestTimeout       = 6 * time.Second                // Java requestTimeout
	DefaultMaxBufferedRecords   = 10000                          // Flink KinesisStreamsSink maxBufferedRequests
	DefaultMaxBufferedBytes     = 64 * MiB                       // bounds memory; see MaxBufferedBytes
	DefaultMaxRecordSize        = kinesisrules.DefaultRecordSize // until DescribeStreamSummary says otherwise
	DefaultAggregationMaxSize   = 51200                          // KPL AggregationMaxSize
	DefaultAggregationMaxCount  = 4294967295                     // KPL AggregationMaxCount
)

// AggregationMode says whether and how user records are packed into KPL
// aggregated records (see Options.Aggregation).
type AggregationMode uint8

const (
	// AggregateNone sends every user record as one Kinesis record.
	AggregateNone AggregationMode = iota
	// AggregateByShard packs user records bound for the same shard,
	// predicted from the stream's shard map (ListShards), under the outer
	// partition key "a" and an explicit hash key inside that shard, as the
	// KPL does. While no shard map is available (not loaded yet, or
	// invalidated by a resharding) records are sent unaggregated.
	AggregateByShard
	// AggregateByKey packs only user records with the same partition key
	// (and explicit hash key), sent under that key: fewer records per
	// aggregate with many keys, but it needs no shard map and is immune to
	// resharding.
	AggregateByKey
)

func (m AggregationMode) String() string {
	switch m {
	case AggregateNone:
		return "none"
	case AggregateByShard:
		return "shard"
	case AggregateByKey:
		return "key"
	}
	return fmt.Sprintf("AggregationMode(%d)", uint8(m))
}

// Options configures a Producer. The zero value of every field means "use
// the default" (the Default* constants); New validates the result.
type Options struct {
	// MaxRecordsPerRequest caps the entries of one PutRecords request,
	// 1..500. A batch is sent as soon as it holds this many records.
	MaxRecordsPerRequest int

	// MaxBytesPerRequest caps one request's size counted the way the service
	// counts it: data bytes plus the UTF-8 bytes of every partition key
	// (explicit hash keys do not count). 1 KiB..10 MiB. A batch is sent as
	// soon as adding the next record would pass it. A single record larger
	// than this (possible only on streams with a raised maximum record size)
	// is sent in a request of its own. The default 5 MiB also keeps the
	// base64-encoded body under kinesalite's 7 MiB body limit; above that
	// kinesalite answers 413 and the producer splits the request.
	MaxBytesPerRequest int

	// Linger is how long the oldest buffered record of a stream may wait for
	// its batch to fill before the batch is sent anyway. It trades latency
	// for fuller requests. Zero means the default; a negative value means no
	// waiting (send whatever is buffered as soon as a sender is free).
	// Flush and Close send at once regardless.
	Linger time.Duration

	// MaxInFlight is the number of PutRecords requests in flight at once
	// across the whole producer (all streams), which is also the number of
	// sender goroutines. The HTTP client given to the Kinesis client should
	// keep at least this many idle connections per host (see NewHTTPClient),
	// or connections are torn down and re-dialled under load.
	MaxInFlight int

	// MaxInFlightBytes bounds the data + partition key bytes of the
	// requests in flight at once: no request starts while they reach it
	// (one always may, whatever its size). A request in flight is held
	// twice, as its records and as its encoded body (base64, and aggregates
	// once more), so with large records MaxInFlight requests of
	// MaxBytesPerRequest would otherwise dwarf the buffer. Zero means a
	// quarter of MaxBufferedBytes, at least MaxBytesPerRequest.
	MaxInFlightBytes int64

	// RetryInitialDelay is the backoff before a failed record's first retry;
	// it doubles with every further attempt up to RetryMaxDelay. These are
	// real milliseconds (the Java sink schedules its retries in
	// microseconds, making them 1000 times shorter than configured). A
	// random jitter of up to half the delay is subtracted so that records
	// that failed together do not retry together.
	RetryInitialDelay time.Duration

	// RetryMaxDelay caps the backoff between two attempts of one record, and
	// the per-shard throttling backoff.
	RetryMaxDelay time.Duration

	// RecordTTL is how long after Put a record may keep being retried. When
	// the next attempt could only start after that, the record fails with
	// KindTTLExpired (the sink then applies its failure policy). Keep it
	// below the Pulsar consumer's ack timeout, or Pulsar redelivers records
	// the producer is still retrying. Zero means the default; a negative
	// value means records never expire (they retry until Close).
	//
	// RecordTTL does not apply with RetainOrdering: there a record that
	// keeps failing with retriable errors is retried until it succeeds (as
	// the Java sink's retainOrdering does), because a record given up on
	// comes back from Pulsar only after later records of its key were
	// written. Only non-retriable errors end such a record early.
	RecordTTL time.Duration

	// RequestTimeout bounds one PutRecords call, from sending to the parsed
	// response. A call that times out is retried; it may have succeeded, so
	// the retry can write duplicates (at-least-once).
	RequestTimeout time.Duration

	// MaxBufferedRecords bounds the records the producer holds: queued,
	// waiting for a retry, or in flight. Put blocks while the bound is
	// reached; that is the backpressure that reaches Pulsar. It should be
	// well above MaxRecordsPerRequest, or requests never fill.
	MaxBufferedRecords int

	// MaxBufferedBytes bounds the data + partition key bytes of the records
	// the producer holds, like MaxBufferedRecords. A record bigger than the
	// whole bound is still accepted when nothing else is buffered, so that
	// it cannot block forever.
	MaxBufferedBytes int64

	// RetainOrdering makes records with the same stream and partition key
	// reach Kinesis in the order Put was called, retries included: a record
	// is not sent before the previous record of its key has succeeded or
	// finally failed. Different keys still go in parallel. Each key then has
	// at most one record in flight, so one key's throughput is about one
	// record per request round trip; it suits many-key workloads. Without
	// it, the producer favours throughput and Kinesis may store a key's
	// records out of order after a partial failure.
	RetainOrdering bool

	// MaxRecordSize is the largest record (data + UTF-8 partition key) the
	// producer accepts for a stream whose own limit it does not know;
	// 1 KiB..10 MiB. Prepare reads the stream's MaxRecordSizeInKiB from
	// DescribeStreamSummary, which then wins (kinesalite does not report
	// it). Bigger records fail at once with KindOversize.
	MaxRecordSize int

	// FailIfThrottled fails records at their first
	// ProvisionedThroughputExceededException (KindThrottled) instead of
	// retrying them, as the KPL's FailIfThrottled does: for users who would
	// rather have the sink's failure policy deal with an overloaded stream
	// at once than let records wait out RecordTTL.
	FailIfThrottled bool

	// Aggregation packs many user records into one Kinesis record in the
	// KPL aggregated format (consumers must de-aggregate: KCL, Lambda with
	// the KPL de-aggregation libraries, aws-kinesis-agg). User records stay
	// the unit of buffering, TTL, retries, ordering and results: records are
	// aggregated when a request is cut, and when an aggregate fails its user
	// records are retried individually (and aggregated again). Zero
	// (AggregateNone) sends one Kinesis record per user record.
	Aggregation AggregationMode

	// AggregationMaxSize caps one aggregated record, counted as Kinesis
	// counts it: the encoded aggregate plus its outer partition key; the
	// stream's maximum record size caps it too. A user record that does not
	// fit an aggregate of its own is sent unaggregated. 64..10 MiB; zero
	// means DefaultAggregationMaxSize.
	AggregationMaxSize int

	// AggregationMaxCount caps the user records of one aggregate; zero means
	// DefaultAggregationMaxCount (no practical limit).
	AggregationMaxCount int64

	// RateLimit caps what the producer sends to each shard, as a
	// percentage of the shard's write limits (1000 Kinesis records/s and
	// 1 MiB/s of data + partition key bytes), as the KPL's RateLimit does:
	// each predicted shard has a token bucket of that rate holding one
	// second's worth, and records over it wait, in order, instead of being
	// sent and throttled; an aggregate counts as one record of its size.
	// Shards are predicted from the stream's shard map (ListShards, loaded
	// for this even without AggregateByShard); while no map is known,
	// nothing is limited. The limit is per producer: several instances
	// writing to one shard each get the whole rate, unless the caller gives
	// each its share. 150 (the Java sink's default) lets one producer
	// saturate a shard. Zero means no limit; fractions are allowed.
	RateLimit float64

	// AdaptiveRateLimit lets Kinesis's answers lower a shard's RateLimit:
	// a throttled response cuts the shard's rates to the share of its
	// records that got through, 0.7 to 0.9 of what they were (once per
	// round trip, and only while the producer sends the shard at least
	// half its limit and at least 1% of the shard's own limits), and they
	// climb back by 3% of RateLimit a second, so that a saturated shard
	// runs just under what Kinesis grants instead of having a share of
	// every request refused and retried (at RateLimit 150, about a third),
	// and writers sharing a shard settle on shares of it. Without it
	// RateLimit is fixed, as in the KPL.
	AdaptiveRateLimit bool

	// Hooks receive metrics events; every hook is optional.
	Hooks Hooks

	// Logger receives the producer's own warnings (callbacks that keep a
	// goroutine for seconds); nil means slog.Default().
	Logger *slog.Logger

	// Rand is the source of the retry backoffs' jitter; nil means
	// math/rand/v2's global source. A seeded source makes a run's delays
	// repeatable (the simulation passes one per seed). The producer uses it
	// under its own lock only, so a *rand.Rand needs no locking of its own,
	// but it must not be shared with anything else.
	Rand *rand.Rand
}

// Hooks are callbacks for metrics. They run on the producer's goroutines,
// concurrently with each other, so they must be safe for concurrent use,
// quick, and must not call back into the Producer.
type Hooks struct {
	// OnRequest is called after every PutRecords call, including each half
	// of a split request and calls that failed as a whole.
	OnRequest func(RequestInfo)

	// OnEntryError is called for every entry of a response that carries a
	// per-entry ErrorCode, and for every entry of a request that failed as a
	// whole; Retried says whether the record will be tried again.
	OnEntryError func(EntryErrorInfo)

	// OnPutBlocked is called when Put had to wait for buffer space, with how
	// long it waited (also when it gave up because its context ended).
	OnPutBlocked func(time.Duration)

	// OnShardMap is called after every attempt to load a stream's shard map
	// (AggregateByShard or RateLimit), for logging.
	OnShardMap func(ShardMapInfo)
}

// ShardMapInfo describes one load of a stream's shard map.
type ShardMapInfo struct {
	Stream string
	// Reason is why it was loaded: "start", "mismatch" (an aggregate landed
	// on another shard than predicted), "retry" (the previous load failed).
	Reason string
	// Shards is the number of open shards, when Err is nil.
	Shards int
	Err    error
}

// RequestInfo describes one PutRecords call.
type RequestInfo struct {
	Stream string
	// Records and Bytes are the entries (Kinesis records) sent and their
	// data + key bytes; UserRecords counts the user records they carry
	// (more than Records with aggregation).
	Records, Bytes, UserRecords int
	// Failed is the number of entries not accepted (all of them when the
	// call failed as a whole).
	Failed int
	// ErrorCode is the whole-call error code, "" when the call returned a
	// response (which may still hold per-entry failures).
	ErrorCode string
	Duration  time.Duration
}

// EntryErrorInfo describes one entry that Kinesis did not accept.
type EntryErrorInfo struct {
	Stream string
	// ShardID is the shard named in a throttling message, "" if unknown.
	ShardID string
	Code    string
	Retried bool
}

func (o Options) withDefaults() Options {
	if o.MaxRecordsPerRequest == 0 {
		o.MaxRecordsPerRequest = DefaultMaxRecordsPerRequest
	}
	if o.MaxBytesPerRequest == 0 {
		o.MaxBytesPerRequest = DefaultMaxBytesPerRequest
	}
	switch {
	case o.Linger == 0:
		o.Linger = DefaultLinger
	case o.Linger < 0:
		o.Linger = 0
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.RetryInitialDelay == 0 {
		o.RetryInitialDelay = DefaultRetryInitialDelay
	}
	if o.RetryMaxDelay == 0 {
		o.RetryMaxDelay = DefaultRetryMaxDelay
	}
	switch {
	case o.RetainOrdering:
		o.RecordTTL = -1 // see RecordTTL
	case o.RecordTTL == 0:
		o.RecordTTL = DefaultRecordTTL
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxBufferedRecords == 0 {
		o.MaxBufferedRecords = DefaultMaxBufferedRecords
	}
	if o.MaxBufferedBytes == 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.MaxInFlightBytes == 0 {
		o.MaxInFlightBytes = max(o.MaxBufferedBytes/4, int64(o.MaxBytesPerRequest))
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.AggregationMaxSize == 0 {
		o.AggregationMaxSize = DefaultAggregationMaxSize
	}
	if o.AggregationMaxCount == 0 {
		o.AggregationMaxCount = DefaultAggregationMaxCount
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.MaxRecordsPerRequest < 1 || o.MaxRecordsPerRequest > kinesisrules.MaxRecordsPerRequest:
		return fmt.Errorf("producer option MaxRecordsPerRequest=%d: allowed 1..%d", o.MaxRecordsPerRequest, kinesisrules.MaxRecordsPerRequest)
	case o.MaxBytesPerRequest < KiB || o.MaxBytesPerRequest > kinesisrules.MaxBytesPerRequest:
		return fmt.Errorf("producer option MaxBytesPerRequest=%d: allowed %d..%d bytes", o.MaxBytesPerRequest, KiB, kinesisrules.MaxBytesPerRequest)
	case o.MaxInFlight < 1 || o.MaxInFlight > 10000:
		return fmt.Errorf("producer option MaxInFlight=%d: allowed 1..10000", o.MaxInFlight)
	case o.RetryInitialDelay < time.Millisecond:
		return fmt.Errorf("producer option RetryInitialDelay=%s: allowed at least 1ms", o.RetryInitialDelay)
	case o.RetryMaxDelay < o.RetryInitialDelay:
		return fmt.Errorf("producer option RetryMaxDelay=%s: allowed at least RetryInitialDelay (%s)", o.RetryMaxDelay, o.RetryInitialDelay)
	case o.RequestTimeout < time.Millisecond:
		return fmt.Errorf("producer option RequestTimeout=%s: allowed at least 1ms", o.RequestTimeout)
	case o.MaxBufferedRecords < 1:
		return fmt.Errorf("producer option MaxBufferedRecords=%d: allowed at least 1", o.MaxBufferedRecords)
	case o.MaxBufferedBytes < 1:
		return fmt.Errorf("producer option MaxBufferedBytes=%d: allowed at least 1", o.MaxBufferedBytes)
	case o.MaxInFlightBytes < 1:
		return fmt.Errorf("producer option MaxInFlightBytes=%d: allowed at least 1", o.MaxInFlightBytes)
	case o.MaxRecordSize < KiB || o.MaxRecordSize > kinesisrules.MaxRecordSize:
		return fmt.Errorf("producer option MaxRecordSize=%d: allowed %d..%d bytes", o.MaxRecordSize, KiB, kinesisrules.MaxRecordSize)
	case o.Aggregation > AggregateByKey:
		return fmt.Errorf("producer option Aggregation=%d: allowed AggregateNone, AggregateByShard, AggregateByKey", o.Aggregation)
	case o.AggregationMaxSize < 64 || o.AggregationMaxSize > kinesisrules.MaxRecordSize:
		return fmt.Errorf("producer option AggregationMaxSize=%d: allowed 64..%d bytes", o.AggregationMaxSize, kinesisrules.MaxRecordSize)
	case o.RateLimit < 0 || math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0):
		return fmt.Errorf("producer option RateLimit=%g: allowed 0 (no limit) or a positive percentage", o.RateLimit)
	case o.AggregationMaxCount < 1:
		return fmt.Errorf("producer option AggregationMaxCount=%d: allowed at least 1", o.AggregationMaxCount)
	}
	return nil
}

// NewHTTPClient returns an HTTP client for the Kinesis client that keeps
// enough idle connections for MaxInFlight concurrent requests (Go's default
// keeps 2 per host, so most connections would be re-dialled under load).
// It sets no overall timeout: the producer bounds each call with
// RequestTimeout through its context.
func NewHTTPClient(o Options) *awshttp.BuildableClient {
	n := o.withDefaults().MaxInFlight
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = n + 8
		t.MaxIdleConnsPerHost = n + 8
	})
}
