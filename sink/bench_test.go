package sink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// BenchmarkWrite is Sink.Write for 100 B raw records through the producer
// and the AWS SDK into kinesisfake.AcceptAll, until every record is acked: allocs/op is
// the per-record cost of the whole sink path. Before the hot-path changes
// (payload copied, a closure per record) it was 2 allocations per record
// more; most of what remains is the SDK's (request serialisation, about 4
// objects per entry to decode the response) and the producer's record.
func BenchmarkWrite(b *testing.B) {
	// No shard map: the default rate limit would hold one shard to
	// 1,500 records/s, and this measures the path, not the limit.
	srv := httptest.NewServer(kinesisfake.AcceptAll(false))
	b.Cleanup(srv.Close)
	s := New()
	cfg := map[string]any{
		"awsEndpoint": srv.URL, "cloudwatchEndpoint": srv.URL, "awsKinesisStreamName": "bench",
		"awsCredentialPluginParam": `{"accessKey":"a","secretKey":"b"}`, "metricsLevel": "none",
		"aggregationEnabled": false,
	}
	var acked atomic.Int64
	err := s.Open(context.Background(), &runtime.SinkContext{
		UserConfig: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	payload := bytes.Repeat([]byte("x"), 100)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	on := runtime.ResolveFuncs{
		OnAck:  func(*runtime.Record) { acked.Add(1) },
		OnFail: func(_ *runtime.Record, err error) { b.Error(err) },
	}
	recs := make([]*runtime.Record, b.N)
	for i := range recs {
		recs[i] = runtime.NewRecord(runtime.RecordData{Payload: payload, Key: keys[i%len(keys)], HasKey: true,
			Topic: "persistent://public/default/bench", Partition: -1}, on)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for _, r := range recs {
		if err := s.Write(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.prod.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if n := acked.Load(); n != int64(b.N) {
		b.Fatalf("%d of %d records acked", n, b.N)
	}
}
