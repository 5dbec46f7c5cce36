// Package pb holds the Go code generated from ../proto/*.proto: our own
// definitions of the Pulsar Functions wire contract (FunctionDetails subset,
// InstanceControl gRPC service). Run `go generate ./runtime/pb` after editing
// a .proto; the generated files are committed so builds need no protoc.
//
// The line below runs through sh because go:generate does not expand globs,
// and every .proto is compiled in one protoc call so that files sharing the
// proto package "proto" may import each other. protoc-gen-go (v1.36.12) and
// protoc-gen-go-grpc are looked up in $(go env GOPATH)/bin first, where
// `go install` puts them; the grpc plugin emits nothing for files without a
// service.
package pb

//go:generate sh -c "PATH=\"$(go env GOPATH)/bin:$PATH\" protoc -I ../proto --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative ../proto/*.proto"
