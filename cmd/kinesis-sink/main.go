// Command kinesis-sink moves Apache Pulsar messages into Amazon Kinesis Data
// Streams. The function worker and Function Mesh start it as a Go function
// (`kinesis-sink -instance-conf <json>`); users can also run it by hand with
// `localrun`, and deploy it with `deploy`. The NAR's Java sink (for
// `pulsar-admin sinks create`) runs it as its child: `sidecar`.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

const prog = "kinesis-sink"

func main() {
	stop := startProfiles()
	code := run(os.Args[1:])
	stop()
	os.Exit(code)
}

// startProfiles writes a CPU profile to $KINESIS_SINK_CPUPROFILE and an
// allocation profile to $KINESIS_SINK_MEMPROFILE when the process ends
// normally (SIGTERM included), for `go tool pprof`. make bench sets them with
// -profile; they cost nothing when unset.
func startProfiles() (stop func()) {
	var cpu *os.File
	if path := os.Getenv("KINESIS_SINK_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			cpu = f
		} else {
			fmt.Fprintf(os.Stderr, "%s: KINESIS_SINK_CPUPROFILE: %v\n", prog, err)
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			_ = cpu.Close()
		}
		if path := os.Getenv("KINESIS_SINK_MEMPROFILE"); path != "" {
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}
}

func newSink() runtime.Sink { return sink.New() }

func run(args []string) int {
	c := &cli{ctx: context.Background(), stdout: os.Stdout, stderr: os.Stderr,
		runLocal: func(l *deploy.Local, o runtime.Options) int {
			return runtime.RunUntilSignal(prog, l.Config, newSink(), o)
		}}
	return c.execute(args)
}
