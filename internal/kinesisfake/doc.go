// Package kinesisfake is an in-process model of Amazon Kinesis Data
// Streams, for tests: the one owner of "Kinesis as our tests see it". It
// is to this project what kfake is to franz-go: a cluster in memory that
// the client under test talks to as it talks to the service, with hooks to
// make the service misbehave on cue.
//
// # What it models
//
//   - Streams (Model.CreateStream) with shards splitting the hash key space
//     evenly, as CreateStream does; addressed by name or by ARN, as the
//     producer addresses them; ACTIVE at once; MaxRecordSizeInKiB.
//   - Routing by the MD5 of the partition key or by the explicit hash key,
//     with sink/kpl's hashing (the producer predicts shards with the same
//     code, so a disagreement is a routing change, not a second opinion).
//   - Sequence numbers of one width, increasing within a shard, and above
//     the parents' in a child shard.
//   - Per-shard write limits (ShardLimit): 1,000 records and 1 MiB per
//     second with a second of burst, a KPL aggregate counting as one record
//     of its size. An entry over its shard's limit is answered
//     ProvisionedThroughputExceededException, with Kinesis's message naming
//     the shard, and the other entries go on.
//   - Resharding mid-run (Stream.SplitShard, MergeShards, SplitEvenly):
//     parents closed with an ending sequence number, children with
//     ParentShardId / AdjacentParentShardId and the right hash key ranges;
//     ListShards lists both, as Kinesis does during the retention period.
//   - Request validation in Kinesis's two steps and words (validate.go):
//     the API model's constraints as one ValidationException listing up to
//     ten violations, then the service's checks (stream exists, hash key
//     range, record and request size) as InvalidArgumentException or
//     ResourceNotFoundException.
//   - Read-back of everything stored (Stream.Records, ShardRecords, and
//     UserRecords, deaggregated as a KCL consumer reads them), and
//     GetShardIterator/GetRecords for readers that use the API.
//
// What it does not model: retention (records are kept for ever),
// UpdateShardCount and on-demand scaling, PutRecord (singular),
// SubscribeToShard and consumers, encryption, control-plane rate limits
// (LimitExceededException), the time a change takes (streams are ACTIVE at
// once and resharding is immediate; Stream.SetStatus stands in for the
// meantime), signatures, and the CBOR protocol.
//
// # Faults
//
// A FaultFunc, set with Config.Faults or Model.SetFaults, sees every call
// before the model acts on it (Request: operation, number, stream, entries
// with the shard each routes to) and returns a Fault: connection refused
// or reset, a timeout before or after the write, a whole-request error of
// any code and status, per-entry errors, a delay, an answer lost after the
// write. Rules are the scripted common cases: seeded fractions, requests
// named by number (for a test that asserts on a fault, so that it happens
// on every run), shard outages, an outage of the whole endpoint.
//
// # Two faces, one model
//
// Client answers in memory with the *kinesis.Client method set, so it is a
// producer.PutRecordsAPI: no sockets, no goroutines, and errors of the
// shape the SDK returns (OperationError, HTTP response error with status
// and request id, the modeled exception type), so that the producer's
// classification sees what it sees in production. Under testing/synctest
// the model runs on the bubble's clock: limits refill, delays and timeouts
// elapse in fake time, and nothing of the model keeps the bubble busy.
//
// Handler serves the same model over HTTP with the Kinesis JSON 1.1
// protocol, for the real SDK client and for processes (the Java sink, the
// benchmark) that need an endpoint.
//
// # Parity
//
// parity_test.go runs one script of requests against the model (in memory
// and over HTTP with the SDK's client) and against kinesalite, and
// compares the answers. Where kinesalite and Kinesis differ the model
// follows Kinesis, and the test names the difference.
//
// # The other faces of Kinesis in the tests
//
//   - internal/faultproxy: its Injector decides the proxy's rules as Faults
//     of this package (and limits shards with Bucket); the proxy carries
//     them out over HTTP in front of kinesalite, and Injector.ModelFault
//     carries them out here, so that the producer's fault tests mean the
//     same on either. faultproxy.Rules stays the vocabulary of the
//     process-level suites (with their counters); Rules here is the compact
//     one of the model's own tests.
//   - AcceptAll: the in-process benchmarks' endpoint, which must cost
//     next to nothing, since they count the whole process's allocations.
//   - scripts/bench's endpoint stays its own: it serves both sinks over
//     HTTPS, deaggregates and timestamps every user record for latency,
//     and forwards to kinesalite; Handler would add its request decoding
//     to the 2 cores the benchmark shares with the sinks it measures.
//   - The producer's tests run on Client under testing/synctest; a few
//     kinesalite tests stay, for parity.
package kinesisfake
