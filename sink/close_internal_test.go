package sink

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// A Close whose context is already over (the NAR's, after Pulsar closed
// the consumers) ends the records' work at once but still uploads the
// last metrics interval to CloudWatch (moto).
func TestCloseWithoutTimeUploadsLastMetrics(t *testing.T) {
	awsEnv := testenv.AWS(t)
	srv := httptest.NewServer(kinesisfake.AcceptAll(false))
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	s := New()
	err := s.Open(context.Background(), &runtime.SinkContext{
		UserConfig: map[string]any{
			"awsEndpoint": srv.URL, "cloudwatchEndpoint": awsEnv.Endpoint, "awsKinesisStreamName": "close-tail",
			"awsCredentialPluginParam": `{"accessKey":"a","secretKey":"b"}`, "metricsLevel": "detailed",
			"metricsNamespace": "close-tail-" + time.Now().Format("150405.000000"), "aggregationEnabled": false,
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	r := runtime.NewRecord(runtime.RecordData{Payload: []byte("x"), Key: "k", HasKey: true,
		Topic: "persistent://public/default/close-tail", Partition: -1},
		runtime.ResolveFuncs{OnAck: func(*runtime.Record) { acked.Add(1) }, OnFail: func(_ *runtime.Record, err error) { t.Error(err) }})
	if err := s.Write(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, func() bool { return acked.Load() == 1 }, "the record acked")
	over, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Close(over)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if n := counter(fams, "kinesis_sink_cloudwatch_datums_published_total"); n == 0 {
		t.Error("Close with its context over uploaded no metrics")
	}
}

func counter(fams []*dto.MetricFamily, name string) float64 {
	for _, f := range fams {
		if f.GetName() == name {
			var v float64
			for _, m := range f.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	return 0
}
