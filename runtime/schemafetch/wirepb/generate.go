// Package wirepb holds the Go bindings of ../proto/pulsar_wire.proto, the
// subset of the Pulsar binary protocol that package schemafetch speaks.
package wirepb

// The proto path is runtime/ so the descriptor registers as
// "schemafetch/proto/pulsar_wire.proto", a name no other package uses.
//go:generate protoc --proto_path=../.. --go_out=. --go_opt=module=github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb schemafetch/proto/pulsar_wire.proto
