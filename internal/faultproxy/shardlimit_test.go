package faultproxy_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// fakeClock is moved by hand so that the shard limit's tokens can be
// counted exactly; the emulator behind the proxy is real.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// toShard builds n entries of dataLen bytes routed to shard i by explicit
// hash key (its starting hash key), data prefixed so that they can be told
// apart when read back.
func (e *env) toShard(i, n, dataLen int, prefix string) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for j := range out {
		d := []byte(fmt.Sprintf("%s-%d-", prefix, j))
		d = append(d, bytes.Repeat([]byte{'x'}, max(dataLen-len(d), 0))...)
		out[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), ExplicitHashKey: e.shards[i].HashKeyRange.StartingHashKey, Data: d}
	}
	return out
}

// outcome counts a response's accepted and throttled entries, checking
// that every throttled entry names its shard as Kinesis does.
func outcome(t *testing.T, out *kinesis.PutRecordsOutput, want []string) (ok, throttled int) {
	t.Helper()
	for i, r := range out.Records {
		switch {
		case r.ErrorCode == nil:
			ok++
		case *r.ErrorCode == faultproxy.CodeThrottled:
			if !strings.Contains(aws.ToString(r.ErrorMessage), "Rate exceeded for shard "+want[i]+" ") {
				t.Errorf("entry %d: message %q does not name %s", i, aws.ToString(r.ErrorMessage), want[i])
			}
			throttled++
		default:
			t.Errorf("entry %d: unexpected %s", i, *r.ErrorCode)
		}
	}
	if int(aws.ToInt32(out.FailedRecordCount)) != throttled {
		t.Errorf("FailedRecordCount %d, throttled entries %d", aws.ToInt32(out.FailedRecordCount), throttled)
	}
	return ok, throttled
}

// The shard-limit mode gives each shard Kinesis's write limits, 1000
// records/s and 1 MiB/s of data + partition key, with one second of burst:
// enforced per shard, in records and in bytes, with an aggregated record
// counting as one record of its size, and refilled with time. kinesalite
// has no limits, so the proxy answers for it; what it lets through is
// stored and read back.
func TestShardLimit(t *testing.T) {
	e := newEnv(t, 2, 7)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	e.proxy.SetClock(clock.now)
	e.proxy.SetRules(faultproxy.Rules{ShardLimit: faultproxy.KinesisShardLimit()})
	s0, s1 := *e.shards[0].ShardId, *e.shards[1].ShardId

	// Records: 3 requests of 400 entries for shard 0 and 100 for shard 1,
	// at one instant. Shard 0 takes its 1000; shard 1 all of its 300.
	acc0, thr0, acc1 := 0, 0, 0
	for r := range 3 {
		recs := append(e.toShard(0, 400, 10, fmt.Sprintf("a%d", r)), e.toShard(1, 100, 10, fmt.Sprintf("b%d", r))...)
		want := make([]string, len(recs))
		for i := range want {
			want[i] = map[bool]string{true: s0, false: s1}[i < 400]
		}
		out, err := e.put(t, recs)
		if err != nil {
			t.Fatal(err)
		}
		ok0, th0 := outcome(t, out, want)
		for i, res := range out.Records[400:] {
			if res.ErrorCode != nil {
				t.Fatalf("shard 1 entry %d throttled with shard 1 under its limit", i)
			}
		}
		acc0 += ok0 - 100
		thr0 += th0
		acc1 += 100
	}
	if acc0 != 1000 || thr0 != 200 || acc1 != 300 {
		t.Fatalf("shard 0: %d accepted, %d throttled (want 1000, 200); shard 1: %d accepted", acc0, thr0, acc1)
	}

	// Half a second later shard 0 has half a second's worth again.
	clock.add(500 * time.Millisecond)
	out, err := e.put(t, e.toShard(0, 600, 10, "c"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, th := outcome(t, out, repeat(s0, 600)); ok != 500 || th != 100 {
		t.Fatalf("after 0.5 s: %d accepted, %d throttled; want 500, 100", ok, th)
	}

	// Bytes: after a full refill, 400 KiB records to shard 1: two fit in
	// 1 MiB (data + key), the third does not, though records are left.
	clock.add(10 * time.Second)
	big := e.toShard(1, 3, 400<<10, "big")
	got := 0
	for i := range big {
		out, err := e.put(t, big[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		ok, _ := outcome(t, out, []string{s1})
		got += ok
	}
	if got != 2 {
		t.Fatalf("400 KiB records: %d of 3 accepted within 1 MiB, want 2", got)
	}

	// An aggregated record of 2,000 user records counts as one record of
	// its size: with it shard 0 still takes 999 plain records, not one more.
	clock.add(10 * time.Second)
	var agg kpl.Aggregator
	for i := range 2000 {
		agg.Add(fmt.Sprintf("u%d", i), "", []byte("user"))
	}
	aggData := append([]byte(nil), agg.AppendTo(nil)...)
	out, err = e.put(t, []types.PutRecordsRequestEntry{{PartitionKey: aws.String("a"), ExplicitHashKey: e.shards[0].HashKeyRange.StartingHashKey, Data: aggData}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := outcome(t, out, []string{s0}); ok != 1 {
		t.Fatal("the aggregated record was throttled on a full shard")
	}
	plain := append(e.toShard(0, 500, 10, "d"), e.toShard(0, 500, 10, "e")...)
	accepted := 0
	for _, part := range [][]types.PutRecordsRequestEntry{plain[:500], plain[500:]} {
		out, err := e.put(t, part)
		if err != nil {
			t.Fatal(err)
		}
		ok, _ := outcome(t, out, repeat(s0, len(part)))
		accepted += ok
	}
	if accepted != 999 {
		t.Fatalf("after one aggregated record: %d plain records accepted, want 999", accepted)
	}

	// What the proxy let through is what kinesalite stored.
	stored := e.stored(t)
	want := 1000 + 300 + 500 + 2 + 1 + 999
	if len(stored) != want {
		t.Fatalf("%d records stored, want %d", len(stored), want)
	}
	if _, ok := stored[string(aggData)]; !ok || !kpl.IsAggregated(aggData) {
		t.Fatal("the aggregated record is not stored as sent")
	}
	c := e.proxy.Counters()
	if c.EntriesOverLimit != 200+100+1+1 || c.EntriesUnderLimit != int64(want) {
		t.Fatalf("counters: %d over, %d under the limit", c.EntriesOverLimit, c.EntriesUnderLimit)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
