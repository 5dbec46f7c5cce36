// Package producer is the Kinesis send path of the sink: it batches records
// into PutRecords requests, bounds memory with backpressure, retries only
// what failed, classifies errors, optionally keeps per-key order, and
// reports each record's outcome once Kinesis has accepted it (or why not).
//
// # Layers
//
// What to send, how to build a request and how to retry are separate, as in
// Vector's sinks:
//
//   - Intake (Put): validates the entry (stream name, partition key of 1..256
//     characters, explicit hash key, size against the stream's maximum record
//     size), reserves buffer space or blocks until there is some, and queues
//     the record on its stream. Nothing is sent from the caller's goroutine.
//   - Dispatch (one goroutine): decides when a stream's queue becomes a
//     request: when it holds MaxRecordsPerRequest records or
//     MaxBytesPerRequest bytes, when its oldest record has waited Linger (a
//     retried record lingers again from the end of its backoff), and at once
//     on Flush/Close. It cuts batches (retries and
//     released same-key records first, then fresh ones, up to the count and
//     byte limits), keeps at most MaxInFlight in flight, moves records whose
//     backoff has elapsed back into the queues, and expires records past
//     RecordTTL. One timer serves every deadline; there are no per-record
//     goroutines or timers.
//   - Send (MaxInFlight sender goroutines): each builds one PutRecords request
//     from a batch, calls Kinesis with RequestTimeout, and maps the response
//     to per-entry outcomes by index. A request rejected as too large (HTTP
//     413) or invalid (InvalidArgumentException, ValidationException) is
//     halved and each half sent, so one bad entry fails alone.
//   - Classify (errors.go): error codes and HTTP status to a fate: retry,
//     split, or fail as fatal. Per-entry codes and whole-request errors use
//     the same table; unknown codes are retried (RecordTTL bounds them).
//
// # Aggregation (Options.Aggregation)
//
// User records stay the unit of everything above; aggregation happens only
// when a batch is cut (aggregate.go). The cut groups the records it takes
// by predicted shard (AggregateByShard: the stream's shard map from
// ListShards, MD5 of the key or the explicit hash key) or by key
// (AggregateByKey) and packs each group into KPL aggregated records
// (sink/kpl), counting sizes exactly with a kpl.Sizer so that no aggregate
// passes AggregationMaxSize or the stream's record size limit, outer key
// included. Entries, not user records, then count against
// MaxRecordsPerRequest and MaxBytesPerRequest. The sender encodes the
// aggregates into one pooled buffer per request, outside the lock.
//
// An entry's outcome applies to all its user records: a throttled or
// failed aggregate sends its records back to the retry queue one by one,
// and the next cut aggregates them again with whatever else is due. An
// aggregate Kinesis stored on another shard than predicted (resharding)
// invalidates the shard map it was cut with and its records are retried;
// until a fresh map is loaded, records are sent unaggregated, as the KPL
// does.
//
// # Retries
//
// Only entries that failed are retried: after a partial failure
// (FailedRecordCount > 0) the entries with an ErrorCode, matched by index,
// go back to their stream's priority queue after their backoff and are
// merged into the next request ahead of fresh records. The backoff is
// exponential per record (RetryInitialDelay doubling to RetryMaxDelay, with
// jitter) and, for ProvisionedThroughputExceededException, at least the
// backoff of the shard named in the error message: a per-shard delay that
// doubles while that shard keeps throttling and halves while it accepts
// records, so a hot shard slows down without holding back the others. A
// record whose next attempt would start after its TTL fails with
// KindTTLExpired.
//
// A request that fails as a whole with a retriable error (unreachable
// endpoint, timeout, HTTP 5xx, request-level throttling) also pauses its
// stream, with the same doubling backoff, until a call gets a response
// again. An outage then costs one probe request per backoff window instead
// of every buffered record retrying on its own, and the backlog leaves in
// full requests when the endpoint is back. Records keep being accepted
// until the buffer bounds block Put.
//
// The SDK's retryer is switched off for PutRecords (see noSDKRetries): the
// producer owns retries. Timeouts and connection errors are retried too;
// the request may have been written, so duplicates are possible: delivery
// is at least once.
//
// # Ordering (Options.RetainOrdering)
//
// PutRecords processes entries independently: an earlier entry can be
// throttled while a later entry of the same key is written. So ordering
// cannot come from request order alone. With RetainOrdering the producer
// keeps, per (stream, partition key), at most one record between queue and
// resolution: the key's head. Later records of the key wait in a per-key
// FIFO ("parked") and do not count as sendable. When the head succeeds (or
// fails for good), its callback runs and then the next parked record is
// released into the stream's priority queue, where it is sent without
// lingering. A failed head blocks only its own key while it backs off;
// other keys keep flowing. A batch therefore never holds two records of one
// key, and a key's records reach Kinesis in Put order, retries included
// (a retried duplicate may appear, but never after a later record).
// A record that fails for good does not stop its successors: the sink's
// failure policy decides what happens to it.
//
// # Rate limit (Options.RateLimit)
//
// Each predicted shard has a token bucket (records and bytes, RateLimit% of
// the shard's write limits, one second's worth). The cut takes tokens per
// Kinesis record; a record its shard cannot pay for moves to the shard's
// held queue, which the next cuts serve first, in order, as tokens refill
// (see ratelimit.go). Held records are buffered records: they count
// against the bounds above, and the dispatcher sleeps until the first held
// queue can move. Without a shard map nothing is limited.
//
// # Memory
//
// Every accepted record counts against MaxBufferedRecords and
// MaxBufferedBytes until its callback has returned: queued, parked, backing
// off or in flight. Put blocks while either bound is reached, which is the
// backpressure that reaches Pulsar (the runtime stops receiving, the
// consumer's queue fills, the broker stops dispatching). Request bodies are
// built per call and dropped afterwards; aggregates are encoded into pooled
// buffers, whose total size follows the buffered bytes in flight.
//
// # Files
//
//   - api.go: New, Prepare, Put, Flush, Close, Stats; intake and backpressure.
//   - entry.go: Entry and Result, and the checks an entry passes at Put.
//   - options.go: Options, their defaults and limits, and the HTTP client.
//   - state.go: the Producer's own state, records, batches, Close's summary.
//   - stream.go: streamState, a stream's queues, pause and shard-map timing.
//   - key.go: keyTable, the ordering scopes of RetainOrdering.
//   - shardbackoff.go: shardState, a shard's throttling backoff.
//   - queue.go: the ring queue and the retry heap.
//   - cut.go: the dispatcher: when a stream is due, and the plain cut.
//   - aggregate.go: the aggregated cut and the encoding of aggregates.
//   - ratelimit.go: the per-shard token buckets and the adaptive limit.
//   - shardmap.go: shard maps: loading, predicting, invalidating.
//   - sender.go: the senders: one PutRecords call per batch, splitting.
//   - putbody.go: the PutRecords request body, written without reflection.
//   - errors.go: Error and Kind, the error-code table, Fix.
//   - fate.go: the retry policy as pure functions (fate, verdict).
//   - backoff.go: the one exponential, jittered backoff.
//   - complete.go: applying a response: results, retries, pauses.
//   - callbacks.go: watching callbacks that hold a goroutine.
package producer
