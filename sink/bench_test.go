package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// acceptAll answers PutRecords for every entry and DescribeStreamSummary,
// storing nothing, so that BenchmarkWrite measures the sink, the producer
// and the SDK rather than an emulator (make bench measures the whole
// process against real Pulsar).
func acceptAll(tb testing.TB) *httptest.Server {
	var mu sync.Mutex
	cache := map[int][]byte{}
	marker := []byte(`"PartitionKey"`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Header.Get("X-Amz-Target") == "Kinesis_20131202.DescribeStreamSummary" {
			_, _ = io.WriteString(w, `{"StreamDescriptionSummary":{"StreamName":"bench","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/bench","StreamStatus":"ACTIVE","OpenShardCount":1,"RetentionPeriodHours":24,"StreamCreationTimestamp":1.7e9,"EnhancedMonitoring":[],"EncryptionType":"NONE"}}`)
			return
		}
		n := bytes.Count(body, marker)
		mu.Lock()
		resp, ok := cache[n]
		if !ok {
			var b bytes.Buffer
			b.WriteString(`{"FailedRecordCount":0,"Records":[`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"SequenceNumber":"4959%016d","ShardId":"shardId-000000000000"}`, i)
			}
			b.WriteString(`]}`)
			resp = b.Bytes()
			cache[n] = resp
		}
		mu.Unlock()
		_, _ = w.Write(resp)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// BenchmarkWrite is Sink.Write for 100 B raw records through the producer
// and the AWS SDK into acceptAll, until every record is acked: allocs/op is
// the per-record cost of the whole sink path. Before the hot-path changes
// (payload copied, a closure per record) it was 2 allocations per record
// more; most of what remains is the SDK's (request serialisation, about 4
// objects per entry to decode the response) and the producer's record.
func BenchmarkWrite(b *testing.B) {
	srv := acceptAll(b)
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
