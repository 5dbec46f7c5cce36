package runtime

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink is what the runtime drives. The runtime calls Open once, then Write
// from a single goroutine for every record, then Close once.
type Sink interface {
	// Open configures the sink. An error here is fatal for the instance: it
	// exits non-zero with the error as its one line, so a bad configuration
	// is visible in `functions status` and the worker's log.
	Open(ctx context.Context, sc *SinkContext) error

	// Write hands over a record. It must not wait for delivery: it returns
	// once the record is buffered and later resolves it with Ack or Fail.
	// It may block while the sink's bounded buffer is full; that is how
	// backpressure reaches Pulsar (the receive loop stops, the consumer's
	// receiver queue fills, the broker stops sending permits).
	//
	// A non-nil error means the record was not accepted; the runtime fails
	// it (if the sink has not resolved it) and counts a user exception. A
	// *FatalError ends the instance.
	Write(ctx context.Context, r *Record) error

	// Close flushes what the sink holds and resolves every record it was
	// given, before ctx's deadline. Records still unresolved when Close
	// returns are failed by the runtime.
	Close(ctx context.Context) error
}

// FatalError marks an error after which the instance cannot go on (lost
// credentials, a policy that says to stop). The runtime exits non-zero so
// the worker restarts the instance.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// Publisher publishes to a Pulsar topic through the instance's client; the
// sink uses it for its dead-letter policy.
type Publisher interface {
	// Publish sends one message and waits for the broker's receipt.
	Publish(ctx context.Context, topic string, payload []byte, key string, props map[string]string) error
}

// SinkContext is what the sink gets from the runtime at Open.
type SinkContext struct {
	Tenant, Namespace, Name string
	InstanceID              int
	// Parallelism is how many instances the function runs (at least 1), as
	// the worker says; Function Mesh says 1 unless told the real count.
	Parallelism int
	ClusterName string
	// UserConfig is the function's userConfig (the sink configuration).
	UserConfig map[string]any
	// Secret resolves a name from the function's secretsMap (environment
	// variables, as the process runtime and Function Mesh provide them).
	Secret func(name string) (string, bool)
	Logger *slog.Logger
	// Registerer is the instance's private Prometheus registry; series
	// registered here are served on metricsPort beside pulsar_function_*.
	Registerer prometheus.Registerer
	// RecordMetric feeds the contract's user metrics (GetMetrics userMetrics,
	// pulsar_function_user_metric_).
	RecordMetric func(name string, value float64)
	Publisher    Publisher
	// Fatal ends the instance with err (exit non-zero, the worker restarts
	// it). For failures found off the Write path, e.g. a failOnError policy
	// triggered by a delivery callback.
	Fatal func(err error)
}
