// Command kinesis-sink moves Apache Pulsar messages into Amazon Kinesis Data
// Streams. The function worker and Function Mesh start it as a Go function
// (`kinesis-sink -instance-conf <json>`); users can also run it by hand with
// `localrun`, and deploy it with `deploy`. The NAR's Java sink (for
// `pulsar-admin sinks create`) runs it as its child: `sidecar`.
package main

import (
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/pprof"

	"github.com/pulsar-kinesis/kinesis-sink/internal/version"
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
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version":
			fmt.Printf("%s %s (commit %s, %s, %s/%s)\n", prog, version.Version, version.Commit,
				goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
			return 0
		case "localrun":
			return localrun(args[1:])
		case "deploy":
			return deployCmd(args[1:])
		case "sidecar":
			return sidecarCmd(args[1:])
		case "help", "--help", "-help", "-h":
			usage()
			return 0
		}
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	return runtime.Main(prog, args, newSink)
}

func usage() {
	fmt.Fprintf(os.Stderr, `Usage:
  %[1]s -instance-conf <json> [-instance-conf-path <yaml>]   run as a Pulsar Go function instance
  %[1]s localrun --service-url URL --inputs t1,t2 --sink-config-file kinesis.yaml [flags]
  %[1]s deploy create|update|delete|status --sink-config-file kinesis.yaml [--admin-url URL] [--binary PATH] [flags]
  %[1]s sidecar [-metrics-addr ADDR]   the child of the NAR's Java sink (frames on stdin/stdout)
  %[1]s version

Run '%[1]s localrun -h' or '%[1]s deploy -h' for their flags.
`, prog)
}
