package producer_test

// These tests put the fault proxy (internal/faultproxy) between the producer
// and kinesalite: kinesalite never throttles, never fails part of a request
// and cannot be made slow or unreachable, so without the proxy none of the
// retry paths below would run. Records that get through are stored by the
// real kinesalite and read back from it.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

type faultEnv struct {
	direct kinesisAPI    // straight to Kinesis: set-up and read-back
	proxy  faultInjector // *faultproxy.Proxy, or the model's (model_faults_test.go)
	p      *producer.Producer
	stream string
}

func newFaultEnv(t *testing.T, shards int32, seed uint64, opts producer.Options) *faultEnv {
	t.Helper()
	ep := kinesisEndpoint(t)
	direct := newClient(ep, opts)
	stream := createStream(t, direct, shards)
	px, err := faultproxy.New(ep, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	p, err := producer.New(newClient(px.URL(), opts), opts)
	if err != nil {
		t.Fatal(err)
	}
	return &faultEnv{direct: direct, proxy: px, p: p, stream: stream}
}

// putAll puts n records with keys chosen by keyOf and returns what was put.
func (e *faultEnv) putAll(t *testing.T, col *collector, n int, keyOf func(id int) string) map[int]sent {
	t.Helper()
	want := map[int]sent{}
	idx := map[string]int{}
	for id := range n {
		key := keyOf(id)
		data := payload(id, key, idx[key], 60+id%300)
		idx[key]++
		want[id] = sent{key: key, data: data}
		if err := e.p.Put(context.Background(), producer.Entry{Stream: e.stream, PartitionKey: key, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func (e *faultEnv) flush(t *testing.T, col *collector, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (stats %+v, proxy %+v)", err, e.p.Stats(), e.proxy.Counters())
	}
	col.wait(t, time.Second)
	for id, r := range col.results {
		if r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
}

// flushAll waits until every record put so far is released (its callback
// has returned and its buffer space is free), whatever its outcome.
func (e *faultEnv) flushAll(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, e.p.Stats())
	}
}

// 30% of entries fail with throttling: only those are retried, and every
// record arrives; retried records reached Kinesis once (dropped entries
// were never forwarded), so there are no duplicates either.
func TestPartialThrottlingRetriesOnlyFailed(t *testing.T) {
	onModel(t, testPartialThrottlingRetriesOnlyFailed)
}

func testPartialThrottlingRetriesOnlyFailed(t *testing.T, c kinesisAPI) {
	var mu sync.Mutex
	shardsThrottled := map[string]int{}
	var sentEntries atomic.Int64
	opts := producer.Options{Linger: 20 * time.Millisecond, RetryInitialDelay: 20 * time.Millisecond, RetryMaxDelay: 500 * time.Millisecond,
		Hooks: producer.Hooks{
			OnEntryError: func(ei producer.EntryErrorInfo) {
				mu.Lock()
				shardsThrottled[ei.ShardID]++
				mu.Unlock()
			},
			OnRequest: func(ri producer.RequestInfo) { sentEntries.Add(int64(ri.Records)) },
		}}
	e := newFaultEnvOn(t, c, 4, 42, opts)
	e.proxy.SetRules(faultproxy.Rules{DropFraction: 0.3})
	const n = 3000
	col := newCollector(n)
	want := e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("key-%d", id) })
	e.flush(t, col, 60*time.Second)

	pc := e.proxy.Counters()
	if pc.EntriesDropped < n/5 {
		t.Fatalf("proxy dropped only %d entries; the test did not exercise retries", pc.EntriesDropped)
	}
	// Every entry sent was either stored or dropped: successes were not resent.
	if got := sentEntries.Load(); got != pc.EntriesForwarded+pc.EntriesDropped || pc.EntriesForwarded != n {
		t.Errorf("producer sent %d entries; proxy forwarded %d and dropped %d; want forwarded == %d", got, pc.EntriesForwarded, pc.EntriesDropped, n)
	}
	mu.Lock()
	if len(shardsThrottled) != 4 || shardsThrottled[""] != 0 {
		t.Errorf("throttles by shard: %v; want the 4 shards named", shardsThrottled)
	}
	mu.Unlock()
	maxAttempts := 0
	for _, r := range col.results {
		maxAttempts = max(maxAttempts, r.Attempts)
	}
	dupes, _ := checkArrived(t, e.direct, e.stream, want)
	t.Logf("%d records, %d entries dropped by the proxy, %d duplicates, max attempts %d, stats %+v", n, pc.EntriesDropped, dupes, maxAttempts, e.p.Stats())
	if dupes != 0 {
		t.Errorf("%d duplicates, but no request was ambiguous", dupes)
	}
	closeProducer(t, e.p)
}

// With RetainOrdering and a few hot keys, under 30% throttled entries and
// 5% of requests whose responses are lost after the write (duplicates),
// each key's records are stored in Put order: the first occurrence of each
// record comes after the first occurrence of the record put before it.
// Callbacks of a key also arrive in Put order. The first two requests lose
// their response for sure: 5% of the few requests a run takes can be none.
func TestRetainOrderingUnderFaults(t *testing.T) {
	onModelAndKinesalite(t, testRetainOrderingUnderFaults)
}

func testRetainOrderingUnderFaults(t *testing.T, c kinesisAPI) {
	opts := producer.Options{RetainOrdering: true, Linger: 5 * time.Millisecond, RetryInitialDelay: 10 * time.Millisecond,
		RetryMaxDelay: 200 * time.Millisecond, RequestTimeout: 2 * time.Second}
	e := newFaultEnvOn(t, c, 3, 7, opts)
	e.proxy.SetRules(faultproxy.Rules{DropFraction: 0.3, ResetAfterForwardFraction: 0.05, ResetAfterForwardRequests: []int64{1, 2}})
	keys := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	const n = 600
	col := newCollector(n)
	want := e.putAll(t, col, n, func(id int) string { return keys[id%len(keys)] })
	e.flush(t, col, 90*time.Second)

	dupes, perShard := checkArrived(t, e.direct, e.stream, want)
	for _, recs := range perShard {
		next := map[string]int{} // per key: the index expected next among first occurrences
		seen := map[int]bool{}
		for _, r := range recs {
			if seen[r.id] {
				continue // a duplicate; its first occurrence was checked
			}
			seen[r.id] = true
			if r.idx != next[r.key] {
				t.Fatalf("key %s: record #%d stored where #%d was due (out of order)", r.key, r.idx, next[r.key])
			}
			next[r.key]++
		}
	}
	col.mu.Lock()
	for key, ids := range col.order {
		if !sort.IntsAreSorted(ids) {
			t.Errorf("key %s: callbacks out of Put order: %v", key, ids[:min(20, len(ids))])
		}
	}
	col.mu.Unlock()
	pc := e.proxy.Counters()
	if pc.EntriesDropped < n/5 || pc.ResetsAfterWrite == 0 {
		t.Fatalf("faults not exercised: %+v", pc)
	}
	t.Logf("%d records over %d keys: %d dropped entries, %d lost responses, %d duplicates read back", n, len(keys), pc.EntriesDropped, pc.ResetsAfterWrite, dupes)
	closeProducer(t, e.p)
}

// HTTP 500s, connection resets (before and after the write) and responses
// slower than RequestTimeout: every record arrives; duplicates (from writes
// whose response was lost) are allowed and reported. Each fault also hits
// a request named by number, so that it happens whatever the draws.
func TestRequestFaultsLoseNothing(t *testing.T) {
	opts := producer.Options{Linger: 10 * time.Millisecond, RequestTimeout: 400 * time.Millisecond,
		RetryInitialDelay: 20 * time.Millisecond, RetryMaxDelay: 300 * time.Millisecond, MaxRecordsPerRequest: 25}
	// A failed request is retried, so request 2 follows a fault on 1.
	first := []int64{1}
	for _, tc := range []struct {
		name  string
		rules faultproxy.Rules
		check func(faultproxy.Counters) bool
	}{
		{"http-500", faultproxy.Rules{ErrorFraction: 0.3, ErrorRequests: first}, func(c faultproxy.Counters) bool { return c.HTTPErrors > 0 }},
		{"http-503", faultproxy.Rules{ErrorFraction: 0.3, ErrorRequests: first, ErrorStatus: 503}, func(c faultproxy.Counters) bool { return c.HTTPErrors > 0 }},
		{"throttled-request", faultproxy.Rules{ErrorFraction: 0.3, ErrorRequests: first, ErrorStatus: 400, ErrorCode: "ProvisionedThroughputExceededException"}, func(c faultproxy.Counters) bool { return c.HTTPErrors > 0 }},
		{"kms-throttling", faultproxy.Rules{ErrorFraction: 0.3, ErrorRequests: first, ErrorStatus: 400, ErrorCode: "KMSThrottlingException"}, func(c faultproxy.Counters) bool { return c.HTTPErrors > 0 }},
		{"reset", faultproxy.Rules{ResetFraction: 0.2, ResetAfterForwardFraction: 0.1, ResetRequests: first, ResetAfterForwardRequests: []int64{2}}, func(c faultproxy.Counters) bool { return c.Resets > 0 && c.ResetsAfterWrite > 0 }},
		{"slow", faultproxy.Rules{DelayFraction: 0.2, Delay: 1500 * time.Millisecond, DelayRequests: first}, func(c faultproxy.Counters) bool { return c.Delayed > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onModel(t, func(t *testing.T, c kinesisAPI) {
				var timeouts atomic.Int32
				o := opts
				o.Hooks.OnRequest = func(ri producer.RequestInfo) {
					if ri.ErrorCode == producer.CodeRequestTimeout {
						timeouts.Add(1)
					}
				}
				e := newFaultEnvOn(t, c, 2, 99, o)
				e.proxy.SetRules(tc.rules)
				const n = 800
				col := newCollector(n)
				want := e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("k%d", id) })
				e.flush(t, col, 60*time.Second)
				pc := e.proxy.Counters()
				if !tc.check(pc) {
					t.Fatalf("fault not exercised: %+v", pc)
				}
				if tc.name == "slow" && timeouts.Load() == 0 {
					t.Fatal("no request timed out")
				}
				dupes, _ := checkArrived(t, e.direct, e.stream, want)
				t.Logf("%s: %d duplicates; proxy %+v", tc.name, dupes, pc)
				closeProducer(t, e.p)
			})
		})
	}
}

// An outage (connections refused) in the middle of a run: records keep
// retrying with backoff, none resolves while it lasts, and all arrive once
// the endpoint is back. The test ends the outage once the producer has met
// it several times; a 3 s window on the clock could pass on a loaded
// machine before the producer met it.
func TestOutageLosesNothing(t *testing.T) { onModel(t, testOutageLosesNothing) }

func testOutageLosesNothing(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Linger: 10 * time.Millisecond, RequestTimeout: time.Second, RetryMaxDelay: time.Second}
	e := newFaultEnvOn(t, c, 2, 5, opts)
	const n = 1000
	col := newCollector(n)
	want := map[int]sent{}
	half := e.putAll(t, col, n/2, func(id int) string { return fmt.Sprintf("k%d", id) })
	e.proxy.SetRules(faultproxy.Rules{UnreachableUntil: time.Now().Add(time.Hour)})
	for id := n / 2; id < n; id++ {
		key := fmt.Sprintf("k%d", id)
		data := payload(id, key, 0, 100)
		want[id] = sent{key: key, data: data}
		if err := e.p.Put(context.Background(), producer.Entry{Stream: e.stream, PartitionKey: key, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	for id, s := range half {
		want[id] = s
	}
	for deadline := time.Now().Add(30 * time.Second); e.proxy.Counters().Refused < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the producer met the outage %d times in 30 s", e.proxy.Counters().Refused)
		}
	}
	for id := n / 2; id < n; id++ {
		if r, ok := col.get(id); ok {
			t.Fatalf("record %d resolved during the outage: %v", id, r.Err)
		}
	}
	e.proxy.SetRules(faultproxy.Rules{})
	e.flush(t, col, 30*time.Second)
	if pc := e.proxy.Counters(); pc.Refused == 0 {
		t.Fatalf("no connection was refused: %+v", pc)
	}
	dupes, _ := checkArrived(t, e.direct, e.stream, want)
	t.Logf("outage: %d duplicates, stats %+v", dupes, e.p.Stats())
	closeProducer(t, e.p)
}

// One shard throttles every entry: its records back off per shard (the
// error message names it) and arrive afterwards; the other shard is not
// held back: its records are all through while the outage lasts. The test
// ends the outage then, once the failed shard's records have met it: a
// 1.5 s window on the clock could end, on a loaded machine, before the
// other shard was through or before they met it.
func TestShardOutage(t *testing.T) { onModel(t, testShardOutage) }

func testShardOutage(t *testing.T, c kinesisAPI) {
	var mu sync.Mutex
	named := map[string]int{}
	opts := producer.Options{Linger: 10 * time.Millisecond, RetryInitialDelay: 50 * time.Millisecond, RetryMaxDelay: 400 * time.Millisecond,
		Hooks: producer.Hooks{OnEntryError: func(ei producer.EntryErrorInfo) {
			mu.Lock()
			named[ei.ShardID]++
			mu.Unlock()
		}}}
	e := newFaultEnvOn(t, c, 2, 3, opts)
	shards := listShards(t, e.direct, e.stream)
	down := shards[1].id
	e.proxy.SetRules(faultproxy.Rules{ShardOutages: []faultproxy.ShardOutage{{Stream: e.stream, ShardID: down, Until: time.Now().Add(time.Hour)}}})
	const n = 400
	col := newCollector(n)
	var upDone sync.WaitGroup
	keyShard := map[int]string{}
	downN := 0
	for id := range n {
		s, err := e.proxy.ShardFor(context.Background(), e.stream, fmt.Sprintf("k%d", id), "")
		if err != nil {
			t.Fatal(err)
		}
		keyShard[id] = s
		if s != down {
			upDone.Add(1)
		} else {
			downN++
		}
	}
	wrapped := func(r producer.Result) {
		if keyShard[r.Tag.(int)] != down {
			upDone.Done()
		}
		col.callback(r)
	}
	want := map[int]sent{}
	for id := range n {
		key := fmt.Sprintf("k%d", id)
		data := payload(id, key, 0, 100)
		want[id] = sent{key: key, data: data}
		if err := e.p.Put(context.Background(), producer.Entry{Stream: e.stream, PartitionKey: key, Data: data, Tag: id, Callback: wrapped}); err != nil {
			t.Fatal(err)
		}
	}
	upThrough := make(chan struct{})
	go func() { upDone.Wait(); close(upThrough) }()
	select {
	case <-upThrough:
	case <-time.After(30 * time.Second):
		t.Fatal("records of the healthy shard not through in 30 s while the other shard was down")
	}
	for id, s := range keyShard {
		if r, ok := col.get(id); ok && s == down {
			t.Fatalf("record %d on the failed shard resolved during the outage: %v", id, r.Err)
		}
	}
	// As many failed entries as the shard has records: they met it (a
	// shard's backoff delays only its retried records, and all 400 fit one
	// request, so each went out at once).
	for deadline := time.Now().Add(30 * time.Second); e.proxy.Counters().EntriesShardDown < int64(downN); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries failed by the outage in 30 s; the shard has %d records", e.proxy.Counters().EntriesShardDown, downN)
		}
	}
	e.proxy.SetRules(faultproxy.Rules{})
	e.flush(t, col, 30*time.Second)
	for id, r := range col.results {
		if keyShard[id] == down && r.Attempts < 2 {
			t.Fatalf("record %d on the failed shard went through in %d attempt(s)", id, r.Attempts)
		}
	}
	mu.Lock()
	if named[down] == 0 || len(named) != 1 {
		t.Errorf("entry errors by shard: %v, want only %s", named, down)
	}
	mu.Unlock()
	if dupes, _ := checkArrived(t, e.direct, e.stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
	closeProducer(t, e.p)
}

// A whole-request AccessDeniedException is not retried: every record of
// the request fails with KindFatal after one attempt.
func TestAccessDeniedIsFatal(t *testing.T) { onModel(t, testAccessDeniedIsFatal) }

func testAccessDeniedIsFatal(t *testing.T, c kinesisAPI) {
	e := newFaultEnvOn(t, c, 1, 1, producer.Options{Linger: 10 * time.Millisecond})
	e.proxy.SetRules(faultproxy.Rules{ErrorFraction: 1, ErrorStatus: 400, ErrorCode: "AccessDeniedException"})
	col := newCollector(20)
	e.putAll(t, col, 20, func(id int) string { return fmt.Sprintf("k%d", id) })
	col.wait(t, 10*time.Second)
	for id, r := range col.results {
		var pe *producer.Error
		if !errors.As(r.Err, &pe) || pe.Kind != producer.KindFatal || pe.Code != "AccessDeniedException" || pe.Attempts != 1 {
			t.Fatalf("record %d: %#v", id, r.Err)
		}
	}
	closeProducer(t, e.p)
}

// Under a permanent outage every record fails with KindTTLExpired once
// RecordTTL has passed, after several attempts, and not much later.
func TestTTLExpiry(t *testing.T) { onModel(t, testTTLExpiry) }

func testTTLExpiry(t *testing.T, c kinesisAPI) {
	ttl := 1500 * time.Millisecond
	opts := producer.Options{Linger: 10 * time.Millisecond, RecordTTL: ttl, RequestTimeout: 300 * time.Millisecond,
		RetryInitialDelay: 50 * time.Millisecond, RetryMaxDelay: 200 * time.Millisecond}
	e := newFaultEnvOn(t, c, 1, 1, opts)
	e.proxy.SetRules(faultproxy.Rules{UnreachableUntil: time.Now().Add(time.Hour)})
	const n = 50
	col := newCollector(n)
	e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("k%d", id%5) })
	col.wait(t, 10*time.Second)
	for id, r := range col.results {
		var pe *producer.Error
		if !errors.As(r.Err, &pe) || pe.Kind != producer.KindTTLExpired || pe.Attempts < 2 {
			t.Fatalf("record %d: %#v", id, r.Err)
		}
		// Expired when the next attempt would start after the deadline:
		// not before TTL minus the longest backoff, not long after TTL.
		if r.Latency < ttl-opts.RetryMaxDelay || r.Latency > ttl+opts.RequestTimeout+500*time.Millisecond {
			t.Fatalf("record %d expired after %s (TTL %s)", id, r.Latency, ttl)
		}
	}
	t.Logf("e.g. %v", col.results[0].Err)
	// A record's buffer space is released after its callback has returned;
	// Flush waits for that.
	e.flushAll(t)
	if st := e.p.Stats(); st.BufferedRecords != 0 || st.Failed != n {
		t.Fatalf("stats: %+v", st)
	}
	closeProducer(t, e.p)
}

// Put blocks while MaxBufferedRecords records are unresolved, and returns
// only after a record resolved and made room; with a context that ends
// first it gives up with the context's error.
func TestBackpressure(t *testing.T) { onModel(t, testBackpressure) }

func testBackpressure(t *testing.T, c kinesisAPI) {
	var blockedHook atomic.Int32
	opts := producer.Options{MaxBufferedRecords: 10, Linger: time.Millisecond,
		Hooks: producer.Hooks{OnPutBlocked: func(time.Duration) { blockedHook.Add(1) }}}
	e := newFaultEnvOn(t, c, 1, 1, opts)
	e.proxy.Hold() // PutRecords calls wait at the proxy until Release
	col := newCollector(11)
	e.putAll(t, col, 10, func(id int) string { return fmt.Sprintf("k%d", id) })
	if st := e.p.Stats(); st.BufferedRecords != 10 {
		t.Fatalf("stats: %+v", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := e.p.Put(ctx, producer.Entry{Stream: e.stream, PartitionKey: "late", Data: []byte("x"), Tag: 99, Callback: col.callback})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put into a full buffer with a short deadline: %v", err)
	}

	var released atomic.Bool
	returned := make(chan bool)
	go func() {
		data := payload(10, "k10", 0, 10)
		err := e.p.Put(context.Background(), producer.Entry{Stream: e.stream, PartitionKey: "k10", Data: data, Tag: 10, Callback: col.callback})
		if err != nil {
			t.Error(err)
		}
		returned <- released.Load()
	}()
	// Wait until the producer's request is parked at the proxy: from then
	// on nothing can resolve until Release.
	for e.proxy.Counters().Held == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	// On the fake clock the Put above must be seen blocked for a while:
	// it reports a wait only when one passed.
	synctest.Wait()
	time.Sleep(time.Millisecond)
	released.Store(true)
	e.proxy.Release()
	if !<-returned {
		t.Fatal("Put returned before any record resolved")
	}
	e.flush(t, col, 10*time.Second)
	if blockedHook.Load() != 2 {
		t.Errorf("OnPutBlocked called %d times, want 2", blockedHook.Load())
	}
	if _, ok := col.get(99); ok {
		t.Error("the record whose Put gave up got a callback")
	}
	closeProducer(t, e.p)
}

// When Close's deadline hits, records still held fail with KindClosed and
// Close says how many; it returns only after every callback ran.
func TestCloseDeadlineFailsTheRest(t *testing.T) { onModel(t, testCloseDeadlineFailsTheRest) }

func testCloseDeadlineFailsTheRest(t *testing.T, c kinesisAPI) {
	e := newFaultEnvOn(t, c, 1, 1, producer.Options{Linger: time.Millisecond, MaxRecordsPerRequest: 5})
	e.proxy.Hold()
	const n = 20
	col := newCollector(n)
	e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("k%d", id) })
	for e.proxy.Counters().Held == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := e.p.Close(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
	t.Logf("close: %v", err)
	col.wait(t, 0) // all resolved when Close returned
	for id, r := range col.results {
		if !errors.Is(r.Err, producer.ErrClosed) {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
	e.proxy.Release()
}

// The byte bound blocks like the record bound; a record bigger than the
// whole bound is still accepted when nothing else is buffered; Close wakes
// a blocked Put with ErrClosed.
func TestBackpressureBytes(t *testing.T) { onModel(t, testBackpressureBytes) }

func testBackpressureBytes(t *testing.T, c kinesisAPI) {
	opts := producer.Options{MaxBufferedBytes: 1000, Linger: time.Millisecond}
	e := newFaultEnvOn(t, c, 1, 1, opts)
	e.proxy.Hold()
	var results atomic.Int32
	cb := func(producer.Result) { results.Add(1) }
	put := func(ctx context.Context, n int) error {
		return e.p.Put(ctx, producer.Entry{Stream: e.stream, PartitionKey: "k", Data: make([]byte, n-1), Callback: cb})
	}
	if err := put(context.Background(), 5000); err != nil { // alone: accepted
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := put(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put behind an oversized buffer: %v", err)
	}
	cancel()
	e.proxy.Release()
	if err := e.p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.proxy.Hold()
	for range 2 {
		if err := put(context.Background(), 400); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.p.Stats(); st.BufferedBytes != 800 {
		t.Fatalf("stats: %+v", st)
	}
	blocked := make(chan error)
	go func() { blocked <- put(context.Background(), 400) }()
	for e.proxy.Counters().Held == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.p.Close(ctx); err == nil {
		t.Fatal("close with held requests succeeded")
	}
	if err := <-blocked; !errors.Is(err, producer.ErrClosed) {
		t.Fatalf("blocked put after close: %v", err)
	}
	if n := results.Load(); n != 3 { // the big one delivered, two closed
		t.Fatalf("%d results", n)
	}
	e.proxy.Release()
}

// With FailIfThrottled, a throttled record fails at once with KindThrottled
// (the sink's failure policy takes it from there) and is not retried; the
// others are written. The first request is throttled whole, so some are
// whatever the draws.
func TestFailIfThrottled(t *testing.T) { onModel(t, testFailIfThrottled) }

func testFailIfThrottled(t *testing.T, c kinesisAPI) {
	e := newFaultEnvOn(t, c, 2, 7, producer.Options{Linger: 10 * time.Millisecond, FailIfThrottled: true})
	e.proxy.SetRules(faultproxy.Rules{DropFraction: 0.3, DropRequests: []int64{1}})
	const n = 500
	col := newCollector(n)
	e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("key-%d", id) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	pc := e.proxy.Counters()
	throttled, ok := 0, 0
	for _, r := range col.results {
		switch {
		case r.Err == nil:
			ok++
		case errors.Is(r.Err, producer.ErrThrottled):
			throttled++
			if r.Attempts != 1 {
				t.Fatalf("throttled record tried %d times, want 1", r.Attempts)
			}
		default:
			t.Fatalf("unexpected failure: %v", r.Err)
		}
	}
	if int64(throttled) != pc.EntriesDropped || ok+throttled != n || throttled == 0 {
		t.Fatalf("ok=%d throttled=%d, proxy dropped %d", ok, throttled, pc.EntriesDropped)
	}
	closeProducer(t, e.p)
}

// Under steady partial throttling, with retainOrdering and the retry
// settings at their defaults (backoff 100 ms .. 60 s), records keep flowing
// and stay in order, and a RecordTTL far shorter than the run does not make
// any record give up: with RetainOrdering it does not apply, since a record
// given up on would come back from Pulsar behind later records of its key.
// The per-shard backoff must hold still while a shard accepts part of each
// request; it used to double whenever the first entry of a response was
// throttled, reaching 60 s within seconds.
func TestRetainOrderingDefaultsUnderSteadyThrottling(t *testing.T) {
	opts := producer.Options{RetainOrdering: true, Linger: 10 * time.Millisecond, RecordTTL: 300 * time.Millisecond}
	e := newFaultEnv(t, 2, 11, opts)
	e.proxy.SetRules(faultproxy.Rules{DropFraction: 0.3})
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%02d", i)
	}
	const n = 2000
	col := newCollector(n)
	start := time.Now()
	want := e.putAll(t, col, n, func(id int) string { return keys[id%len(keys)] })
	// Far below what backoffs climbing to RetryMaxDelay (60 s) would need.
	e.flush(t, col, 45*time.Second)
	took := time.Since(start)

	_, perShard := checkArrived(t, e.direct, e.stream, want)
	for _, recs := range perShard {
		next := map[string]int{}
		for _, r := range recs {
			if r.idx != next[r.key] {
				t.Fatalf("key %s: record #%d stored where #%d was due (out of order)", r.key, r.idx, next[r.key])
			}
			next[r.key]++
		}
	}
	maxAttempts := 0
	for _, r := range col.results {
		maxAttempts = max(maxAttempts, r.Attempts)
	}
	pc := e.proxy.Counters()
	if pc.EntriesDropped < n/5 {
		t.Fatalf("faults not exercised: %+v", pc)
	}
	t.Logf("%d records over %d keys in %v: %d entries throttled, max attempts %d", n, len(keys), took.Round(time.Millisecond), pc.EntriesDropped, maxAttempts)
	closeProducer(t, e.p)
}

// Requests in flight hold their records and again their encoded bodies, so
// with large records MaxInFlight requests would dwarf the buffer:
// MaxInFlightBytes stops new requests once those in flight carry that many
// bytes. The proxy holds every request, so what is in flight only grows:
// it stops at the budget plus at most one request, with senders to spare.
func TestInFlightBytesBudget(t *testing.T) { onModel(t, testInFlightBytesBudget) }

func testInFlightBytesBudget(t *testing.T, c kinesisAPI) {
	const budget = 8 * producer.KiB
	opts := producer.Options{MaxInFlightBytes: budget, MaxBytesPerRequest: 2 * producer.KiB,
		Linger: time.Millisecond, MaxInFlight: 24}
	e := newFaultEnvOn(t, c, 1, 1, opts)
	e.proxy.Hold()
	col := newCollector(100)
	want := e.putAll(t, col, 100, func(id int) string { return fmt.Sprintf("k%d", id) }) // 60-160 B each, 10 KiB in all
	deadline := time.Now().Add(5 * time.Second)
	var st producer.Stats
	for time.Now().Before(deadline) {
		st = e.p.Stats()
		if st.InFlightBytes >= budget {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a request that should not start
	st = e.p.Stats()
	if st.InFlightBytes < budget || st.InFlightBytes > budget+2*producer.KiB || st.InFlightRequests >= opts.MaxInFlight {
		t.Fatalf("in flight: %d requests, %d bytes; want the %d-byte budget reached (plus at most one request) with senders to spare",
			st.InFlightRequests, st.InFlightBytes, budget)
	}
	t.Logf("held at the budget: %d requests, %d bytes in flight", st.InFlightRequests, st.InFlightBytes)
	e.proxy.Release()
	e.flush(t, col, 20*time.Second)
	if dupes, _ := checkArrived(t, e.direct, e.stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
	if st := e.p.Stats(); st.InFlightBytes != 0 || st.InFlightRequests != 0 {
		t.Fatalf("after the flush: %+v", st)
	}
	closeProducer(t, e.p)
}
