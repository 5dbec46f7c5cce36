package runtime

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
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
	return MainConf(prog, *confJSON, *confPath, newSink)
}

// MainConf is Main once the flags are parsed, for a program that parses its
// own command line (cmd/kinesis-sink, which has subcommands too).
func MainConf(prog, confJSON, confPath string, newSink func() Sink) int {
	cfg, err := LoadInstanceConfig(confJSON, confPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", prog, errtext.OneLine(err.Error()))
		return 1
	}
	// What the worker and Function Mesh start lives as long as they do;
	// localrun, run by hand (nohup, a shell that exits), does not.
	return RunUntilSignal(prog, cfg, newSink(), Options{ExitWithParent: true})
}

// RunUntilSignal runs an instance until SIGTERM or SIGINT and returns the
// exit code: 0 after a clean stop, 1 after a fatal error.
func RunUntilSignal(prog string, cfg *InstanceConfig, sink Sink, opts Options) int {
	if opts.Logger == nil {
		opts.Logger = NewLogger(os.Stderr).With("fqfn", cfg.FQFN(), "instance", cfg.InstanceID)
	}
	started := make(chan struct{})
	var startedOnce sync.Once
	subscribed := opts.Subscribed
	opts.Subscribed = func() {
		startedOnce.Do(func() { close(started) })
		if subscribed != nil {
			subscribed()
		}
	}
	watch := mutable{Handler: opts.Logger.Handler(), muted: new(atomic.Bool)}
	opts.Logger = slog.New(watch)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if opts.ExitWithParent {
		watchParent(ctx, time.Second, func(was int) {
			opts.Logger.Warn("the process that started this instance is gone; stopping as on SIGTERM", "parentPid", was)
			select {
			case sigs <- syscall.SIGTERM:
			default: // a signal is already pending
			}
		})
	}

	begun := time.Now()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, sink, opts) }()
	var tooLong <-chan time.Time
	for {
		select {
		case err := <-done:
			if err == nil {
				return 0
			}
			msg := errtext.OneLine(err.Error())
			if !isClosed(started) && errors.Is(err, context.DeadlineExceeded) {
				if why := brokerUnreachable(cfg.ServiceURL); why != "" {
					// The client's own error is a bare timeout naming a topic;
					// what the user needs is which address and for how long.
					msg = fmt.Sprintf("broker %s unreachable: no connection after %s (%s); check the service URL and that the broker runs",
						cfg.ServiceURL, time.Since(begun).Round(100*time.Millisecond), why)
				}
			}
			watch.muted.Store(true)
			fmt.Fprintf(os.Stderr, "%s: %s\n", prog, msg)
			return 1
		case s := <-sigs:
			if tooLong != nil {
				continue
			}
			cancel()
			if !isClosed(started) {
				// Nothing has been received yet, so nothing waits to be
				// flushed or acknowledged; the client may be blocked for its
				// whole operation timeout (30 s) in a subscribe that ignores
				// the context, so do not wait for it.
				// The last line is the one that says why it stopped: what the
				// abandoned start-up logs as it unwinds is not written.
				watch.muted.Store(true)
				name := "SIGTERM"
				if s == syscall.SIGINT {
					name = "SIGINT"
				}
				fmt.Fprintf(os.Stderr, "%s: stopped by %s during start-up (%s in, not yet subscribed at %s)\n",
					prog, name, time.Since(begun).Round(100*time.Millisecond), cfg.ServiceURL)
				return 1
			}
			// The worker kills the process about 10 s after SIGTERM; if the
			// flush hangs anyway, exit on our own terms just before that.
			tooLong = time.After(9500 * time.Millisecond)
		case <-tooLong:
			opts.Logger.Error("shutdown took too long, exiting")
			return 1
		}
	}
}

// watchParent calls gone, once, when the process's parent changes: it died,
// and the process was handed to init or a subreaper. Polled, because Linux
// tells a child of its parent's death only through a prctl that ties it to
// the thread that made the call.
func watchParent(ctx context.Context, every time.Duration, gone func(was int)) {
	ppid := os.Getppid()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != ppid {
					gone(ppid)
					return
				}
			}
		}
	}()
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// brokerUnreachable dials the service URL's hosts and returns why none
// answers, or "" when one does (then a timeout had another cause, and the
// client's own error says more).
func brokerUnreachable(serviceURL string) string {
	u, err := url.Parse(serviceURL)
	if err != nil || u.Host == "" {
		return ""
	}
	port := map[string]string{"pulsar": "6650", "pulsar+ssl": "6651", "http": "80", "https": "443"}[u.Scheme]
	var why string
	for _, h := range strings.Split(u.Host, ",") {
		if _, _, err := net.SplitHostPort(h); err != nil && port != "" {
			h = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		c, err := net.DialTimeout("tcp", h, 2*time.Second)
		if err == nil {
			c.Close()
			return ""
		}
		why = err.Error()
	}
	return why
}

// mutable is a handler that can be silenced: once the process has said
// why it ends, what an abandoned start-up logs as it unwinds is not written.
type mutable struct {
	slog.Handler
	muted *atomic.Bool
}

func (h mutable) Handle(ctx context.Context, r slog.Record) error {
	if h.muted.Load() {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h mutable) WithAttrs(as []slog.Attr) slog.Handler {
	return mutable{h.Handler.WithAttrs(as), h.muted}
}

func (h mutable) WithGroup(name string) slog.Handler {
	return mutable{h.Handler.WithGroup(name), h.muted}
}
