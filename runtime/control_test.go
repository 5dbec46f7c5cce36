package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

// startControl starts a server on a free loopback port and returns it with
// a client built from the generated code, dialled in plaintext as the
// worker does.
func startControl(t *testing.T, cfg ControlConfig) (*ControlServer, pb.InstanceControlClient, *grpc.ClientConn) {
	t.Helper()
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1"
	}
	srv := NewControlServer(cfg)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return srv, pb.NewInstanceControlClient(conn), conn
}

func rpcCtx(t *testing.T) context.Context {
	// The worker's deadline for every call.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestControlServerRPCs(t *testing.T) {
	stats := NewStats(MetricLabels{}, nil)
	_, client, conn := startControl(t, ControlConfig{InstanceID: 7, WorkerID: "w-1", Stats: stats})
	ctx := rpcCtx(t)
	empty := &emptypb.Empty{}

	before := time.Now().UnixMilli()
	stats.IncReceived()
	stats.IncReceived()
	stats.IncReceived()
	stats.RecordSuccess(10 * time.Millisecond)
	stats.RecordSuccess(20 * time.Millisecond)
	stats.RecordUserException(errors.New("record 2: value is not JSON"))
	stats.RecordSinkException(errors.New("kinesis: ProvisionedThroughputExceededException"))
	stats.RecordUserMetric("put_records_batch", 3)
	stats.RecordUserMetric("put_records_batch", 5)
	after := time.Now().UnixMilli()

	st, err := client.GetFunctionStatus(ctx, empty)
	if err != nil {
		t.Fatalf("GetFunctionStatus: %v", err)
	}
	if !st.GetRunning() || st.GetFailureException() != "" {
		t.Errorf("running=%v failure=%q, want running with no failure", st.GetRunning(), st.GetFailureException())
	}
	if st.GetNumReceived() != 3 || st.GetNumSuccessfullyProcessed() != 2 || st.GetNumUserExceptions() != 1 ||
		st.GetNumSystemExceptions() != 0 || st.GetNumSinkExceptions() != 1 || st.GetNumSourceExceptions() != 0 {
		t.Errorf("counters received=%d ok=%d user=%d system=%d sink=%d source=%d, want 3/2/1/0/1/0",
			st.GetNumReceived(), st.GetNumSuccessfullyProcessed(), st.GetNumUserExceptions(),
			st.GetNumSystemExceptions(), st.GetNumSinkExceptions(), st.GetNumSourceExceptions())
	}
	if st.GetAverageLatency() != 15 {
		t.Errorf("averageLatency = %v, want 15 (ms)", st.GetAverageLatency())
	}
	if st.GetLastInvocationTime() < before || st.GetLastInvocationTime() > after {
		t.Errorf("lastInvocationTime = %d, want ms since epoch within [%d, %d]", st.GetLastInvocationTime(), before, after)
	}
	if st.GetInstanceId() != "7" || st.GetWorkerId() != "w-1" {
		t.Errorf("instanceId=%q workerId=%q, want \"7\" and \"w-1\"", st.GetInstanceId(), st.GetWorkerId())
	}
	ue := st.GetLatestUserExceptions()
	if len(ue) != 1 || ue[0].GetExceptionString() != "record 2: value is not JSON" ||
		ue[0].GetMsSinceEpoch() < before || ue[0].GetMsSinceEpoch() > after {
		t.Errorf("latestUserExceptions = %v, want one with msSinceEpoch in [%d, %d]", ue, before, after)
	}
	se := st.GetLatestSinkExceptions()
	if len(se) != 1 || se[0].GetExceptionString() != "kinesis: ProvisionedThroughputExceededException" {
		t.Errorf("latestSinkExceptions = %v", se)
	}
	if len(st.GetLatestSystemExceptions()) != 0 || len(st.GetLatestSourceExceptions()) != 0 {
		t.Errorf("unexpected system/source exceptions: %v %v", st.GetLatestSystemExceptions(), st.GetLatestSourceExceptions())
	}

	m, err := client.GetMetrics(ctx, empty)
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	if m.GetReceivedTotal() != 3 || m.GetProcessedSuccessfullyTotal() != 2 || m.GetUserExceptionsTotal() != 1 ||
		m.GetSystemExceptionsTotal() != 0 || m.GetAvgProcessLatency() != 15 ||
		m.GetReceivedTotal_1Min() != 3 || m.GetProcessedSuccessfullyTotal_1Min() != 2 ||
		m.GetUserExceptionsTotal_1Min() != 1 || m.GetSystemExceptionsTotal_1Min() != 0 || m.GetAvgProcessLatency_1Min() != 15 {
		t.Errorf("GetMetrics = %v", m)
	}
	if m.GetLastInvocation() != st.GetLastInvocationTime() {
		t.Errorf("lastInvocation %d != status lastInvocationTime %d", m.GetLastInvocation(), st.GetLastInvocationTime())
	}
	if um := m.GetUserMetrics(); len(um) != 1 || um["put_records_batch"] != 4 {
		t.Errorf("userMetrics = %v, want map[put_records_batch:4]", um)
	}

	// GetAndResetMetrics returns the window that ends, then zeroes it.
	m, err = client.GetAndResetMetrics(ctx, empty)
	if err != nil {
		t.Fatalf("GetAndResetMetrics: %v", err)
	}
	if m.GetReceivedTotal_1Min() != 3 || m.GetProcessedSuccessfullyTotal_1Min() != 2 || m.GetUserExceptionsTotal_1Min() != 1 {
		t.Errorf("GetAndResetMetrics returned %v, want the window before the reset", m)
	}
	m, err = client.GetMetrics(ctx, empty)
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	if m.GetReceivedTotal_1Min() != 0 || m.GetProcessedSuccessfullyTotal_1Min() != 0 || m.GetUserExceptionsTotal_1Min() != 0 ||
		m.GetAvgProcessLatency_1Min() != 0 || m.GetReceivedTotal() != 3 || m.GetProcessedSuccessfullyTotal() != 2 ||
		m.GetUserMetrics()["put_records_batch"] != 4 {
		t.Errorf("after GetAndResetMetrics: %v, want _1min zero and totals kept", m)
	}

	stats.IncReceived()
	stats.RecordSystemException(errors.New("ack: connection closed"))
	if _, err := client.ResetMetrics(ctx, empty); err != nil {
		t.Fatalf("ResetMetrics: %v", err)
	}
	m, err = client.GetMetrics(ctx, empty)
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	if m.GetReceivedTotal_1Min() != 0 || m.GetSystemExceptionsTotal_1Min() != 0 || m.GetReceivedTotal() != 4 || m.GetSystemExceptionsTotal() != 1 {
		t.Errorf("after ResetMetrics: %v", m)
	}

	hc, err := client.HealthCheck(ctx, empty)
	if err != nil || !hc.GetSuccess() {
		t.Fatalf("HealthCheck = %v, %v; want success", hc, err)
	}

	// The worker calls the methods by path; check the exact wire names
	// without the generated client.
	var raw pb.FunctionStatus
	if err := conn.Invoke(ctx, "/proto.InstanceControl/GetFunctionStatus", empty, &raw); err != nil {
		t.Fatalf("invoke /proto.InstanceControl/GetFunctionStatus: %v", err)
	}
	if raw.GetNumReceived() != 4 {
		t.Errorf("raw invoke numReceived = %d, want 4", raw.GetNumReceived())
	}
}

func TestControlServerReportsFailure(t *testing.T) {
	srv, client, _ := startControl(t, ControlConfig{Stats: NewStats(MetricLabels{}, nil)})
	srv.SetFailure(errors.New("kinesis credentials expired"))
	st, err := client.GetFunctionStatus(rpcCtx(t), &emptypb.Empty{})
	if err != nil {
		t.Fatalf("GetFunctionStatus: %v", err)
	}
	if st.GetRunning() || st.GetFailureException() != "kinesis credentials expired" || st.GetInstanceId() != "0" {
		t.Fatalf("status = %v, want running=false with the failure and instanceId 0", st)
	}
}

func TestHealthCheckUpdatesLastHealthCheck(t *testing.T) {
	srv, client, _ := startControl(t, ControlConfig{})
	first := srv.LastHealthCheck()
	time.Sleep(5 * time.Millisecond)
	if _, err := client.HealthCheck(rpcCtx(t), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if got := srv.LastHealthCheck(); !got.After(first) || time.Since(got) > time.Second {
		t.Fatalf("LastHealthCheck = %v, want after %v and recent", got, first)
	}
}

// syncBuffer collects log output written from the watchdog goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHealthWatchdogFiresAfterThreeIntervals(t *testing.T) {
	var logs syncBuffer
	srv, _, _ := startControl(t, ControlConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const interval = 60 * time.Millisecond
	fired := make(chan time.Time, 1)
	start := time.Now()
	cancel := srv.StartHealthWatchdog(interval, func() { fired <- time.Now() })
	defer cancel()
	select {
	case at := <-fired:
		if d := at.Sub(start); d < 3*interval {
			t.Fatalf("watchdog fired after %v, before 3x interval (%v)", d, 3*interval)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watchdog did not fire without health checks")
	}
	if !strings.Contains(logs.String(), "Haven't received health check from spawner in a while. Stopping instance...") {
		t.Errorf("log does not carry the contract's message: %q", logs.String())
	}
	select {
	case <-fired:
		t.Fatal("stop called more than once")
	case <-time.After(4 * interval):
	}
}

func TestHealthWatchdogQuietWhileCallsArrive(t *testing.T) {
	srv, client, _ := startControl(t, ControlConfig{})
	const interval = 60 * time.Millisecond
	var fired atomic.Int32
	cancel := srv.StartHealthWatchdog(interval, func() { fired.Add(1) })
	defer cancel()

	// Calls every interval for 10 intervals: well past 3x, never fires.
	for range 10 {
		if _, err := client.HealthCheck(rpcCtx(t), &emptypb.Empty{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(interval)
	}
	if n := fired.Load(); n != 0 {
		t.Fatalf("watchdog fired %d times while health checks arrived every interval", n)
	}
	// Then the calls stop, and it fires.
	deadline := time.Now().Add(5 * time.Second)
	for fired.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if fired.Load() != 1 {
		t.Fatalf("watchdog fired %d times after health checks stopped, want 1", fired.Load())
	}
}

func TestHealthWatchdogOffAndCancelled(t *testing.T) {
	srv, _, _ := startControl(t, ControlConfig{})
	var fired atomic.Int32
	for _, iv := range []time.Duration{0, -1 * time.Second} {
		srv.StartHealthWatchdog(iv, func() { fired.Add(1) })()
	}
	cancel := srv.StartHealthWatchdog(20*time.Millisecond, func() { fired.Add(1) })
	cancel()
	cancel() // idempotent
	srv2 := NewControlServer(ControlConfig{Bind: "127.0.0.1"})
	if err := srv2.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv2.StartHealthWatchdog(20*time.Millisecond, func() { fired.Add(1) })
	srv2.Stop() // Stop ends watchdogs: no health checks can arrive any more.
	time.Sleep(200 * time.Millisecond)
	if n := fired.Load(); n != 0 {
		t.Fatalf("stop called %d times by a watchdog that was off, cancelled or stopped", n)
	}
}

func TestControlServerStop(t *testing.T) {
	srv, client, _ := startControl(t, ControlConfig{})
	addr := srv.Addr().String()
	srv.Stop()
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := client.HealthCheck(ctx, &emptypb.Empty{}); err == nil {
		t.Fatal("HealthCheck succeeded after Stop")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
	if err := srv.Start(t.Context()); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
}

func TestControlServerStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	srv := NewControlServer(ControlConfig{Bind: "127.0.0.1"})
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still listening after the context was cancelled", addr)
}

func TestControlServerBindFromEnv(t *testing.T) {
	t.Setenv(GRPCBindEnv, "127.0.0.1")
	srv := NewControlServer(ControlConfig{})
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if ip := srv.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("listening on %v, want 127.0.0.1 from %s", srv.Addr(), GRPCBindEnv)
	}

	t.Setenv(GRPCBindEnv, "192.0.2.1")
	err := NewControlServer(ControlConfig{}).Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), GRPCBindEnv+`="192.0.2.1"`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad bind address error = %v, want one line naming %s and the value", err, GRPCBindEnv)
	}
}

func TestListenAddrDefaultsToAllInterfaces(t *testing.T) {
	// Checked without listening: tests keep their servers on loopback.
	t.Setenv(GRPCBindEnv, "")
	if addr, fromEnv := listenAddr("", GRPCBindEnv, 9093); addr != ":9093" || fromEnv {
		t.Fatalf("listenAddr with no bind = %q (fromEnv %v), want \":9093\" (all interfaces)", addr, fromEnv)
	}
	t.Setenv(GRPCBindEnv, "10.0.0.5")
	if addr, fromEnv := listenAddr("", GRPCBindEnv, 9093); addr != "10.0.0.5:9093" || !fromEnv {
		t.Fatalf("listenAddr from env = %q (fromEnv %v), want 10.0.0.5:9093", addr, fromEnv)
	}
	if addr, _ := listenAddr("::1", GRPCBindEnv, 9093); addr != "[::1]:9093" {
		t.Fatalf("explicit Bind ignored or misjoined: %q", addr)
	}
}

func TestControlServerPortInUse(t *testing.T) {
	srv, _, _ := startControl(t, ControlConfig{})
	port := srv.Addr().(*net.TCPAddr).Port
	_, err := StartControlServer(ControlConfig{Bind: "127.0.0.1", Port: port})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("second server on port %d: err = %v, want address already in use", port, err)
	}
}

// javaProbe is a client built on the worker's own generated classes
// (pulsar-functions-proto in the Pulsar distribution). It calls every RPC
// and prints each reply with protobuf's JsonFormat, so the Go side sees the
// values as the worker decodes them: by field number, named by the Java
// field names.
const javaProbe = `
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import com.google.protobuf.Empty;
import com.google.protobuf.util.JsonFormat;
import org.apache.pulsar.functions.proto.InstanceControlGrpc;
import java.util.concurrent.TimeUnit;

public class Probe {
    public static void main(String[] args) throws Exception {
        ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", Integer.parseInt(args[0])).usePlaintext().build();
        InstanceControlGrpc.InstanceControlBlockingStub stub = InstanceControlGrpc.newBlockingStub(ch);
        JsonFormat.Printer p = JsonFormat.printer().omittingInsignificantWhitespace();
        Empty e = Empty.getDefaultInstance();
        System.out.println("HealthCheck " + p.print(stub.withDeadlineAfter(5, TimeUnit.SECONDS).healthCheck(e)));
        System.out.println("GetFunctionStatus " + p.print(stub.withDeadlineAfter(5, TimeUnit.SECONDS).getFunctionStatus(e)));
        System.out.println("GetMetrics " + p.print(stub.withDeadlineAfter(5, TimeUnit.SECONDS).getMetrics(e)));
        System.out.println("GetAndResetMetrics " + p.print(stub.withDeadlineAfter(5, TimeUnit.SECONDS).getAndResetMetrics(e)));
        stub.withDeadlineAfter(5, TimeUnit.SECONDS).resetMetrics(e);
        System.out.println("AfterReset " + p.print(stub.withDeadlineAfter(5, TimeUnit.SECONDS).getMetrics(e)));
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
`

// TestControlServerWithWorkerClasses checks wire compatibility against the
// Pulsar distribution's own InstanceControl stubs, the code the function
// worker runs: a field-number mistake in our .proto shows up here as a
// value under the wrong name.
func TestControlServerWithWorkerClasses(t *testing.T) {
	home := os.Getenv("PULSAR_HOME")
	javaBin, lookErr := exec.LookPath("java")
	if home == "" || lookErr != nil {
		if os.Getenv("KS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PULSAR_HOME=%q, java: %v; both are required with KS_REQUIRE_SERVICES=1", home, lookErr)
		}
		t.Skip("needs PULSAR_HOME (a Pulsar distribution) and java")
	}
	classpath := probeClasspath(t, filepath.Join(home, "lib"))
	// Also on the port the worker may give to both gRPC and metrics: its
	// gRPC client over cleartext HTTP/2 to the shared listener.
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "own-port", true: "shared-port"}[shared], func(t *testing.T) {
			var also http.Handler
			if shared {
				also = http.NotFoundHandler()
			}
			controlWithWorkerClasses(t, javaBin, classpath, also)
		})
	}
}

func controlWithWorkerClasses(t *testing.T, javaBin, classpath string, also http.Handler) {
	stats := NewStats(MetricLabels{}, nil)
	srv, _, _ := startControl(t, ControlConfig{InstanceID: 2, Stats: stats, Also: also})
	hcBefore := srv.LastHealthCheck()
	before := time.Now().UnixMilli()
	for range 3 {
		stats.IncReceived()
	}
	stats.RecordSuccess(4 * time.Millisecond)
	stats.RecordSuccess(8 * time.Millisecond)
	stats.RecordUserException(errors.New("record 3: not JSON"))
	stats.RecordSystemException(errors.New("ack: closed"))
	stats.RecordSourceException(errors.New("consumer: closed"))
	stats.RecordSinkException(errors.New("PutRecords: throttled"))
	// A second sink exception makes every counter pair distinguishable, so
	// swapped field numbers cannot pass.
	stats.RecordSinkException(errors.New("PutRecords: timeout"))
	stats.RecordUserMetric("batch", 10)
	after := time.Now().UnixMilli()

	dir := t.TempDir()
	src := filepath.Join(dir, "Probe.java")
	if err := os.WriteFile(src, []byte(javaProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	port := strconv.Itoa(srv.Addr().(*net.TCPAddr).Port)
	cmd := exec.CommandContext(ctx, javaBin, "-cp", classpath, src, port)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("java probe: %v\n%s", err, out)
	}
	replies := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, js, ok := strings.Cut(line, " {"); ok && !strings.ContainsAny(name, " \t") {
			replies[name] = "{" + js
		}
	}
	parse := func(name string, m proto.Message) {
		t.Helper()
		js, ok := replies[name]
		if !ok {
			t.Fatalf("no %s line in the probe output:\n%s", name, out)
		}
		// No DiscardUnknown: a field the worker knows and we do not
		// fails here.
		if err := protojson.Unmarshal([]byte(js), m); err != nil {
			t.Fatalf("%s reply %s: %v", name, js, err)
		}
	}

	var hc pb.HealthCheckResult
	parse("HealthCheck", &hc)
	if !hc.GetSuccess() || !srv.LastHealthCheck().After(hcBefore) {
		t.Errorf("HealthCheck via worker classes: success=%v, last health check not updated", hc.GetSuccess())
	}

	var st pb.FunctionStatus
	parse("GetFunctionStatus", &st)
	if !st.GetRunning() || st.GetNumReceived() != 3 || st.GetNumSuccessfullyProcessed() != 2 ||
		st.GetNumUserExceptions() != 1 || st.GetNumSystemExceptions() != 1 || st.GetNumSourceExceptions() != 1 ||
		st.GetNumSinkExceptions() != 2 || st.GetAverageLatency() != 6 || st.GetInstanceId() != "2" {
		t.Errorf("status as the worker reads it: %s", replies["GetFunctionStatus"])
	}
	if st.GetLastInvocationTime() < before || st.GetLastInvocationTime() > after {
		t.Errorf("lastInvocationTime as the worker reads it = %d, want ms in [%d, %d]", st.GetLastInvocationTime(), before, after)
	}
	for name, list := range map[string][]*pb.FunctionStatus_ExceptionInformation{
		"record 3: not JSON":    st.GetLatestUserExceptions(),
		"ack: closed":           st.GetLatestSystemExceptions(),
		"consumer: closed":      st.GetLatestSourceExceptions(),
		"PutRecords: throttled": st.GetLatestSinkExceptions()[:min(1, len(st.GetLatestSinkExceptions()))],
	} {
		if len(list) != 1 || list[0].GetExceptionString() != name || list[0].GetMsSinceEpoch() < before || list[0].GetMsSinceEpoch() > after {
			t.Errorf("exception %q as the worker reads it: %v", name, list)
		}
	}

	if se := st.GetLatestSinkExceptions(); len(se) != 2 || se[1].GetExceptionString() != "PutRecords: timeout" {
		t.Errorf("sink exceptions as the worker reads them: %v", se)
	}

	var m pb.MetricsData
	parse("GetMetrics", &m)
	if m.GetReceivedTotal() != 3 || m.GetProcessedSuccessfullyTotal() != 2 || m.GetUserExceptionsTotal() != 1 ||
		m.GetSystemExceptionsTotal() != 1 || m.GetAvgProcessLatency() != 6 || m.GetLastInvocation() != st.GetLastInvocationTime() ||
		m.GetReceivedTotal_1Min() != 3 || m.GetProcessedSuccessfullyTotal_1Min() != 2 || m.GetUserExceptionsTotal_1Min() != 1 ||
		m.GetSystemExceptionsTotal_1Min() != 1 || m.GetAvgProcessLatency_1Min() != 6 || m.GetUserMetrics()["batch"] != 10 {
		t.Errorf("metrics as the worker reads them: %s", replies["GetMetrics"])
	}
	var gr pb.MetricsData
	parse("GetAndResetMetrics", &gr)
	if gr.GetReceivedTotal_1Min() != 3 {
		t.Errorf("GetAndResetMetrics as the worker reads it: %s", replies["GetAndResetMetrics"])
	}
	var ar pb.MetricsData
	parse("AfterReset", &ar)
	if ar.GetReceivedTotal_1Min() != 0 || ar.GetReceivedTotal() != 3 {
		t.Errorf("metrics after the resets as the worker reads them: %s", replies["AfterReset"])
	}
}

// probeClasspath lists the few jars the probe needs: compiling it against
// all of lib/ takes the source launcher ten times longer. A distribution
// laid out differently falls back to everything.
func probeClasspath(t *testing.T, lib string) string {
	t.Helper()
	if jars, _ := filepath.Glob(filepath.Join(lib, "org.apache.pulsar-pulsar-functions-proto-*.jar")); len(jars) == 0 {
		t.Fatalf("no pulsar-functions-proto jar under %s", lib)
	}
	var cp []string
	for _, prefix := range []string{
		"org.apache.pulsar-pulsar-functions-proto-", "com.google.protobuf-protobuf-java-",
		"com.google.code.gson-gson-2", "com.google.guava-guava-", "com.google.guava-failureaccess-",
		"io.grpc-grpc-api-", "io.grpc-grpc-context-", "io.grpc-grpc-core-", "io.grpc-grpc-netty-shaded-",
		"io.grpc-grpc-protobuf-", "io.grpc-grpc-stub-", "io.grpc-grpc-util-", "io.perfmark-perfmark-api-",
		"com.google.api.grpc-proto-google-common-protos-",
	} {
		jars, _ := filepath.Glob(filepath.Join(lib, prefix+"*.jar"))
		if len(jars) == 0 {
			return filepath.Join(lib, "*")
		}
		cp = append(cp, jars...)
	}
	return strings.Join(cp, string(os.PathListSeparator))
}

// TestControlServerSharedPort: with Also, one listener answers the
// worker's gRPC calls (cleartext HTTP/2, as its client dials) and plain
// HTTP for the rest: the metrics, when the worker gave one port for both.
func TestControlServerSharedPort(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "shared_port_probe_total", Help: "probe"})
	reg.MustRegister(c)
	c.Add(7)
	also := NewMetricsServer(MetricsConfig{Gatherer: reg}).Handler()
	srv, client, _ := startControl(t, ControlConfig{InstanceID: 1, Stats: NewStats(MetricLabels{}, nil), Also: also})
	hc, err := client.HealthCheck(rpcCtx(t), &emptypb.Empty{})
	if err != nil || !hc.GetSuccess() {
		t.Fatalf("HealthCheck on the shared port: %v %v", hc, err)
	}
	for _, path := range []string{"/", "/metrics"} {
		resp, err := http.Get("http://" + srv.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "shared_port_probe_total 7") {
			t.Errorf("GET %s on the shared port: HTTP %d\n%s", path, resp.StatusCode, body)
		}
	}
	srv.Stop()
	if _, err := http.Get("http://" + srv.Addr().String() + "/metrics"); err == nil {
		t.Error("the shared port still answers after Stop")
	}
}
