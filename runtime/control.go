package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

// GRPCBindEnv names the environment variable with the host the
// InstanceControl server listens on. Unset or empty means all interfaces,
// as the official instance does: the worker dials 127.0.0.1:<port>, but
// under Function Mesh the port (9093) is reached on the pod address.
const GRPCBindEnv = "KINESIS_SINK_GRPC_BIND"

// healthCheckMisses is how many expected health-check intervals may pass
// without a call before the watchdog stops the instance (the contract's 3x).
const healthCheckMisses = 3

// ControlConfig configures the gRPC InstanceControl server.
type ControlConfig struct {
	// Port is the instance conf's port. 0 picks a free port (tests); read
	// it back with Addr.
	Port int
	// Bind is the listen host. "" reads KINESIS_SINK_GRPC_BIND, and all
	// interfaces when that is empty too.
	Bind string
	// InstanceID is the instance index, reported as a decimal instanceId.
	InstanceID int
	// WorkerID is reported as workerId. The worker does not need it from
	// the instance, so "" is fine.
	WorkerID string
	// Stats supplies the counters; required.
	Stats *Stats
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// StopTimeout bounds the graceful stop before open calls are cut; 0
	// means 2 s, which fits in the worker's 10 s between SIGTERM and
	// SIGKILL next to the sink's flush.
	StopTimeout time.Duration
	// Also, when set, is served on the same port for every request that is
	// not gRPC, over HTTP/1.1 and cleartext HTTP/2: the metrics, when the
	// worker gave the instance one port for both (it picks the two apart,
	// and Pulsar 4.0.8's worker was seen picking the same one; refusing
	// that left the instance restarting for ever on the ports it keeps).
	// The listener then binds as the metrics server does
	// (KINESIS_SINK_METRICS_BIND), which the worker scrapes on its host
	// address.
	Also http.Handler
}

// ControlServer serves proto.InstanceControl to the function worker.
type ControlServer struct {
	pb.UnimplementedInstanceControlServer

	cfg   ControlConfig
	log   *slog.Logger
	stats *Stats

	// lastHealthNs is the time of the last HealthCheck call in Unix ns,
	// initialised to the server's creation so that the watchdog counts
	// from start-up until the first call.
	lastHealthNs atomic.Int64
	failure      atomic.Pointer[string]

	mu       sync.Mutex
	srv      *grpc.Server
	hs       *http.Server // with Also: serves srv and Also on one listener
	lis      net.Listener
	served   chan struct{}
	stopped  chan struct{} // closed by Stop; ends watchdogs
	stopOnce sync.Once
}

// NewControlServer prepares a server; Start makes it listen.
func NewControlServer(cfg ControlConfig) *ControlServer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 2 * time.Second
	}
	s := &ControlServer{
		cfg:     cfg,
		log:     cfg.Logger,
		stats:   cfg.Stats,
		stopped: make(chan struct{}),
	}
	if s.stats == nil {
		s.stats = NewStats(MetricLabels{}, nil)
	}
	s.lastHealthNs.Store(time.Now().UnixNano())
	return s
}

// StartControlServer is NewControlServer followed by Start with a context
// that is never cancelled; stop it with Stop.
func StartControlServer(cfg ControlConfig) (*ControlServer, error) {
	s := NewControlServer(cfg)
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Start listens on <bind>:<port> and serves in the background until Stop
// or until ctx is cancelled. Failing to listen is returned, not fatal: the
// caller exits and the worker restarts the instance.
func (s *ControlServer) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("gRPC InstanceControl: Start called twice")
	}
	select {
	case <-s.stopped:
		return errors.New("gRPC InstanceControl: Start called after Stop")
	default:
	}
	bindEnv := GRPCBindEnv
	if s.cfg.Also != nil {
		bindEnv = MetricsBindEnv
	}
	lis, err := listenTCP(s.cfg.Bind, bindEnv, s.cfg.Port)
	if err != nil {
		return err
	}
	s.lis = lis
	s.srv = grpc.NewServer()
	pb.RegisterInstanceControlServer(s.srv, s)
	s.served = make(chan struct{})
	if s.cfg.Also != nil {
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		grpcSrv, also := s.srv, s.cfg.Also
		s.hs = &http.Server{
			Protocols:         &protocols,
			ReadHeaderTimeout: 10 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
					grpcSrv.ServeHTTP(w, r)
					return
				}
				also.ServeHTTP(w, r)
			}),
		}
		go func() {
			defer close(s.served)
			if err := s.hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("gRPC InstanceControl and metrics stopped serving", "addr", lis.Addr().String(), "error", err.Error())
			}
		}()
		s.log.Info("the worker gave one port for gRPC InstanceControl and metrics: serving both on it", "addr", lis.Addr().String())
	} else {
		go func() {
			defer close(s.served)
			if err := s.srv.Serve(lis); err != nil {
				s.log.Error("gRPC InstanceControl stopped serving", "addr", lis.Addr().String(), "error", err.Error())
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.stopped:
		}
	}()
	s.log.Info("gRPC InstanceControl listening", "addr", lis.Addr().String())
	return nil
}

// listenTCP listens on bind:port, taking bind from envName when empty, and
// names the variable in the error when its value was the problem.
func listenTCP(bind, envName string, port int) (net.Listener, error) {
	addr, fromEnv := listenAddr(bind, envName, port)
	lis, err := net.Listen("tcp", addr)
	if err != nil && fromEnv {
		return nil, fmt.Errorf("%s=%q: %w", envName, os.Getenv(envName), err)
	}
	return lis, err
}

// listenAddr resolves the host:port to listen on; an empty host means all
// interfaces.
func listenAddr(bind, envName string, port int) (addr string, fromEnv bool) {
	if bind == "" {
		bind = os.Getenv(envName)
		fromEnv = bind != ""
	}
	return net.JoinHostPort(bind, strconv.Itoa(port)), fromEnv
}

// Addr is the address the server listens on (nil before Start).
func (s *ControlServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return nil
	}
	return s.lis.Addr()
}

// Stop ends the watchdogs and stops serving: calls in progress get
// StopTimeout to finish, then are cut. It is safe to call more than once
// and before Start.
func (s *ControlServer) Stop() {
	s.stopOnce.Do(func() {
		close(s.stopped)
		s.mu.Lock()
		srv, hs, served := s.srv, s.hs, s.served
		s.mu.Unlock()
		if srv == nil {
			return
		}
		if hs != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopTimeout)
			if hs.Shutdown(ctx) != nil {
				hs.Close()
			}
			cancel()
			srv.Stop()
			<-served
			return
		}
		done := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(done)
		}()
		t := time.NewTimer(s.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			srv.Stop()
			<-done
		}
		<-served
	})
}

// SetFailure makes GetFunctionStatus report running=false with err as the
// failureException, for the time between a fatal error and the exit.
func (s *ControlServer) SetFailure(err error) {
	msg := "unknown error"
	if err != nil {
		msg = cleanText(err.Error(), maxExceptionBytes)
	}
	s.failure.Store(&msg)
}

// LastHealthCheck is the time of the last HealthCheck call, or the
// server's creation before the first one.
func (s *ControlServer) LastHealthCheck() time.Time {
	return time.Unix(0, s.lastHealthNs.Load())
}

// StartHealthWatchdog calls stop once, in its own goroutine, when no
// HealthCheck arrives within 3x interval (counted from the later of the
// last call and now). interval <= 0 turns it off, as the contract's
// expectedHealthCheckInterval does. The returned func ends the watchdog;
// Stop ends it too.
func (s *ControlServer) StartHealthWatchdog(interval time.Duration, stop func()) (cancel func()) {
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	started := time.Now()
	go s.watchHealth(interval, started, done, stop)
	return func() { once.Do(func() { close(done) }) }
}

func (s *ControlServer) watchHealth(interval time.Duration, started time.Time, done <-chan struct{}, stop func()) {
	limit := healthCheckMisses * interval
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-s.stopped:
			return
		case <-t.C:
		}
		last := s.LastHealthCheck()
		if last.Before(started) {
			last = started
		}
		if wait := time.Until(last.Add(limit)); wait > 0 {
			t.Reset(wait)
			continue
		}
		s.log.Error("Haven't received health check from spawner in a while. Stopping instance...",
			"expectedHealthCheckInterval", interval, "lastHealthCheck", last)
		stop()
		return
	}
}

// GetFunctionStatus describes the instance. The worker replaces
// numRestarts and instanceId with its own values; they are still filled
// for direct callers.
func (s *ControlServer) GetFunctionStatus(context.Context, *emptypb.Empty) (*pb.FunctionStatus, error) {
	snap := s.stats.Snapshot()
	st := &pb.FunctionStatus{
		Running:                  true,
		NumSuccessfullyProcessed: snap.Succeeded,
		NumUserExceptions:        snap.UserExceptions,
		LatestUserExceptions:     exceptionsPB(snap.LatestUserExceptions),
		NumSystemExceptions:      snap.SystemExceptions,
		LatestSystemExceptions:   exceptionsPB(snap.LatestSystemExceptions),
		AverageLatency:           snap.AvgLatencyMs,
		LastInvocationTime:       snap.LastInvocationMs,
		InstanceId:               strconv.Itoa(s.cfg.InstanceID),
		WorkerId:                 s.cfg.WorkerID,
		NumReceived:              snap.Received,
		NumSourceExceptions:      snap.SourceExceptions,
		LatestSourceExceptions:   exceptionsPB(snap.LatestSourceExceptions),
		NumSinkExceptions:        snap.SinkExceptions,
		LatestSinkExceptions:     exceptionsPB(snap.LatestSinkExceptions),
	}
	if f := s.failure.Load(); f != nil {
		st.Running = false
		st.FailureException = *f
	}
	return st, nil
}

// GetMetrics reports the counters without resetting anything.
func (s *ControlServer) GetMetrics(context.Context, *emptypb.Empty) (*pb.MetricsData, error) {
	return metricsPB(s.stats.Snapshot()), nil
}

// GetAndResetMetrics reports the counters and starts a new _1min window.
func (s *ControlServer) GetAndResetMetrics(context.Context, *emptypb.Empty) (*pb.MetricsData, error) {
	return metricsPB(s.stats.SnapshotAndResetOneMinute()), nil
}

// ResetMetrics starts a new _1min window.
func (s *ControlServer) ResetMetrics(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.stats.ResetOneMinute()
	return &emptypb.Empty{}, nil
}

// HealthCheck records the call for the watchdog and always succeeds: if
// the instance can answer, it is alive.
func (s *ControlServer) HealthCheck(context.Context, *emptypb.Empty) (*pb.HealthCheckResult, error) {
	s.lastHealthNs.Store(time.Now().UnixNano())
	return &pb.HealthCheckResult{Success: true}, nil
}

func exceptionsPB(in []ExceptionInfo) []*pb.FunctionStatus_ExceptionInformation {
	out := make([]*pb.FunctionStatus_ExceptionInformation, len(in))
	for i, e := range in {
		out[i] = &pb.FunctionStatus_ExceptionInformation{ExceptionString: e.Message, MsSinceEpoch: e.MsSinceEpoch}
	}
	return out
}

func metricsPB(snap StatsSnapshot) *pb.MetricsData {
	return &pb.MetricsData{
		ReceivedTotal:                   snap.Received,
		ProcessedSuccessfullyTotal:      snap.Succeeded,
		SystemExceptionsTotal:           snap.SystemExceptions,
		UserExceptionsTotal:             snap.UserExceptions,
		AvgProcessLatency:               snap.AvgLatencyMs,
		LastInvocation:                  snap.LastInvocationMs,
		UserMetrics:                     snap.UserMetrics,
		ReceivedTotal_1Min:              snap.Received1Min,
		ProcessedSuccessfullyTotal_1Min: snap.Succeeded1Min,
		SystemExceptionsTotal_1Min:      snap.SystemExceptions1Min,
		UserExceptionsTotal_1Min:        snap.UserExceptions1Min,
		AvgProcessLatency_1Min:          snap.AvgLatencyMs1Min,
	}
}
