package producer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// TestCutAtAggregateLimit checks the cut's size accounting at the boundary:
// two records whose aggregate plus outer key is exactly AggregationMaxSize
// share one entry; one data byte more and they go as two plain records.
// The cut is inspected directly (no request is sent: the client points
// nowhere and Linger holds the records).
func TestCutAtAggregateLimit(t *testing.T) {
	const limit = 1000
	first := bytes.Repeat([]byte("f"), 10)
	var s kpl.Sizer
	s.Add("k", "", len(first))
	n := -1
	for d := 0; d < limit; d++ {
		if s.SizeWith("k", "", d)+len("k") == limit {
			n = d
		}
	}
	if n < 0 {
		t.Fatal("no exact fit")
	}
	for _, tc := range []struct {
		dataLen, wantEntries int
	}{{n, 1}, {n + 1, 2}} {
		c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1")})
		p, err := New(c, Options{Aggregation: AggregateByKey, AggregationMaxSize: limit, Linger: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		cb := func(Result) {}
		for _, d := range [][]byte{first, bytes.Repeat([]byte("s"), tc.dataLen)} {
			if err := p.Put(context.Background(), Entry{Stream: "s", PartitionKey: "k", Data: d, Callback: cb}); err != nil {
				t.Fatal(err)
			}
		}
		p.mu.Lock()
		b, _ := p.takeLocked(p.streams["s"], time.Now(), nil)
		p.mu.Unlock()
		if len(b.ents) != tc.wantEntries {
			t.Fatalf("data %d: %d entries, want %d", tc.dataLen, len(b.ents), tc.wantEntries)
		}
		if tc.wantEntries == 1 {
			e := b.ents[0]
			if !e.agg || e.size != limit || e.pk != "k" {
				t.Fatalf("entry %+v: want an aggregate of exactly %d bytes under key k", e, limit)
			}
			var a kpl.Aggregator
			p.encode(b, &a)
			if got := len(b.ents[0].data) + len(e.pk); got != limit {
				t.Fatalf("encoded aggregate + key is %d bytes, cut said %d", got, limit)
			}
		} else {
			for _, e := range b.ents {
				if e.agg || len(e.recs) != 1 {
					t.Fatalf("entry %+v: want plain records", e)
				}
			}
		}
		// The records left the queues without being sent: resolve them so
		// that Close does not wait for them.
		for _, r := range b.recs {
			p.expire(r)
		}
		p.finish(p.newCallbackWatch("test"), b.recs)
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
