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

// needsMap says whether streams need a shard map: to aggregate by shard, or
// to rate-limit per shard.
func (p *Producer) needsMap() bool {
	return p.opts.Aggregation == AggregateByShard || p.lim.on()
}

func mapShards(m *shardMap) int {
	if m == nil {
		return 0
	}
	return len(m.shards)
}

func (p *Producer) hookShardMap(i ShardMapInfo) {
	if h := p.opts.Hooks.OnShardMap; h != nil {
		h(i)
	}
}

// maybeLoadShardMapLocked starts loading st's shard map in the background
// when it has none, none is loading and the reload interval has passed.
func (p *Producer) maybeLoadShardMapLocked(st *streamState, now time.Time) {
	if !p.needsMap() || st.shardMap != nil || st.mapLoading || now.Before(st.mapNextLoad) {
		return
	}
	st.mapLoading = true
	reason := st.mapReason
	if reason == "" {
		reason = "start"
	}
	go func() {
		ctx, cancel := context.WithTimeout(p.ctx, p.opts.RequestTimeout)
		m, err := loadShardMap(ctx, p.client, st.name)
		cancel()
		p.hookShardMap(ShardMapInfo{Stream: st.name, Reason: reason, Shards: mapShards(m), Err: err})
		p.mu.Lock()
		st.mapLoading = false
		p.mapLoadedLocked(st, m, err, time.Now())
		p.mu.Unlock()
		p.wake()
	}()
}

// mapLoadedLocked installs the outcome of a load of st's shard map and
// schedules the next (see streamState.mapLoadFailed).
func (p *Producer) mapLoadedLocked(st *streamState, m *shardMap, err error, now time.Time) {
	if err != nil {
		st.mapLoadFailed(now, p.backoff())
		return
	}
	p.mapLoads.Add(1)
	p.setShardMapLocked(st, m)
	st.mapLoadSucceeded(now)
}

// wantsMapLocked says whether st needs a shard map loaded: it has none and
// either has records to send or lost its map (mismatch, failed load), in
// which case the map is reloaded without waiting for traffic.
func (p *Producer) wantsMapLocked(st *streamState) bool {
	return p.needsMap() && st.shardMap == nil && !p.closing &&
		(st.mapReason != "" || st.queued() > 0)
}

// invalidateShardMapLocked drops st's shard map if it is still m (a batch
// cut with an older map says nothing about the current one), so that
// records go unaggregated until a fresh map is loaded.
func (p *Producer) invalidateShardMapLocked(st *streamState, m *shardMap, reason string, now time.Time) {
	if m == nil || st.shardMap != m {
		return
	}
	p.setShardMapLocked(st, nil)
	st.mapReason = reason
	p.maybeLoadShardMapLocked(st, now)
}

// setShardMapLocked installs st's shard map (nil: none known) and, with a
// rate limit, the buckets of its shards. Records held under the previous
// map go back to the front of the priority queue: they were predicted with
// a map that is gone, and with no map nothing is limited.
func (p *Producer) setShardMapLocked(st *streamState, m *shardMap) {
	st.shardMap = m
	if !p.lim.on() {
		return
	}
	st.unhold()
	if m == nil {
		st.buckets = st.buckets[:0]
		return
	}
	now := time.Now()
	old := st.byShard
	st.byShard = make(map[string]*bucket, len(m.shards))
	st.buckets = st.buckets[:0]
	for _, s := range m.shards {
		b := old[s.id]
		if b == nil {
			b = p.lim.freshBucket(s.id, now)
		}
		st.byShard[s.id] = b
		st.buckets = append(st.buckets, b)
	}
}

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
	name, arn := streamRef(stream)
	in := &kinesis.ListShardsInput{StreamName: name, StreamARN: arn}
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
