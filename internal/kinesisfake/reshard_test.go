package kinesisfake_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

const (
	half    = "170141183460469231731687303715884105728" // 2^127
	maxHash = "340282366920938463463374607431768211455" // 2^128-1
)

func listShards(t *testing.T, c *kinesisfake.Client, stream string) []types.Shard {
	t.Helper()
	out, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Shards
}

// checkCoverage checks that the open shards of a listing cover the hash
// key space exactly once, which the producer's shard map requires.
func checkCoverage(t *testing.T, shards []types.Shard) {
	t.Helper()
	type rng struct{ lo, hi kpl.Hash }
	var open []rng
	for _, s := range shards {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		lo, _ := kpl.ParseHash(*s.HashKeyRange.StartingHashKey)
		hi, _ := kpl.ParseHash(*s.HashKeyRange.EndingHashKey)
		open = append(open, rng{lo, hi})
	}
	sort.Slice(open, func(i, j int) bool { return open[i].lo.Cmp(open[j].lo) < 0 })
	next := kpl.Hash{}
	for i, r := range open {
		if r.lo != next {
			t.Fatalf("open shard %d starts at %s, want %s", i, r.lo, next)
		}
		if r.hi == (kpl.Hash{Hi: ^uint64(0), Lo: ^uint64(0)}) {
			if i != len(open)-1 {
				t.Fatal("open shards overlap at the top")
			}
			return
		}
		next = kpl.Hash{Hi: r.hi.Hi, Lo: r.hi.Lo + 1}
		if next.Lo == 0 {
			next.Hi++
		}
	}
	t.Fatal("open shards do not reach 2^128-1")
}

func TestSplitShard(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	st := m.MustCreateStream("s", 1)
	c := m.Client()
	ctx := context.Background()
	before := put(t, c, "s", entries(20, "k", 1))
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half)})
	if err != nil {
		t.Fatal(err)
	}
	shards := listShards(t, c, "s")
	if len(shards) != 3 {
		t.Fatalf("ListShards after a split lists %d shards, want parent and two children", len(shards))
	}
	p, a, b := shards[0], shards[1], shards[2]
	if p.SequenceNumberRange.EndingSequenceNumber == nil {
		t.Error("the parent is still open")
	}
	if aws.ToString(a.ParentShardId) != "shardId-000000000000" || aws.ToString(b.ParentShardId) != "shardId-000000000000" || a.AdjacentParentShardId != nil {
		t.Errorf("children's parents: %v %v", a.ParentShardId, b.ParentShardId)
	}
	if *a.HashKeyRange.StartingHashKey != "0" || *a.HashKeyRange.EndingHashKey != "170141183460469231731687303715884105727" ||
		*b.HashKeyRange.StartingHashKey != half || *b.HashKeyRange.EndingHashKey != maxHash {
		t.Errorf("children's ranges: %v %v", a.HashKeyRange, b.HashKeyRange)
	}
	if *a.SequenceNumberRange.StartingSequenceNumber <= *p.SequenceNumberRange.EndingSequenceNumber {
		t.Error("a child's sequence numbers start below its parent's end")
	}
	checkCoverage(t, shards)

	// Writes go to the children; the parent keeps what it had.
	after := put(t, c, "s", entries(20, "k", 1))
	for i, r := range after.Records {
		want, _ := st.ShardFor("k"+itoa(i), "")
		if *r.ShardId == "shardId-000000000000" || *r.ShardId != want {
			t.Errorf("after the split, k%d went to %s (want %s)", i, *r.ShardId, want)
		}
		if *r.SequenceNumber <= *before.Records[i].SequenceNumber {
			t.Errorf("k%d: sequence number went down across the split", i)
		}
	}
	if n := len(st.ShardRecords("shardId-000000000000")); n != 20 {
		t.Errorf("parent holds %d records, want 20", n)
	}
	// A reader of the closed parent is sent on to its children.
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: before.Records[9].SequenceNumber})
	if err != nil {
		t.Fatal(err)
	}
	gr, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(gr.Records) != 10 || gr.NextShardIterator != nil || len(gr.ChildShards) != 2 ||
		*gr.ChildShards[0].ShardId != *a.ShardId || len(gr.ChildShards[1].ParentShards) != 1 {
		t.Errorf("reading the closed parent: %d records, next %v, children %v, %v", len(gr.Records), gr.NextShardIterator, gr.ChildShards, err)
	}

	// A closed shard cannot be split again; a key outside the range fails.
	for _, tc := range []struct{ shard, key, code string }{
		{"shardId-000000000000", "5", kinesisfake.CodeInvalidArgument},
		{"shardId-000000000001", "1", kinesisfake.CodeInvalidArgument},
		{"shardId-000000000001", half, kinesisfake.CodeInvalidArgument},
		{"shardId-000000000009", "5", kinesisfake.CodeResourceNotFound},
	} {
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(tc.shard), NewStartingHashKey: aws.String(tc.key)})
		if code, _ := codeOf(err); code != tc.code {
			t.Errorf("split %s at %s: %v, want %s", tc.shard, tc.key, err, tc.code)
		}
	}
}

func TestMergeShards(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	st := m.MustCreateStream("s", 3)
	c := m.Client()
	ctx := context.Background()
	_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String("shardId-000000000000"), AdjacentShardToMerge: aws.String("shardId-000000000002")})
	if code, _ := codeOf(err); code != kinesisfake.CodeInvalidArgument {
		t.Fatalf("merging shards that are not adjacent: %v", err)
	}
	// Adjacent in either order, as Kinesis's documentation describes.
	child, err := st.MergeShards("shardId-000000000002", "shardId-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	shards := listShards(t, c, "s")
	if len(shards) != 4 || *shards[3].ShardId != child {
		t.Fatalf("ListShards after a merge: %d shards", len(shards))
	}
	ch := shards[3]
	if aws.ToString(ch.ParentShardId) != "shardId-000000000002" || aws.ToString(ch.AdjacentParentShardId) != "shardId-000000000001" {
		t.Errorf("merged child's parents: %v, %v", ch.ParentShardId, ch.AdjacentParentShardId)
	}
	if *ch.HashKeyRange.StartingHashKey != *shards[1].HashKeyRange.StartingHashKey || *ch.HashKeyRange.EndingHashKey != maxHash {
		t.Errorf("merged child's range %v", ch.HashKeyRange)
	}
	checkCoverage(t, shards)
	open, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil || len(open.Shards) != 2 {
		t.Fatalf("open shards after the merge: %d, %v", len(open.Shards), err)
	}
	sum, _ := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if n := aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount); n != 2 {
		t.Errorf("OpenShardCount %d", n)
	}
}

// TestReshardingKeepsCoverage splits and merges at random, writing between
// changes: the open shards always cover the key space once, every record
// lands on the open shard owning its hash, and a key's records stay in
// order along its shard lineage.
func TestReshardingKeepsCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	st := m.MustCreateStream("s", 2)
	c := m.Client()
	for step := range 60 {
		open := st.OpenShards()
		if rng.IntN(2) == 0 || len(open) == 1 {
			s := open[rng.IntN(len(open))]
			if _, err := st.SplitEvenly(s.ID); err != nil {
				t.Fatalf("step %d: split %s: %v", step, s.ID, err)
			}
		} else {
			i := rng.IntN(len(open) - 1)
			if _, err := st.MergeShards(open[i].ID, open[i+1].ID); err != nil {
				t.Fatalf("step %d: merge %s %s: %v", step, open[i].ID, open[i+1].ID, err)
			}
		}
		checkCoverage(t, listShards(t, c, "s"))
		recs := entries(50, "k", 1)
		for i := range recs {
			recs[i].Data = []byte(itoa(step))
		}
		out := put(t, c, "s", recs)
		for i, r := range out.Records {
			want, _ := st.ShardFor(*recs[i].PartitionKey, "")
			if *r.ShardId != want {
				t.Fatalf("step %d: %s stored on %s, owner %s", step, *recs[i].PartitionKey, *r.ShardId, want)
			}
		}
	}
	// Per key, sequence numbers increase with the steps.
	last := map[string]string{}
	lastStep := map[string]int{}
	all := st.Records()
	sort.Slice(all, func(i, j int) bool { return all[i].SequenceNumber < all[j].SequenceNumber })
	for _, r := range all {
		s := atoi(string(r.Data))
		if s < lastStep[r.PartitionKey] || r.SequenceNumber <= last[r.PartitionKey] {
			t.Fatalf("key %s out of order", r.PartitionKey)
		}
		last[r.PartitionKey], lastStep[r.PartitionKey] = r.SequenceNumber, s
	}
}
