package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/sidecar"
)

// sidecarCmd is `kinesis-sink sidecar`: the child the NAR's Java sink
// starts. Frames on stdin and stdout, log lines on stderr (the Java side
// copies them into the instance's log).
func sidecarCmd(args []string) int {
	fs := flag.NewFlagSet(prog+" sidecar", flag.ContinueOnError)
	metricsAddr := fs.String("metrics-addr", "", "serve the sink's kinesis_sink_* metrics at http://ADDR/metrics (for example 127.0.0.1:9464); empty: none")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := runtime.NewLogger(os.Stderr)
	reg := prometheus.NewRegistry()
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s sidecar: sink config \"sidecarMetricsAddress\" (-metrics-addr %s): %v\n", prog, *metricsAddr, err)
			return 1
		}
		go func() { _ = http.Serve(ln, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) }()
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// The Java side asks us to close with a CLOSE frame; a signal means it
	// (or the worker) is past asking.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
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
