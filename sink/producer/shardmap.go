package producer

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// shardMap is a stream's open shards by hash-key range, from ListShards.
// It predicts the shard of each user record so that an aggregate only holds
// records of one shard (AggregateByShard). A map is immutable once built;
// a refresh replaces it, and batches remember which map they were cut with
// so that a late mismatch from an old map does not discard a newer one.
type shardMap struct {
	shards []mappedShard // sorted by start; contiguous over [0, 2^128-1]
	loaded time.Time
}

type mappedShard struct {
	id         string
	start, end kpl.Hash
	// startKey is the shard's StartingHashKey as Kinesis wrote it: the
	// explicit hash key of the aggregates bound for the shard. Any key in
	// the range would do; this one costs no formatting.
	startKey string
}

// find returns the index of the shard owning h.
func (m *shardMap) find(h kpl.Hash) int {
	// The first shard whose end is >= h; coverage is contiguous, so it
	// owns h.
	return sort.Search(len(m.shards), func(i int) bool { return m.shards[i].end.Cmp(h) >= 0 })
}

// Minimum time between two loads of one stream's map, and the backoff after
// a failed load doubles from minReload up to Options.RetryMaxDelay: a
// stream that keeps showing mismatches (a resharding in progress that
// ListShards does not show yet) costs at most one ListShards per second.
const minReload = time.Second

// loadShardMap lists the stream's shards (following NextToken) and builds
// the map of its open shards. It fails when the open shards do not cover
// the hash-key space exactly once (a listing taken mid-resharding), so that
// records go unaggregated rather than into a wrong shard.
func loadShardMap(ctx context.Context, c PutRecordsAPI, stream string) (*shardMap, error) {
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	var all []types.Shard
	for page := 0; ; page++ {
		if page == 1000 {
			return nil, fmt.Errorf("list shards of %q: more than 1000 pages", stream)
		}
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %q: %w", stream, err)
		}
		all = append(all, out.Shards...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		// With a NextToken the stream name must not be repeated.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	return buildShardMap(stream, all)
}

func buildShardMap(stream string, shards []types.Shard) (*shardMap, error) {
	m := &shardMap{loaded: time.Now()}
	for _, s := range shards {
		// Closed shards (parents of a resharding) keep being listed during
		// the retention period; only open ones take writes.
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		if s.HashKeyRange == nil {
			return nil, fmt.Errorf("shard map of %q: shard %s has no hash key range", stream, aws.ToString(s.ShardId))
		}
		start, err := kpl.ParseHash(aws.ToString(s.HashKeyRange.StartingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard map of %q: shard %s: %w", stream, aws.ToString(s.ShardId), err)
		}
		end, err := kpl.ParseHash(aws.ToString(s.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard map of %q: shard %s: %w", stream, aws.ToString(s.ShardId), err)
		}
		m.shards = append(m.shards, mappedShard{id: aws.ToString(s.ShardId), start: start, end: end,
			startKey: aws.ToString(s.HashKeyRange.StartingHashKey)})
	}
	if len(m.shards) == 0 {
		return nil, fmt.Errorf("shard map of %q: no open shard", stream)
	}
	sort.Slice(m.shards, func(i, j int) bool { return m.shards[i].start.Cmp(m.shards[j].start) < 0 })
	next := kpl.Hash{}
	for i, s := range m.shards {
		if s.start != next || s.end.Cmp(s.start) < 0 {
			return nil, fmt.Errorf("shard map of %q: open shards do not cover the hash key space exactly once (shard %s starts at %s, expected %s)",
				stream, s.id, s.start, next)
		}
		if i == len(m.shards)-1 {
			if s.end != (kpl.Hash{Hi: ^uint64(0), Lo: ^uint64(0)}) {
				return nil, fmt.Errorf("shard map of %q: open shards end at %s, not 2^128-1", stream, s.end)
			}
			break
		}
		lo, carry := s.end.Lo+1, uint64(0)
		if lo == 0 {
			carry = 1
		}
		next = kpl.Hash{Hi: s.end.Hi + carry, Lo: lo}
	}
	return m, nil
}
