package producer_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// BenchmarkPut measures Put through to the acknowledgement callback. One
// op is one record; records/s counts records acknowledged per second of
// wall time (the SDK's JSON/base64 encoding is most of the cost).
func BenchmarkPut(b *testing.B) {
	for _, bc := range []struct {
		name    string
		size    int
		ordered bool
		agg     producer.AggregationMode
	}{
		{"100B", 100, false, producer.AggregateNone},
		{"1KiB", 1024, false, producer.AggregateNone},
		{"100B-ordered-1000keys", 100, true, producer.AggregateNone},
		{"100B-aggregated-shard", 100, false, producer.AggregateByShard},
		{"100B-aggregated-key", 100, false, producer.AggregateByKey},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(kinesisfake.AcceptAll(true))
			b.Cleanup(srv.Close)
			opts := producer.Options{RetainOrdering: bc.ordered, Linger: 5 * time.Millisecond, MaxBufferedRecords: 50000, Aggregation: bc.agg}
			p, err := producer.New(newClient(srv.URL, opts), opts)
			if err != nil {
				b.Fatal(err)
			}
			if bc.agg == producer.AggregateByShard {
				if _, err := p.Prepare(context.Background(), "bench"); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%d", i)
			}
			data := bytes.Repeat([]byte("x"), bc.size)
			var ok, failed atomic.Int64
			cb := func(r producer.Result) {
				if r.Err != nil {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(bc.size))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := p.Put(ctx, producer.Entry{Stream: "bench", PartitionKey: keys[i%len(keys)], Data: data, Callback: cb}); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() != 0 || ok.Load() != int64(b.N) {
				b.Fatalf("%d ok, %d failed of %d", ok.Load(), failed.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
