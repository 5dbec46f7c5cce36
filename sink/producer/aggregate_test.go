package producer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// userRec is a user record read back: from a plain Kinesis record or from
// an aggregate, with where it was stored.
type userRec struct {
	p        parsed
	pk, ehk  string
	data     []byte
	shard    string
	seq      string
	sub      int  // index inside its aggregate, -1 for a plain record
	kclValid bool // its hash key lies in the range of the shard it was stored on
}

// readUserRecords reads every shard and de-aggregates with our
// deaggregator, checking each user record's hash key against the range of
// the shard it was stored on, as KCL does before handing it out.
func readUserRecords(t *testing.T, c kinesisAPI, stream string) (users []userRec, kinesisRecords int, raw map[string][]types.Record) {
	t.Helper()
	ranges := map[string]shardInfo{}
	for _, s := range listShards(t, c, stream) {
		ranges[s.id] = s
	}
	raw = readAll(t, c, stream)
	shards := make([]string, 0, len(raw))
	for id := range raw {
		shards = append(shards, id)
	}
	sort.Strings(shards)
	for _, shard := range shards {
		for _, r := range raw[shard] {
			kinesisRecords++
			subs, err := kpl.Deaggregate(r.Data)
			plain := errors.Is(err, kpl.ErrNotAggregated)
			if plain {
				subs = []kpl.Record{{PartitionKey: aws.ToString(r.PartitionKey), Data: r.Data}}
			} else if err != nil {
				t.Fatalf("shard %s record %s: %v", shard, aws.ToString(r.SequenceNumber), err)
			}
			for i, s := range subs {
				h, err := kpl.RecordHash(s.PartitionKey, s.ExplicitHashKey)
				if err != nil {
					t.Fatalf("sub-record hash: %v", err)
				}
				hb := new(big.Int).SetBytes(append(be64(h.Hi), be64(h.Lo)...))
				rg := ranges[shard]
				u := userRec{p: parsePayload(t, s.Data), pk: s.PartitionKey, ehk: s.ExplicitHashKey, data: s.Data,
					shard: shard, seq: aws.ToString(r.SequenceNumber), sub: i,
					kclValid: hb.Cmp(rg.start) >= 0 && hb.Cmp(rg.end) <= 0}
				if plain {
					// Kinesis routed it itself and does not return its
					// explicit hash key; KCL checks only sub-records.
					u.sub, u.kclValid, u.ehk = -1, true, "?"
				}
				users = append(users, u)
			}
		}
	}
	return users, kinesisRecords, raw
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// checkUserRecords checks that every sent record came back exactly once
// (or at least once when dupesOK), with its key and bytes, KCL-valid, and
// in order per key.
func checkUserRecords(t *testing.T, users []userRec, want map[int]sent, dupesOK bool) {
	t.Helper()
	seen := map[int]int{}
	lastIdx := map[string]int{}
	for _, u := range users {
		w, ok := want[u.p.id]
		if !ok {
			t.Errorf("record id %d read back but never put", u.p.id)
			continue
		}
		if !u.kclValid {
			if dupesOK {
				continue // a copy stored by an aggregate sent on a stale map; it was sent again
			}
			t.Errorf("record %d (key %q) stored on %s, outside that shard's hash range: KCL would drop it", u.p.id, u.pk, u.shard)
		}
		if u.pk != w.key || (u.ehk != w.ehk && u.ehk != "?") || !bytes.Equal(u.data, w.data) {
			t.Errorf("record %d: got key %q ehk %q %d bytes, want key %q ehk %q %d bytes", u.p.id, u.pk, u.ehk, len(u.data), w.key, w.ehk, len(w.data))
		}
		seen[u.p.id]++
		if last, ok := lastIdx[u.pk]; ok && u.p.idx < last && !dupesOK {
			t.Errorf("key %q: record idx %d stored after idx %d", u.pk, u.p.idx, last)
		}
		lastIdx[u.pk] = max(lastIdx[u.pk], u.p.idx)
	}
	missing, dupes := 0, 0
	for id := range want {
		switch n := seen[id]; {
		case n == 0:
			missing++
		case n > 1:
			dupes += n - 1
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d records missing", missing, len(want))
	}
	if dupes > 0 && !dupesOK {
		t.Errorf("%d duplicates", dupes)
	}
}

// putMany puts n records over nKeys keys with small payloads; every
// fifth key carries an explicit hash key (the MD5 hash of another key, so
// that it routes elsewhere than its own key would).
func putMany(t *testing.T, p *producer.Producer, stream string, col *collector, n, nKeys, base int) map[int]sent {
	t.Helper()
	want := map[int]sent{}
	idx := map[string]int{}
	for i := range n {
		id := base + i
		k := fmt.Sprintf("key-%d", id%nKeys)
		ehk := ""
		if id%nKeys%5 == 0 {
			ehk = kpl.PartitionKeyHash("other-" + k).String()
		}
		data := payload(id, k, idx[k], 40+id%120)
		idx[k]++
		want[id] = sent{key: k, ehk: ehk, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: k, ExplicitHashKey: ehk, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func flushOK(t *testing.T, p *producer.Producer, col *collector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, p.Stats())
	}
	col.wait(t, time.Second)
	col.mu.Lock()
	defer col.mu.Unlock()
	for id, r := range col.results {
		if r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
}

// TestAggregationByShard: many keys into a 4-shard stream. Every user record
// comes back exactly once, with its key and bytes, in order per key
// (RetainOrdering), inside the hash range of the shard its aggregate landed
// on; the result of each record names that shard and sequence number; and
// the aws-kinesis-agg package reads the same records from kinesalite.
func TestAggregationByShard(t *testing.T) {
	onModelAndKinesalite(t, testAggregationByShard)
}

func testAggregationByShard(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Aggregation: producer.AggregateByShard, RetainOrdering: true, Linger: 20 * time.Millisecond}
	p, c, stream, _ := preparedProducerOn(t, c, opts, 4)
	const n = 6000
	col := newCollector(n)
	want := putMany(t, p, stream, col, n, 400, 0)
	flushOK(t, p, col)

	users, krs, _ := readUserRecords(t, c, stream)
	checkUserRecords(t, users, want, false)
	st := p.Stats()
	t.Logf("%d user records in %d Kinesis records, %d requests; stats %+v", len(users), krs, st.Requests, st)
	if st.AggregatedRecords == 0 || krs > n/3 {
		t.Errorf("%d Kinesis records for %d user records (%d aggregated): aggregation did not happen", krs, n, st.AggregatedRecords)
	}
	if st.ShardMapLoads == 0 || st.ShardMismatches != 0 {
		t.Errorf("shard map loads %d, mismatches %d", st.ShardMapLoads, st.ShardMismatches)
	}
	// Results carry the aggregate's shard and sequence number.
	firsts := map[string]int{}
	for _, u := range users {
		r, _ := col.get(u.p.id)
		if r.ShardID != u.shard || r.SequenceNumber != u.seq {
			t.Fatalf("record %d: result says %s/%s, stored in %s/%s", u.p.id, r.ShardID, r.SequenceNumber, u.shard, u.seq)
		}
		if r.FirstInKinesisRecord {
			firsts[r.SequenceNumber]++
		}
	}
	if len(firsts) != krs {
		t.Errorf("FirstInKinesisRecord set in %d Kinesis records, %d stored", len(firsts), krs)
	}

	// Inline rather than a subtest, which a synctest bubble does not allow.
	checkWithAWSKinesisAgg(t, c, stream, users)
}

// checkWithAWSKinesisAgg de-aggregates what is stored with the
// aws-kinesis-agg npm package (scripts/kpl-deagg.js) and compares with our
// reading, record by record: the same user records, keys, data and order.
func checkWithAWSKinesisAgg(t *testing.T, c kinesisAPI, stream string, ours []userRec) {
	mod := aggModules(t)
	if mod == "" {
		return
	}
	type in struct {
		PartitionKey   string `json:"partitionKey"`
		SequenceNumber string `json:"sequenceNumber"`
		Data           []byte `json:"data"`
	}
	type out struct {
		PartitionKey, ExplicitPartitionKey, SequenceNumber string
		SubSequenceNumber                                  int
		Data                                               []byte
	}
	raw := readAll(t, c, stream)
	shards := make([]string, 0, len(raw))
	for id := range raw {
		shards = append(shards, id)
	}
	sort.Strings(shards)
	var recs []in
	for _, s := range shards {
		for _, r := range raw[s] {
			recs = append(recs, in{aws.ToString(r.PartitionKey), aws.ToString(r.SequenceNumber), r.Data})
		}
	}
	body, _ := json.Marshal(recs)
	cmd := exec.Command("node", filepath.Join("..", "..", "scripts", "kpl-deagg.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+mod)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("kpl-deagg.js: %v: %s", err, stderr.String())
	}
	var theirs []out
	if err := json.Unmarshal(res, &theirs); err != nil {
		t.Fatalf("kpl-deagg.js output: %v", err)
	}
	if len(theirs) != len(ours) {
		t.Fatalf("aws-kinesis-agg read %d user records, we read %d", len(theirs), len(ours))
	}
	aggregated := 0
	for i, o := range theirs {
		u := ours[i]
		if o.PartitionKey != u.pk || o.SequenceNumber != u.seq || !bytes.Equal(o.Data, u.data) {
			t.Fatalf("user record %d: aws-kinesis-agg gives key %q seq %s %d bytes; we sent key %q seq %s %d bytes",
				i, o.PartitionKey, o.SequenceNumber, len(o.Data), u.pk, u.seq, len(u.data))
		}
		// aws-kinesis-agg reports the table's first explicit hash key for a
		// sub-record without one (protobuf default index 0), so only set
		// keys are compared.
		if u.ehk != "" && u.ehk != "?" && o.ExplicitPartitionKey != u.ehk {
			t.Fatalf("user record %d: explicit hash key %q, we sent %q", i, o.ExplicitPartitionKey, u.ehk)
		}
		if o.SubSequenceNumber >= 0 {
			aggregated++
		}
	}
	if aggregated == 0 {
		t.Fatal("aws-kinesis-agg found no aggregated record")
	}
	t.Logf("aws-kinesis-agg read %d user records (%d from aggregates), identical to ours", len(theirs), aggregated)
}

// aggModules locates the aws-kinesis-agg install (make test-tools puts it in
// .cache/aws-kinesis-agg); without it the check is left out (logged), or
// fails with KS_REQUIRE_SERVICES=1.
func aggModules(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("KS_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache")
	}
	mod, _ := filepath.Abs(filepath.Join(cache, "aws-kinesis-agg", "node_modules"))
	_, err := os.Stat(filepath.Join(mod, "aws-kinesis-agg", "package.json"))
	if _, nerr := exec.LookPath("node"); err != nil || nerr != nil {
		if os.Getenv("KS_REQUIRE_SERVICES") == "1" {
			t.Fatalf("aws-kinesis-agg not installed under %s or node missing; run make test-tools", mod)
		}
		t.Logf("aws-kinesis-agg not installed under %s (make test-tools): its reading is not compared", mod)
		return ""
	}
	return mod
}

// TestAggregationByKey: with AggregateByKey, an aggregate only holds
// records of one key (and explicit hash key), sent under that key; with one
// request in flight and no faults the order per key holds without
// RetainOrdering.
func TestAggregationByKey(t *testing.T) {
	onModel(t, testAggregationByKey)
}

func testAggregationByKey(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Aggregation: producer.AggregateByKey, MaxInFlight: 1, Linger: 20 * time.Millisecond, AggregationMaxCount: 7}
	stream := createStream(t, c, 3)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closeProducer(t, p)
	const n = 3000
	col := newCollector(n)
	want := putMany(t, p, stream, col, n, 30, 0)
	flushOK(t, p, col)
	users, krs, raw := readUserRecords(t, c, stream)
	checkUserRecords(t, users, want, false)
	for _, recs := range raw {
		for _, r := range recs {
			subs, err := kpl.Deaggregate(r.Data)
			if err != nil {
				continue
			}
			if len(subs) > 7 {
				t.Errorf("aggregate of %d records; AggregationMaxCount is 7", len(subs))
			}
			for _, s := range subs {
				if s.PartitionKey != aws.ToString(r.PartitionKey) {
					t.Fatalf("aggregate under key %q holds a record of key %q", aws.ToString(r.PartitionKey), s.PartitionKey)
				}
			}
		}
	}
	if krs > n/5 {
		t.Errorf("%d Kinesis records for %d user records", krs, n)
	}
	if st := p.Stats(); st.ShardMapLoads != 0 {
		t.Errorf("key mode loaded a shard map (%d)", st.ShardMapLoads)
	}
}

// TestAggregationSizeLimits: aggregates never pass AggregationMaxSize
// (data + outer key), and records too large for an aggregate go alone.
func TestAggregationSizeLimits(t *testing.T) {
	onModel(t, testAggregationSizeLimits)
}

func testAggregationSizeLimits(t *testing.T, c kinesisAPI) {
	const limit = 4096
	opts := producer.Options{Aggregation: producer.AggregateByShard, AggregationMaxSize: limit, Linger: 20 * time.Millisecond}
	p, c, stream, _ := preparedProducerOn(t, c, opts, 2)
	const n = 400
	col := newCollector(n)
	want := map[int]sent{}
	for id := range n {
		k := fmt.Sprintf("k%d", id%17)
		size := 50 + id*37%900
		if id%50 == 0 {
			size = limit + 100 // cannot be aggregated
		}
		data := payload(id, k, 0, size)
		want[id] = sent{key: k, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: k, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	flushOK(t, p, col)
	users, _, raw := readUserRecords(t, c, stream)
	checkUserRecords(t, users, want, true) // order across requests is not asserted without RetainOrdering
	plainBig, aggs, full := 0, 0, 0
	for _, recs := range raw {
		for _, r := range recs {
			size := len(r.Data) + len(aws.ToString(r.PartitionKey))
			if kpl.IsAggregated(r.Data) {
				aggs++
				if size > limit {
					t.Errorf("aggregate of %d bytes (data + key), limit %d", size, limit)
				}
				if size > limit-1000 {
					full++
				}
			} else if len(r.Data) > limit {
				plainBig++
			}
		}
	}
	if plainBig != n/50 || aggs == 0 || full == 0 {
		t.Errorf("%d large records sent plain (want %d), %d aggregates, %d of them nearly full", plainBig, n/50, aggs, full)
	}
}

// TestAggregationUnderThrottling: 30% of entries (aggregates) throttled by
// the fault proxy (kinesalite never throttles): their user records are
// retried, re-aggregated, and none is missing. The first request is
// throttled whole: a run takes few aggregates, and 30% of few can be none.
func TestAggregationUnderThrottling(t *testing.T) { onModel(t, testAggregationUnderThrottling) }

func testAggregationUnderThrottling(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Aggregation: producer.AggregateByShard, RetainOrdering: true, Linger: 10 * time.Millisecond,
		RetryInitialDelay: 20 * time.Millisecond, RetryMaxDelay: 200 * time.Millisecond}
	env := newFaultEnvOn(t, c, 4, 7, opts)
	defer closeProducer(t, env.p)
	if _, err := env.p.Prepare(context.Background(), env.stream); err != nil {
		t.Fatal(err)
	}
	env.proxy.SetRules(faultproxy.Rules{DropFraction: 0.3, DropRequests: []int64{1}})
	const n = 5000
	col := newCollector(n)
	want := putMany(t, env.p, env.stream, col, n, 300, 0)
	flushOK(t, env.p, col)
	users, krs, _ := readUserRecords(t, env.direct, env.stream)
	checkUserRecords(t, users, want, false)
	st := env.p.Stats()
	pc := env.proxy.Counters()
	t.Logf("%d Kinesis records stored; stats %+v; proxy %+v", krs, st, pc)
	if st.EntryErrors == 0 || st.AggregatedRecords == 0 {
		t.Errorf("no throttled entries (%d) or no aggregates (%d)", st.EntryErrors, st.AggregatedRecords)
	}
}

// TestAggregationReshard: after a shard split the map is stale; the first
// aggregate that lands on a child shard shows the mismatch, the map is
// reloaded, and every record ends up stored at least once on a shard whose
// range holds its hash key (what KCL consumers get).
func TestAggregationReshard(t *testing.T) {
	onModel(t, testAggregationReshard)
}

func testAggregationReshard(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Aggregation: producer.AggregateByShard, Linger: 10 * time.Millisecond}
	p, c, stream, _ := preparedProducerOn(t, c, opts, 2)
	col := newCollector(4000)
	want := putMany(t, p, stream, col, 2000, 200, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.ShardMapLoads != 1 || st.ShardMismatches != 0 {
		t.Fatalf("before the split: %+v", st)
	}

	// Split shard 0 in the middle of its range (kinesalite supports SplitShard).
	shards := listShards(t, c, stream)
	mid := new(big.Int).Rsh(new(big.Int).Add(shards[0].start, shards[0].end), 1)
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String(shards[0].id),
		NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatalf("split: %v", err)
	}
	w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	for id, s := range putMany(t, p, stream, col, 2000, 200, 2000) {
		want[id] = s
	}
	flushOK(t, p, col)
	st := p.Stats()
	if st.ShardMismatches == 0 {
		t.Fatalf("no shard mismatch after the split: %+v", st)
	}
	// The reload follows the mismatch, at most once a second per stream.
	for deadline := time.Now().Add(10 * time.Second); p.Stats().ShardMapLoads < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("shard map not reloaded after a mismatch: %+v", p.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st = p.Stats()
	t.Logf("after the split: stats %+v", st)
	users, _, _ := readUserRecords(t, c, stream)
	checkUserRecords(t, users, want, true)

	// With the fresh map (3 open shards), records are aggregated again and
	// land where predicted.
	col2 := newCollector(1000)
	putMany(t, p, stream, col2, 1000, 200, 4000)
	flushOK(t, p, col2)
	if st2 := p.Stats(); st2.ShardMismatches != st.ShardMismatches || st2.AggregatedRecords == st.AggregatedRecords {
		t.Errorf("with the reloaded map: %d more mismatches, %d more aggregates", st2.ShardMismatches-st.ShardMismatches, st2.AggregatedRecords-st.AggregatedRecords)
	}
}
