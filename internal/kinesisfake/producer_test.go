package kinesisfake_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// runProducer puts n records over keys through the producer into the
// model's stream and checks that each was delivered once and that, with
// RetainOrdering, each key's first stored copies are in Put order.
func runProducer(t *testing.T, m *kinesisfake.Model, client producer.PutRecordsAPI, opts producer.Options, n, keys int) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := producer.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Prepare(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed := 0
	for i := range n {
		e := producer.Entry{Stream: "s", PartitionKey: fmt.Sprintf("key-%d", i%keys), Data: []byte(fmt.Sprintf("%d", i)),
			Callback: func(r producer.Result) {
				if r.Err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					t.Errorf("record %d: %v", i, r.Err)
				}
			}}
		if err := p.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	users, err := m.Stream("s").UserRecords()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	last := map[string]int{}
	for _, u := range users {
		v := atoi(string(u.Data))
		if seen[string(u.Data)] {
			continue
		}
		seen[string(u.Data)] = true
		if opts.RetainOrdering {
			if prev, ok := last[u.PartitionKey]; ok && v < prev {
				t.Fatalf("key %s: %d stored after %d", u.PartitionKey, v, prev)
			}
		}
		last[u.PartitionKey] = v
	}
	if len(seen) != n || failed != 0 {
		t.Fatalf("%d of %d records stored, %d failed", len(seen), n, failed)
	}
}

// TestProducerOnModel drives the producer against the model in memory on
// synctest's clock, with throttling at the shard limit and drawn faults:
// what the model is for.
func TestProducerOnModel(t *testing.T) {
	for _, agg := range []producer.AggregationMode{producer.AggregateNone, producer.AggregateByShard} {
		t.Run(fmt.Sprint("aggregation ", agg), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := kinesisfake.New(kinesisfake.Config{Faults: kinesisfake.Rules{Seed: 3, ThrottleFraction: 0.2,
					InternalFailureFraction: 0.05, ResetAfterWriteFraction: 0.05, ErrorFraction: 0.05}.Func()})
				m.MustCreateStream("s", 2)
				runProducer(t, m, m.Client(), producer.Options{RetainOrdering: true, Aggregation: agg, RequestTimeout: 5 * time.Second,
					RecordTTL: time.Hour}, 5000, 50)
				if c := m.Counters(); c.EntriesFaulted == 0 || c.Refused == 0 {
					t.Errorf("the faults did not happen: %+v", c)
				}
			})
		})
	}
}

// TestProducerAtShardLimit: 6,000 records on one shard take five seconds
// past the first second's burst, however fast the producer sends.
func TestProducerAtShardLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{})
		m.MustCreateStream("s", 1)
		start := time.Now()
		runProducer(t, m, m.Client(), producer.Options{RecordTTL: time.Hour}, 6000, 100)
		if d := time.Since(start); d < 5*time.Second {
			t.Errorf("6,000 records in %v", d)
		}
		if c := m.Counters(); c.EntriesThrottled == 0 {
			t.Errorf("nothing throttled: %+v", c)
		}
	})
}

// TestProducerOverHTTP sends through the SDK's client and the producer's
// own request body writer to the model's handler.
func TestProducerOverHTTP(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	m.MustCreateStream("s", 3)
	runProducer(t, m, serve(t, m), producer.Options{RetainOrdering: true, Linger: time.Millisecond}, 2000, 20)
}
