package producer_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// These tests check the rate limit from what the producer recorded (when
// each record or request went out, and how much), not from how long the
// test took: the limiter can only slow things down, so the bound "no more
// than the burst plus rate × elapsed was sent" holds however loaded the
// machine is, and a broken limiter breaks it.

// timed records when each Kinesis record's first callback ran and on which
// shard it was stored, in front of a collector.
type timed struct {
	col *collector
	mu  sync.Mutex
	at  map[string][]time.Time // per stored shard, callback times
}

func newTimed(n int) *timed {
	return &timed{col: newCollector(n), at: map[string][]time.Time{}}
}

func (tm *timed) callback(r producer.Result) {
	now := time.Now()
	// One result per Kinesis record: an aggregate counts once.
	if r.Err == nil && r.FirstInKinesisRecord {
		tm.mu.Lock()
		tm.at[r.ShardID] = append(tm.at[r.ShardID], now)
		tm.mu.Unlock()
	}
	tm.col.callback(r)
}

// checkRateBound checks that by any time t at most burst + rate·(t − t0)
// events were counted (weights in ws at times ts, in any order), with
// slack for a record taken on a full bucket beyond it. t0 must be no later
// than when the bucket started full.
func checkRateBound(t *testing.T, what string, t0 time.Time, ts []time.Time, ws []float64, rate, burst, slack float64) (lastAt time.Duration, total float64) {
	t.Helper()
	idx := make([]int, len(ts))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ts[idx[a]].Before(ts[idx[b]]) })
	worst := -1e18
	for _, i := range idx {
		total += ws[i]
		el := ts[i].Sub(t0).Seconds()
		bound := burst + rate*el + slack
		if total > bound {
			t.Errorf("%s: %.0f sent by %.3fs, the limit allows at most %.0f (burst %.0f + %.0f/s)", what, total, el, bound, burst, rate)
			return
		}
		worst = max(worst, total-(burst+rate*el))
	}
	if len(idx) > 0 {
		lastAt = ts[idx[len(idx)-1]].Sub(t0)
	}
	t.Logf("%s: %.0f in %.2fs (burst %.0f + %.0f/s allows %.0f then); closest to the bound: %.1f over burst+rate·t",
		what, total, lastAt.Seconds(), burst, rate, burst+rate*lastAt.Seconds(), worst)
	return lastAt, total
}

// TestRateLimitRecords: at 10% a shard takes 100 Kinesis records/s (after
// a burst of 100), and records over it wait rather than being sent; each of
// two shards is limited on its own, everything arrives, keys stay in order
// (with retainOrdering; without it, held records still leave in order).
func TestRateLimitRecords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		retain bool
		agg    producer.AggregationMode
		keys   int
	}{
		{"ordered-plain", true, producer.AggregateNone, 40},
		{"unordered-by-key", false, producer.AggregateByKey, 350},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onModel(t, func(t *testing.T, c kinesisAPI) { testRateLimitRecords(t, c, tc.retain, tc.agg, tc.keys) })
		})
	}
}

func testRateLimitRecords(t *testing.T, c kinesisAPI, retain bool, agg producer.AggregationMode, keys int) {
	var mu sync.Mutex
	var reqAt []time.Time
	var reqRecs []float64
	opts := producer.Options{RateLimit: 10, RetainOrdering: retain, Aggregation: agg, Linger: 10 * time.Millisecond,
		Hooks: producer.Hooks{OnRequest: func(i producer.RequestInfo) {
			mu.Lock()
			// The request was cut (its tokens taken) before it started.
			reqAt = append(reqAt, time.Now().Add(-i.Duration))
			reqRecs = append(reqRecs, float64(i.Records))
			mu.Unlock()
		}}}
	p, c, stream, t0 := preparedProducerOn(t, c, opts, 2)
	const n = 700
	tm := newTimed(n)
	want := map[int]sent{}
	idx := map[string]int{}
	for id := range n {
		k := fmt.Sprintf("key-%d", id%keys)
		data := payload(id, k, idx[k], 40+id%120)
		idx[k]++
		want[id] = sent{key: k, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: k, Data: data, Tag: id, Callback: tm.callback}); err != nil {
			t.Fatal(err)
		}
	}
	flushOK(t, p, tm.col)

	users, krs, _ := readUserRecords(t, c, stream)
	// Without retainOrdering nothing fails here, so keys stay in order too.
	checkUserRecords(t, users, want, false)
	st := p.Stats()
	t.Logf("%d user records in %d Kinesis records; stats %+v", len(users), krs, st)
	if st.RateLimited == 0 || st.HeldRecords != 0 {
		t.Errorf("RateLimited %d, HeldRecords %d: want some held back, none left", st.RateLimited, st.HeldRecords)
	}
	// 100 Kinesis records/s per shard, a burst of 100; one record of slack
	// for the floating-point refill.
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if len(tm.at) != 2 {
		t.Fatalf("records stored on %d shards, want 2", len(tm.at))
	}
	for shard, ts := range tm.at {
		ws := make([]float64, len(ts))
		for i := range ws {
			ws[i] = 1
		}
		last, total := checkRateBound(t, "Kinesis records to "+shard, t0, ts, ws, 100, 100, 1)
		if min := (total - 101) / 100; last.Seconds() < min {
			t.Errorf("%s: %.0f records in %s, the limit needs at least %.2fs", shard, total, last, min)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	checkRateBound(t, "Kinesis records of all requests (2 shards)", t0, reqAt, reqRecs, 200, 200, 2)
}

// TestRateLimitBytesAggregated: the byte limit, with aggregation (an
// aggregate counts as one Kinesis record of its size), on one shard: 10%
// is 104857.6 bytes/s.
func TestRateLimitBytesAggregated(t *testing.T) {
	onModel(t, testRateLimitBytesAggregated)
}

func testRateLimitBytesAggregated(t *testing.T, c kinesisAPI) {
	var mu sync.Mutex
	var reqAt []time.Time
	var reqBytes []float64
	opts := producer.Options{RateLimit: 10, Aggregation: producer.AggregateByShard, RetainOrdering: true, Linger: 10 * time.Millisecond,
		Hooks: producer.Hooks{OnRequest: func(i producer.RequestInfo) {
			mu.Lock()
			reqAt = append(reqAt, time.Now().Add(-i.Duration))
			reqBytes = append(reqBytes, float64(i.Bytes))
			mu.Unlock()
		}}}
	p, c, stream, t0 := preparedProducerOn(t, c, opts, 1)
	const n = 400
	col := newCollector(n)
	want := map[int]sent{}
	idx := map[string]int{}
	for id := range n {
		k := fmt.Sprintf("key-%d", id%20)
		data := payload(id, k, idx[k], 800+id%400) // about 400 KB in all
		idx[k]++
		want[id] = sent{key: k, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: k, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	flushOK(t, p, col)
	users, krs, _ := readUserRecords(t, c, stream)
	checkUserRecords(t, users, want, false)
	st := p.Stats()
	t.Logf("%d user records in %d Kinesis records; stats %+v", len(users), krs, st)
	if st.RateLimited == 0 || st.AggregatedRecords == 0 {
		t.Errorf("RateLimited %d, AggregatedRecords %d: want both", st.RateLimited, st.AggregatedRecords)
	}
	mu.Lock()
	defer mu.Unlock()
	// Slack: the aggregation overhead charged past the check, a few bytes
	// per user record.
	last, total := checkRateBound(t, "bytes", t0, reqAt, reqBytes, 104857.6, 104857.6, 20*n)
	if min := (total - 104857.6 - 20*n) / 104857.6; last.Seconds() < min {
		t.Errorf("%.0f bytes by %s, the limit needs at least %.2fs", total, last, min)
	}
}

// TestRateLimitNoShardMap: a role that may not call ListShards (the fault
// proxy answers AccessDenied, which kinesalite cannot be made to do) leaves
// the producer without a shard map; then nothing is limited and records
// still flow, even at the lowest limit.
func TestRateLimitNoShardMap(t *testing.T) { onModel(t, testRateLimitNoShardMap) }

func testRateLimitNoShardMap(t *testing.T, c kinesisAPI) {
	opts := producer.Options{RateLimit: 1, RetainOrdering: true, Linger: 10 * time.Millisecond}
	e := newFaultEnvOn(t, c, 1, 1, opts)
	defer closeProducer(t, e.p)
	e.proxy.SetRules(faultproxy.Rules{FailListShards: true})
	if _, err := e.p.Prepare(context.Background(), e.stream); err != nil {
		t.Fatal(err)
	}
	const n = 500 // 50 s at 1% (10 records/s) if it were limited
	col := newCollector(n)
	want := e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("k%d", id%25) })
	e.flush(t, col, 30*time.Second)
	dupes, _ := checkArrived(t, e.direct, e.stream, want)
	st := e.p.Stats()
	t.Logf("stats %+v, proxy %+v, dupes %d", st, e.proxy.Counters(), dupes)
	if st.RateLimited != 0 || st.ShardMapLoads != 0 || e.proxy.Counters().ListShardsFailed == 0 {
		t.Errorf("RateLimited %d, ShardMapLoads %d, ListShards failed %d: want 0, 0, >0",
			st.RateLimited, st.ShardMapLoads, e.proxy.Counters().ListShardsFailed)
	}
}
