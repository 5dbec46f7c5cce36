package cwmetrics

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/version"
	"github.com/pulsar-kinesis/kinesis-sink/sink/awscfg"
)

// Tests that need no AWS emulator.

// TestPrometheusFamilies: the measurements appear as kinesis_sink_*
// families on the given registry, also with metricsLevel none and without
// a CloudWatch client.
func TestPrometheusFamilies(t *testing.T) {
	ver, commit := version.Resolved()
	for _, level := range []conf.MetricsLevel{conf.MetricsNone, conf.MetricsDetailed} {
		reg := prometheus.NewRegistry()
		m, err := New(nil, Options{Registerer: reg, Level: level})
		if err != nil {
			t.Fatal(err)
		}
		recordKnown(m, s1, s2)
		m.Request(s2, 4, 400, 3*time.Second, "ServiceUnavailable")
		m.SetPending(42)
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"kinesis_sink_user_records_received_total", map[string]string{"stream": s1}, 5},
			{"kinesis_sink_user_records_received_total", map[string]string{"stream": s2}, 2},
			{"kinesis_sink_user_records_put_total", map[string]string{"stream": s1}, 3},
			{"kinesis_sink_user_records_failed_total", map[string]string{"stream": s1}, 1},
			{"kinesis_sink_user_records_expired_total", map[string]string{"stream": s1}, 1},
			{"kinesis_sink_user_records_data_put_bytes_total", map[string]string{"stream": s1}, 500},
			{"kinesis_sink_kinesis_records_put_total", map[string]string{"stream": s1}, 2},
			{"kinesis_sink_kinesis_records_data_put_bytes_total", map[string]string{"stream": s2}, 50},
			{"kinesis_sink_request_bytes_total", map[string]string{"stream": s1}, 800},
			{"kinesis_sink_errors_total", map[string]string{"stream": s1, "code": pte}, 2},
			{"kinesis_sink_errors_total", map[string]string{"stream": s2, "code": "InternalFailure"}, 1},
			{"kinesis_sink_request_errors_total", map[string]string{"stream": s2, "code": "ServiceUnavailable"}, 1},
			{"kinesis_sink_user_records_pending", nil, 42},
			{"kinesis_sink_request_duration_seconds", map[string]string{"stream": s1}, 2},
			{"kinesis_sink_request_duration_seconds", map[string]string{"stream": s2}, 2},
			{"kinesis_sink_buffering_time_seconds", map[string]string{"stream": s1}, 3},
			{"kinesis_sink_retries_per_record", map[string]string{"stream": s1}, 4},
			{"kinesis_sink_user_records_per_kinesis_record", map[string]string{"stream": s1}, 2},
			{"kinesis_sink_kinesis_records_per_request", map[string]string{"stream": s2}, 2},
			{"kinesis_sink_build_info", map[string]string{"version": ver, "commit": commit}, 1},
		} {
			if got := gauge(t, reg, c.name, c.labels); got != c.want {
				t.Errorf("level %s: %s%v = %v, want %v", level, c.name, c.labels, got, c.want)
			}
		}
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close without CloudWatch: %v", err)
		}
	}
}

// TestSharedRegistry: two Metrics on one registry share the families
// instead of failing to register.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(nil, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(nil, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	a.UserRecordReceived("x")
	b.UserRecordReceived("x")
	if got := gauge(t, reg, "kinesis_sink_user_records_received_total", map[string]string{"stream": "x"}); got != 2 {
		t.Errorf("shared counter %v, want 2", got)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{Namespace: "AWS/Kinesis"},
		{Level: "verbose"},
		{Granularity: "host"},
	} {
		if _, err := New(nil, o); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("New(%+v) = %v, want a one-line error", o, err)
		}
	}
}

// TestRecordingDoesNotWaitForUpload: while an upload hangs on an
// unresponsive CloudWatch endpoint, recording goes on at full speed.
func TestRecordingDoesNotWaitForUpload(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		<-release
	}))
	defer srv.Close()
	defer close(release)

	c := conf.Default()
	c.AWSRegion = "us-east-1"
	c.CloudwatchEndpoint = srv.URL
	c.AWSCredentialPluginParam = `{"accessKey":"AKIDX","secretKey":"x"}`
	cl, err := awscfg.New(context.Background(), c, awscfg.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m, err := New(cl.CloudWatch, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.UserRecordReceived("s")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go m.Flush(ctx)
	<-entered // the upload is now stuck in PutMetricData

	start := time.Now()
	for i := range 100000 {
		m.UserRecordPut("s", "shardId-000000000001", 100, i%3, time.Millisecond)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("100k recordings took %s during a hung upload", took)
	}
	m.mu.Lock()
	n := m.series[seriesKey{metric: mUserRecordsPut, stream: "s", shard: "shardId-000000000001"}].count
	m.mu.Unlock()
	if n != 100000 {
		t.Errorf("recorded %v samples, want 100000", n)
	}
}

// TestSteadyRecordingAllocatesNothing: once a stream's series and handles
// exist, recording allocates nothing.
func TestSteadyRecordingAllocatesNothing(t *testing.T) {
	m, err := New(fakeCW{}, Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	record := func() {
		m.UserRecordReceived("s")
		m.UserRecordPut("s", "shardId-000000000003", 100, 1, time.Millisecond)
		m.KinesisRecordPut("s", "shardId-000000000003", 10, 1000)
		m.EntryError("s", "shardId-000000000003", pte)
		m.Request("s", 10, 1000, 20*time.Millisecond, "")
		m.UserRecordFailed("s", "shardId-000000000003", 2, true)
		m.SetPending(5)
	}
	record()
	if a := testing.AllocsPerRun(1000, record); a != 0 {
		t.Errorf("%v allocations per round of recordings, want 0", a)
	}
}

// fakeCW is never called: it only makes New enable CloudWatch aggregation.
type fakeCW struct{ CloudWatchAPI }

func BenchmarkRecord(b *testing.B) {
	m, err := New(fakeCW{}, Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.UserRecordPut("s", "shardId-000000000003", 100, 1, time.Millisecond)
			m.KinesisRecordPut("s", "shardId-000000000003", 1, 100)
		}
	})
}
