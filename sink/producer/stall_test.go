package producer_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// keyOnShard returns a partition key that Kinesis routes to shard.
func keyOnShard(t *testing.T, shards []shardInfo, shard string) string {
	t.Helper()
	for i := range 10000 {
		k := fmt.Sprintf("key-%d", i)
		h, err := faultproxy.HashKey(k, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shards {
			if s.id == shard && h.Cmp(s.start) >= 0 && h.Cmp(s.end) <= 0 {
				return k
			}
		}
	}
	t.Fatalf("no key found for %s", shard)
	return ""
}

// TestThrottledRetryGoesWhileCallbackBlocks is the stalled key of
// docs/reliability.md: one request carries a record of key A (shard 0) and
// one of key B (shard 1); shard 1 throttles. While A's callback blocks
// (the sink's ack can wait on the Pulsar client), B must still be retried
// and delivered by another sender. The retry is ordered after the
// throttled answer by the callback itself, which lifts the fault; only
// how many times B meets the outage before that depends on timing.
func TestThrottledRetryGoesWhileCallbackBlocks(t *testing.T) {
	// An endless Linger and requests of two records: the first request is
	// cut when both records are queued, and B's retry only once Flush
	// hurries it.
	opts := producer.Options{RetainOrdering: true, Linger: time.Hour, MaxRecordsPerRequest: 2,
		RetryInitialDelay: 10 * time.Millisecond, RetryMaxDelay: 100 * time.Millisecond}
	e := newFaultEnv(t, 2, 1, opts)
	defer closeProducer(t, e.p)
	shards := listShards(t, e.direct, e.stream)
	keyA, keyB := keyOnShard(t, shards, "shardId-000000000000"), keyOnShard(t, shards, "shardId-000000000001")
	e.proxy.SetRules(faultproxy.Rules{ShardOutages: []faultproxy.ShardOutage{
		{Stream: e.stream, ShardID: "shardId-000000000001", Until: time.Now().Add(time.Hour)},
	}})

	inCallback, release := make(chan struct{}), make(chan struct{})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(release)
		}
	}
	defer unblock() // a failed check must not leave the sender blocked for Close
	resA, resB := make(chan producer.Result, 1), make(chan producer.Result, 1)
	want := map[int]sent{}
	put := func(key string, cb func(producer.Result)) {
		t.Helper()
		id := len(want)
		want[id] = sent{key: key, data: payload(id, key, 0, 40)}
		err := e.p.Put(context.Background(), producer.Entry{Stream: e.stream, PartitionKey: key, Data: want[id].data, Tag: id, Callback: cb})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(keyA, func(r producer.Result) {
		resA <- r
		// The request has been answered: B's next attempt goes through.
		e.proxy.SetRules(faultproxy.Rules{})
		close(inCallback)
		<-release
	})
	put(keyB, func(r producer.Result) { resB <- r })
	flushed := make(chan error, 1)
	go func() { flushed <- e.p.Flush(context.Background()) }()

	select {
	case <-inCallback:
	case <-time.After(30 * time.Second):
		t.Fatalf("A's callback did not run within 30 s (stats %+v, proxy %+v)", e.p.Stats(), e.proxy.Counters())
	}
	if r := <-resA; r.Err != nil || r.Attempts != 1 {
		t.Fatalf("A: %+v; want delivered at the first attempt", r)
	}
	select {
	case r := <-resB:
		// B's retry is due 10-20 ms after the answer, and A's callback
		// lifts the outage only then: on a slow machine the retry can meet
		// the outage once more. What counts is that it goes while A's
		// callback blocks; the proxy's count below says it was stored once.
		if r.Err != nil || r.Attempts < 2 {
			t.Errorf("B: %+v; want delivered at a retry", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("B was not delivered within 30 s while A's callback blocked (stats %+v, proxy %+v)", e.p.Stats(), e.proxy.Counters())
	}
	if pc := e.proxy.Counters(); pc.EntriesForwarded != 2 {
		t.Errorf("proxy forwarded %d entries, want 2 (A once, B's retry once): %+v", pc.EntriesForwarded, pc)
	}
	unblock()
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if dupes, _ := checkArrived(t, e.direct, e.stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
}

// The same against the in-process Kinesis model on synctest's clock, so
// that it needs no service: the first request carries A and B and throttles
// B; while A's callback blocks, B's retry must go and be stored. Were it
// held back, every goroutine would wait and the bubble's clock would run
// to the test's minute.
func TestThrottledRetryGoesWhileCallbackBlocksInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{Faults: func(r *kinesisfake.Request) kinesisfake.Fault {
			if r.Op != "PutRecords" || r.N != 1 {
				return kinesisfake.Fault{}
			}
			codes := make([]string, len(r.Entries))
			for i, e := range r.Entries {
				if e.PartitionKey == "b" {
					codes[i] = kinesisfake.CodeThrottled
				}
			}
			return kinesisfake.Fault{EntryErrors: codes}
		}})
		st, err := m.CreateStream(kinesisfake.StreamSpec{Name: "s", Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		p, err := producer.New(m.Client(), producer.Options{RetainOrdering: true, Linger: time.Hour, MaxRecordsPerRequest: 2,
			RetryInitialDelay: 10 * time.Millisecond, RetryMaxDelay: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		resA, resB := make(chan producer.Result, 1), make(chan producer.Result, 1)
		put := func(key string, cb func(producer.Result)) {
			t.Helper()
			if err := p.Put(context.Background(), producer.Entry{Stream: "s", PartitionKey: key, Data: []byte("record " + key), Callback: cb}); err != nil {
				t.Fatal(err)
			}
		}
		put("a", func(r producer.Result) { resA <- r; <-release })
		put("b", func(r producer.Result) { resB <- r })
		flushed := make(chan error, 1)
		go func() { flushed <- p.Flush(context.Background()) }()

		if r := <-resA; r.Err != nil || r.Attempts != 1 {
			t.Errorf("A: %+v; want delivered at the first attempt", r)
		}
		select {
		case r := <-resB:
			if r.Err != nil || r.Attempts != 2 {
				t.Errorf("B: %+v; want delivered at the second attempt", r)
			}
		case <-time.After(time.Minute):
			t.Errorf("B was not delivered within a minute while A's callback blocked (stats %+v)", p.Stats())
		}
		close(release)
		if err := <-flushed; err != nil {
			t.Fatal(err)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(st.Records()); got != 2 {
			t.Errorf("%d records stored, want 2", got)
		}
	})
}
