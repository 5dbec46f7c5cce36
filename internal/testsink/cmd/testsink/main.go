// Command testsink runs the runtime with the file-writing test sink.
package main

import (
	"os"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testsink"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

func main() {
	os.Exit(runtime.Main("testsink", os.Args[1:], func() runtime.Sink { return &testsink.Sink{} }))
}
