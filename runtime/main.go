package runtime

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// NewLogger is the process logger: text to stderr (the worker inherits the
// instance's stdio into its own log), level from LOGGING_LEVEL (set by
// Function Mesh from golang.log.level) or KINESIS_SINK_LOG_LEVEL.
func NewLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	for _, env := range []string{"KINESIS_SINK_LOG_LEVEL", "LOGGING_LEVEL"} {
		if v := os.Getenv(env); v != "" {
			switch strings.ToLower(v) {
			case "debug", "trace":
				level = slog.LevelDebug
			case "warn", "warning":
				level = slog.LevelWarn
			case "error", "fatal", "panic":
				level = slog.LevelError
			}
			break
		}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Main is the Go-instance entry point: it accepts the flags the worker and
// Function Mesh pass (-instance-conf <json>, -instance-conf-path <yaml>),
// runs the instance until SIGTERM/SIGINT, and returns the process exit code.
// Configuration problems print one line to stderr and return 1 at once.
func Main(prog string, args []string, newSink func() Sink) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	confJSON := fs.String("instance-conf", "", "instance configuration as JSON (what the function worker passes)")
	confPath := fs.String("instance-conf-path", "", "instance configuration as a YAML file; -instance-conf is applied over it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n", prog, fs.Arg(0))
		return 2
	}
	cfg, err := LoadInstanceConfig(*confJSON, *confPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", prog, errtext.OneLine(err.Error()))
		return 1
	}
	return RunUntilSignal(prog, cfg, newSink(), Options{})
}

// RunUntilSignal runs an instance until SIGTERM or SIGINT and returns the
// exit code: 0 after a clean stop, 1 after a fatal error.
func RunUntilSignal(prog string, cfg *InstanceConfig, sink Sink, opts Options) int {
	if opts.Logger == nil {
		opts.Logger = NewLogger(os.Stderr).With("fqfn", cfg.FQFN(), "instance", cfg.InstanceID)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The worker kills the process about 10 s after SIGTERM; if the flush
	// hangs anyway, exit on our own terms just before that.
	go func() {
		<-ctx.Done()
		time.Sleep(9500 * time.Millisecond)
		opts.Logger.Error("shutdown took too long, exiting")
		os.Exit(1)
	}()

	if err := Run(ctx, cfg, sink, opts); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", prog, errtext.OneLine(err.Error()))
		return 1
	}
	return 0
}
