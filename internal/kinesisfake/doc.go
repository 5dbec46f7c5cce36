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
// # Moving the other fakes onto it
//
// Three other pieces answer as Kinesis today; each is meant to become a
// thin front on this model, so that one type decides what Kinesis does:
//
//   - internal/faultproxy: its rule logic (fractions, named requests, shard
//     outages, the shard-limit buckets, FailListShards) is Rules and
//     ShardLimit here. The proxy keeps its HTTP/TLS front for the Java sink
//     and process-level runs, and either forwards to kinesalite with the
//     model deciding the faults (a FaultFunc per proxied request, its
//     shard ids from kinesalite's ListShards) or serves Handler directly
//     where kinesalite's storage is not the point.
//   - scripts/bench's do-nothing endpoint: Handler with NoShardLimit and
//     Discard, so that the benchmark measures the sink rather than the
//     endpoint; its counting of user records becomes an OnStored hook.
//   - sink/producer's acceptAll and the producer tests that need no
//     kinesalite: Client, under testing/synctest, with Rules for the faults
//     they inject today through the proxy. A few kinesalite tests stay,
//     for parity.
package kinesisfake
