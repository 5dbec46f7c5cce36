// Package flatbuf holds the FlatBuffers schema of the FULL_MESSAGE_IN_FB
// message format (kinesis_message.fbs) and, in kinesisfbs, the Go code flatc
// generates from it. The generated code builds against the
// github.com/google/flatbuffers v25 Go runtime; regenerate it after any
// schema change with `go generate ./flatbuf`.
package flatbuf

// --go-namespace puts the code in ./kinesisfbs instead of a directory tree
// mirroring the Java namespace; the schema namespace itself is unchanged.
// --no-warnings: flatc warns about the camelCase field names, which are
// fixed by the Java sink's schema and cannot change.
//go:generate flatc --go --go-namespace kinesisfbs --no-warnings -o . kinesis_message.fbs
