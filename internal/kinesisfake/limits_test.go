package kinesisfake_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// countCodes counts an answer's accepted entries and its throttled ones,
// checking the throttle message names the entry's shard as Kinesis's does.
func countCodes(t *testing.T, out *kinesis.PutRecordsOutput, stream, shard string) (ok, throttled int) {
	t.Helper()
	for _, r := range out.Records {
		switch aws.ToString(r.ErrorCode) {
		case "":
			ok++
		case kinesisfake.CodeThrottled:
			throttled++
			want := "Rate exceeded for shard " + shard + " in stream " + stream + " under account 000000000000."
			if got := aws.ToString(r.ErrorMessage); got != want {
				t.Fatalf("throttle message %q, want %q", got, want)
			}
		default:
			t.Fatalf("unexpected code %s", aws.ToString(r.ErrorCode))
		}
	}
	if int(aws.ToInt32(out.FailedRecordCount)) != throttled {
		t.Fatalf("FailedRecordCount %d, %d entries failed", aws.ToInt32(out.FailedRecordCount), throttled)
	}
	return ok, throttled
}

func TestShardRecordLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{})
		m.MustCreateStream("s", 1)
		c := m.Client()
		// A second of burst: 1,000 records at once, then none.
		ok, thr := countCodes(t, put(t, c, "s", entries(500, "a", 1)), "s", "shardId-000000000000")
		ok2, thr2 := countCodes(t, put(t, c, "s", entries(500, "b", 1)), "s", "shardId-000000000000")
		ok3, thr3 := countCodes(t, put(t, c, "s", entries(500, "c", 1)), "s", "shardId-000000000000")
		if ok+ok2 != 1000 || thr+thr2 != 0 || ok3 != 0 || thr3 != 500 {
			t.Fatalf("burst: accepted %d+%d+%d, throttled %d+%d+%d", ok, ok2, ok3, thr, thr2, thr3)
		}
		// The bucket refills at 1,000 records/s.
		time.Sleep(250 * time.Millisecond)
		ok, thr = countCodes(t, put(t, c, "s", entries(500, "d", 1)), "s", "shardId-000000000000")
		if ok != 250 || thr != 250 {
			t.Fatalf("after 250 ms: accepted %d, throttled %d; want 250 and 250", ok, thr)
		}
		// It holds one second at most, however long the shard was idle.
		time.Sleep(10 * time.Second)
		total := 0
		for range 3 {
			ok, _ := countCodes(t, put(t, c, "s", entries(500, "e", 1)), "s", "shardId-000000000000")
			total += ok
		}
		if total != 1000 {
			t.Fatalf("after 10 s idle: accepted %d, want 1000", total)
		}
		if got := m.Counters().EntriesThrottled; got != 500+250+500 {
			t.Errorf("EntriesThrottled %d", got)
		}
	})
}

func TestShardByteLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{})
		m.MustCreateStream("s", 1)
		c := m.Client()
		// Records of 100 KiB, key included: ten fit in the 1 MiB burst,
		// leaving 24 KiB.
		rec := func(pk string) types.PutRecordsRequestEntry {
			return types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: make([]byte, 100*1024-len(pk))}
		}
		var recs []types.PutRecordsRequestEntry
		for i := range 12 {
			recs = append(recs, rec(string(rune('a'+i))))
		}
		ok, thr := countCodes(t, put(t, c, "s", recs), "s", "shardId-000000000000")
		if ok != 10 || thr != 2 {
			t.Fatalf("1 MiB burst took %d records of 100 KiB, throttled %d; want 10 and 2", ok, thr)
		}
		// 100 KiB refill in 100 ms (1 MiB/s = 1024 KiB/s: 97.7 ms).
		time.Sleep(98 * time.Millisecond)
		ok, _ = countCodes(t, put(t, c, "s", recs[:2]), "s", "shardId-000000000000")
		if ok != 1 {
			t.Fatalf("after 98 ms: accepted %d, want 1", ok)
		}
	})
}

func TestAggregateCountsAsOneRecordOfItsSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{})
		st := m.MustCreateStream("s", 1)
		c := m.Client()
		// 2,000 user records in two aggregates: two records for the limit,
		// which the shard takes at once though 2,000 plain records would
		// take two seconds.
		var recs []types.PutRecordsRequestEntry
		for a := range 2 {
			var agg kpl.Aggregator
			for i := range 1000 {
				agg.Add(string(rune('a'+a))+string(rune('0'+i%10)), "", []byte("x"))
			}
			recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String("a"), Data: agg.AppendTo(nil)})
		}
		ok, _ := countCodes(t, put(t, c, "s", recs), "s", "shardId-000000000000")
		if ok != 2 {
			t.Fatalf("accepted %d aggregates, want 2", ok)
		}
		users, err := st.UserRecords()
		if err != nil || len(users) != 2000 {
			t.Fatalf("user records: %d, %v", len(users), err)
		}
		// Then 998 plain records fit in what is left of the second.
		ok, thr := countCodes(t, put(t, c, "s", entries(500, "p", 1)), "s", "shardId-000000000000")
		ok2, thr2 := countCodes(t, put(t, c, "s", entries(500, "q", 1)), "s", "shardId-000000000000")
		if ok+ok2 != 998 || thr+thr2 != 2 {
			t.Fatalf("after two aggregates: accepted %d, throttled %d; want 998 and 2", ok+ok2, thr+thr2)
		}
	})
}

func TestLimitsArePerShard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{})
		st := m.MustCreateStream("s", 2)
		c := m.Client()
		// Explicit hash keys aim 250 records per request at each shard:
		// each shard takes its own 1,000, four requests' worth.
		lo, hi := st.OpenShards()[0].StartingHashKey, st.OpenShards()[1].StartingHashKey
		var recs []types.PutRecordsRequestEntry
		for i := range 500 {
			k := lo
			if i%2 == 1 {
				k = hi
			}
			recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(k), Data: []byte("x")})
		}
		for i := range 4 {
			out := put(t, c, "s", recs)
			if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
				t.Fatalf("request %d: %d throttled", i+1, n)
			}
		}
		out := put(t, c, "s", recs)
		if n := aws.ToInt32(out.FailedRecordCount); n != 500 {
			t.Fatalf("past 1,000 per shard: %d throttled, want 500", n)
		}
	})
}

func TestInjectedClock(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := kinesisfake.New(kinesisfake.Config{Now: func() time.Time { return now },
		ShardLimit: &kinesisfake.ShardLimit{RecordsPerSecond: 10, BytesPerSecond: 1 << 20}})
	st := m.MustCreateStream("s", 1)
	c := m.Client()
	ok, thr := countCodes(t, put(t, c, "s", entries(15, "a", 1)), "s", "shardId-000000000000")
	if ok != 10 || thr != 5 {
		t.Fatalf("accepted %d throttled %d, want 10 and 5", ok, thr)
	}
	now = now.Add(300 * time.Millisecond)
	ok, _ = countCodes(t, put(t, c, "s", entries(15, "b", 1)), "s", "shardId-000000000000")
	if ok != 3 {
		t.Fatalf("after 300 ms at 10/s: accepted %d, want 3", ok)
	}
	if got := st.Records()[0].ArrivalTime; !got.Equal(time.Unix(1_700_000_000, 0)) {
		t.Errorf("arrival time %v, from the injected clock", got)
	}
}
