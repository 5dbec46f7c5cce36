package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/sidecar"
)

func (c *cli) sidecarCmd() *cobra.Command {
	var metricsAddr string
	cmd := &cobra.Command{
		Use:   "sidecar [--metrics-addr ADDR]",
		Short: "Run as the child of the kinesis-go NAR's Java sink (frames on stdin and stdout)",
		Long: `sidecar is what the kinesis-go NAR's Java sink starts: records arrive as
frames on stdin, results go back on stdout, log lines on stderr (the Java side
copies them into the instance's log). It stops at a CLOSE frame, at the end of
stdin, on SIGTERM, or when its parent is gone; it ignores SIGINT. See
docs/sidecar-protocol.md; it is not meant to be run by hand.`,
		Example: `  # As the Java sink starts it
  kinesis-sink sidecar -metrics-addr 127.0.0.1:9464`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return status(sidecarRun(metricsAddr)) },
	}
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve the sink's kinesis_sink_* metrics at http://ADDR/metrics (for example 127.0.0.1:9464); empty: none")
	return cmd
}

// sidecarRun is the sidecar until it stops; it returns the exit code.
func sidecarRun(metricsAddr string) int {
	log := runtime.NewLogger(os.Stderr)
	reg := prometheus.NewRegistry()
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s sidecar: sink config \"sidecarMetricsAddress\" (-metrics-addr %s): %v\n", prog, metricsAddr, err)
			return 1
		}
		go func() { _ = http.Serve(ln, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) }()
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// The Java side asks us to close with a CLOSE frame; SIGTERM means it
	// (or the worker) is past asking. SIGINT is ignored: Ctrl-C at a
	// terminal (a worker or localrun in the foreground) reaches the whole
	// process group, and the JVM's shutdown closes the sink, which sends
	// CLOSE and waits for our flush; ended by the same Ctrl-C, we would
	// leave it nothing to wait for and our buffered records to redeliver.
	signal.Ignore(syscall.SIGINT)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(fmt.Errorf("%s received", s))
	}()
	// Never outlive the instance: if the JVM dies, stdin reaches EOF, unless
	// we are blocked writing to a full buffer and not reading it; a changed
	// parent catches that too.
	go watchParent(os.Getppid(), func() { cancel(sidecar.ErrPeerGone) })

	err := sidecar.Run(ctx, sidecar.Options{In: os.Stdin, Out: os.Stdout, Logger: log, Sink: newSink(), Registerer: reg})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, sidecar.ErrPeerGone):
		log.Warn("stopping: " + err.Error())
		return 3
	default:
		log.Error("sidecar failed", "error", err.Error())
		return 1
	}
}

func watchParent(ppid int, gone func()) {
	for range time.Tick(time.Second) {
		if os.Getppid() != ppid {
			gone()
			return
		}
	}
}
