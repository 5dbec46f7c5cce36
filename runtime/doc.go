// Package runtime is this project's implementation of the Pulsar Go
// Functions instance contract, written down in docs/functions-contract.md.
//
// The official instance library (github.com/apache/pulsar/pulsar-function-go)
// cannot be fetched from the Go module proxy, and its processing model exits
// the process on the first failing record. This package speaks the same
// contract (the -instance-conf JSON, gRPC proto.InstanceControl, the
// pulsar_function_* Prometheus families) on top of pulsar-client-go, and adds
// what a sink needs: asynchronous ack/fail so records can be batched, bounded
// buffering for backpressure, schemas, subscription types and positions,
// dead-letter policies, authentication and TLS.
//
// Data flows one way: consumers -> receive loop -> Sink.Write; resolutions
// (Ack/Fail) flow back through Record.
package runtime
