package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsBindEnv names the environment variable with the host the
// Prometheus server listens on. Unset or empty means all interfaces: the
// worker scrapes http://<its host address>:<metricsPort>/, not loopback, and
// Function Mesh probes the pod address.
const MetricsBindEnv = "KINESIS_SINK_METRICS_BIND"

// ProcessMetricsEnv set to "1" adds the Go runtime (go_goroutines,
// go_memstats_*) and process (process_resident_memory_bytes, ...) families
// to the served metrics. Unset, only the instance contract's families are
// served, as with the official instance.
const ProcessMetricsEnv = "KINESIS_SINK_PROCESS_METRICS"

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	// Port is the instance conf's metricsPort. 0 picks a free port
	// (tests); read it back with Addr.
	Port int
	// Bind is the listen host. "" reads KINESIS_SINK_METRICS_BIND, and all
	// interfaces when that is empty too.
	Bind string
	// Gatherer is what is served: the instance's private registry, so no
	// go_*/process_* series appear, as with the official instance. Required.
	Gatherer prometheus.Gatherer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// StopTimeout bounds the wait for scrapes in progress; 0 means 2 s.
	StopTimeout time.Duration
}

// MetricsServer serves the registry on GET / (what the worker and the
// Function Mesh liveness probe request) and GET /metrics (what Prometheus
// expects by default).
type MetricsServer struct {
	cfg MetricsConfig
	log *slog.Logger

	mu       sync.Mutex
	srv      *http.Server
	lis      net.Listener
	served   chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

// NewMetricsServer prepares a server; Start makes it listen.
func NewMetricsServer(cfg MetricsConfig) *MetricsServer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 2 * time.Second
	}
	return &MetricsServer{cfg: cfg, log: cfg.Logger, stopped: make(chan struct{})}
}

// StartMetricsServer serves g on port (bind from KINESIS_SINK_METRICS_BIND)
// until Stop.
func StartMetricsServer(port int, g prometheus.Gatherer, log *slog.Logger) (*MetricsServer, error) {
	m := NewMetricsServer(MetricsConfig{Port: port, Gatherer: g, Logger: log})
	if err := m.Start(context.Background()); err != nil {
		return nil, err
	}
	return m, nil
}

// Handler is the HTTP handler the server uses, for embedding elsewhere.
func (m *MetricsServer) Handler() http.Handler {
	prom := promhttp.HandlerFor(m.cfg.Gatherer, promhttp.HandlerOpts{
		// A scraper that asks for OpenMetrics gets it; the worker's
		// plain GET gets the classic text format.
		EnableOpenMetrics: true,
		// One bad collector (say, a sink's) must not blank the
		// contract's families.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slogPrintln{m.log},
	})
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", prom)
	mux.Handle("GET /metrics", prom)
	return mux
}

// Start listens on <bind>:<port> and serves in the background until Stop
// or until ctx is cancelled. Failing to listen is returned (the official
// instance calls log.Fatalf); the caller decides to exit.
func (m *MetricsServer) Start(ctx context.Context) error {
	if m.cfg.Gatherer == nil {
		return errors.New("metrics server: no Gatherer configured")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		return errors.New("metrics server: Start called twice")
	}
	select {
	case <-m.stopped:
		return errors.New("metrics server: Start called after Stop")
	default:
	}
	lis, err := listenTCP(m.cfg.Bind, MetricsBindEnv, m.cfg.Port)
	if err != nil {
		return err
	}
	m.lis = lis
	m.srv = &http.Server{
		Handler: m.Handler(),
		// Bounds what a stuck client can hold; scrapes are small.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	m.served = make(chan struct{})
	go func() {
		defer close(m.served)
		if err := m.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics server stopped serving", "addr", lis.Addr().String(), "error", err.Error())
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			m.Stop()
		case <-m.stopped:
		}
	}()
	m.log.Info("metrics server listening", "addr", lis.Addr().String())
	return nil
}

// Addr is the address the server listens on (nil before Start).
func (m *MetricsServer) Addr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lis == nil {
		return nil
	}
	return m.lis.Addr()
}

// Stop lets scrapes in progress finish within StopTimeout, then closes the
// server. It is safe to call more than once and before Start.
func (m *MetricsServer) Stop() {
	m.stopOnce.Do(func() {
		close(m.stopped)
		m.mu.Lock()
		srv, served := m.srv, m.served
		m.mu.Unlock()
		if srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StopTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-served
	})
}

// slogPrintln adapts slog to promhttp's error logger.
type slogPrintln struct{ l *slog.Logger }

func (p slogPrintln) Println(v ...any) {
	p.l.Error("metrics scrape", "error", fmt.Sprint(v...))
}
