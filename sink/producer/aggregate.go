package producer

// Aggregation happens when a batch is cut, not at Put: user records stay
// the unit of buffering, TTL, retries, ordering and results, and a record
// retried after its aggregate failed is simply aggregated again with
// whatever is due at the next cut. The cut only does size arithmetic
// (kpl.Sizer, under the producer's lock); the sender encodes, outside it.

import (
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// outerKeyShard is the partition key of aggregates in AggregateByShard
// mode, as in the KPL: the explicit hash key routes them, so the key only
// needs to be short.
const outerKeyShard = "a"

// groupKey says which user records may share an aggregate: same predicted
// shard (AggregateByShard) or same partition and explicit hash key
// (AggregateByKey).
type groupKey struct {
	shard   int
	pk, ehk string
}

// cutScratch is reused by every cut; only the dispatcher cuts.
type cutScratch struct {
	open    map[groupKey]int // group -> index of its entry still taking records
	sizers  []*kpl.Sizer     // per entry of the cut; nil for unaggregated entries
	free    []*kpl.Sizer
	entryOf []int // per record of the cut, in cut order
	counts  []int
}

func (c *cutScratch) sizer() *kpl.Sizer {
	if n := len(c.free); n > 0 {
		s := c.free[n-1]
		c.free = c.free[:n-1]
		return s
	}
	return new(kpl.Sizer)
}

// takeAggLocked cuts one batch like takeLocked (due retries and released
// successors first, then fresh records), packing user records into
// aggregates by group up to AggregationMaxCount and the aggregate size
// limit, and stopping at fullCount user records, MaxRecordsPerRequest
// entries or MaxBytesPerRequest bytes counted on the entries. A group whose aggregate
// is full starts another one.
func (p *Producer) takeAggLocked(st *streamState, now time.Time, expired []*record) (*batch, []*record) {
	c := &p.cut
	if c.open == nil {
		c.open = make(map[groupKey]int)
	}
	var m *shardMap
	if p.opts.Aggregation == AggregateByShard {
		m = st.shardMap
	}
	limit := min(p.opts.AggregationMaxSize, st.maxRecordSize)
	var recs []*record
	var ents []kEntry
	entryOf := c.entryOf[:0]
	bytes := 0
	var src cutSource
	full := p.fullCount()
	for len(recs) < full {
		var r *record
		if r, expired = p.nextLiveLocked(st, &src, now, expired); r == nil {
			break
		}
		var b *bucket // r's shard's rate limit, nil if none

		// Which group, and the predicted shard.
		var gk groupKey
		canAgg := !r.noAgg
		shard, shardKey := "", ""
		switch {
		case p.opts.Aggregation == AggregateByKey:
			gk = groupKey{shard: -1, pk: r.e.PartitionKey, ehk: r.e.ExplicitHashKey}
		case m != nil:
			i := p.shardIndex(m, r)
			gk = groupKey{shard: i}
			shard, shardKey = m.shards[i].id, m.shards[i].startKey
			if len(st.buckets) > 0 {
				b = st.buckets[i]
			}
		default:
			canAgg = false // no shard map: no aggregation, as in the KPL
		}
		if b == nil && m == nil {
			if b = p.bucketLocked(st, r); b != nil {
				shard = b.shard // for the mismatch check: the limit relies on it
			}
		}

		join, joinSize := -1, 0
		if canAgg {
			if ei, ok := c.open[gk]; ok {
				e, s := &ents[ei], c.sizers[ei]
				ns := s.SizeWith(r.e.PartitionKey, r.e.ExplicitHashKey, len(r.e.Data)) + len(e.pk)
				if ns <= limit && int64(s.Count()) < p.opts.AggregationMaxCount {
					if bytes-e.size+ns > p.opts.MaxBytesPerRequest {
						break // the request is full
					}
					join, joinSize = ei, ns
				} else {
					delete(c.open, gk) // full: the group starts a new aggregate
				}
			}
		}
		if b != nil && src.from != fromHeld {
			// Joining an aggregate adds bytes but no Kinesis record.
			recCost := 1
			if join >= 0 {
				recCost = 0
			}
			if b.held.len() > 0 || !p.lim.affords(b, recCost, r.size, now) {
				p.holdLocked(st, b, p.popLocked(st, &src))
				continue
			}
		}
		target := -1
		if join >= 0 {
			e, s := &ents[join], c.sizers[join]
			s.Add(r.e.PartitionKey, r.e.ExplicitHashKey, len(r.e.Data))
			if b != nil {
				p.takeTokensLocked(b, 0, joinSize-e.size, now)
			}
			bytes += joinSize - e.size
			e.size = joinSize
			target = join
		}
		if target < 0 {
			if len(ents) == p.opts.MaxRecordsPerRequest {
				break
			}
			e := kEntry{pk: r.e.PartitionKey, ehk: r.e.ExplicitHashKey, shard: shard, size: r.size}
			var s *kpl.Sizer
			if canAgg {
				pk, ehk := r.e.PartitionKey, r.e.ExplicitHashKey
				if p.opts.Aggregation == AggregateByShard {
					pk, ehk = outerKeyShard, shardKey
				}
				// A record too big for an aggregate of its own goes alone.
				if single := kpl.SingleSize(r.e.PartitionKey, r.e.ExplicitHashKey, len(r.e.Data)) + len(pk); single <= limit {
					e.pk, e.ehk, e.size, e.agg = pk, ehk, single, true
					s = c.sizer()
					s.Add(r.e.PartitionKey, r.e.ExplicitHashKey, len(r.e.Data))
				}
			}
			if len(ents) > 0 && bytes+e.size > p.opts.MaxBytesPerRequest {
				if s != nil {
					s.Reset()
					c.free = append(c.free, s)
				}
				break
			}
			if b != nil {
				p.takeTokensLocked(b, 1, e.size, now)
			}
			target = len(ents)
			ents = append(ents, e)
			c.sizers = append(c.sizers, s)
			if s != nil {
				c.open[gk] = target
			}
			bytes += e.size
		}
		p.popLocked(st, &src)
		recs = append(recs, r)
		entryOf = append(entryOf, target)
	}
	for _, s := range c.sizers {
		if s != nil {
			s.Reset()
			c.free = append(c.free, s)
		}
	}
	clear(c.sizers)
	c.sizers = c.sizers[:0]
	clear(c.open)
	c.entryOf = entryOf[:0]
	if len(recs) == 0 {
		return nil, expired
	}

	// Group the records by entry, keeping cut order within each (a key's
	// records stay in Put order inside an aggregate).
	counts := c.counts[:0]
	for range ents {
		counts = append(counts, 0)
	}
	for _, ei := range entryOf {
		counts[ei]++
	}
	off := 0
	for i, n := range counts {
		counts[i] = off
		off += n
	}
	grouped := make([]*record, len(recs))
	for i, r := range recs {
		ei := entryOf[i]
		grouped[counts[ei]] = r
		counts[ei]++
	}
	off = 0
	for i := range ents {
		e := &ents[i]
		end := counts[i]
		e.recs = grouped[off:end:end]
		off = end
		if len(e.recs) == 1 {
			// An aggregate of one is sent as the plain record, as the KPL
			// does: smaller, and readable by consumers that do not
			// de-aggregate.
			r := e.recs[0]
			e.agg = false
			e.pk, e.ehk, e.size = r.e.PartitionKey, r.e.ExplicitHashKey, r.size
		}
		if !e.agg {
			e.data = e.recs[0].e.Data
		}
	}
	c.counts = counts[:0]
	if m == nil && len(st.buckets) > 0 {
		m = st.shardMap // the limit's prediction, checked like the aggregation's
	}
	return &batch{st: st, recs: grouped, ents: ents, shardMap: m, cutAt: now}, expired
}

// encode builds the data of the batch's aggregates into one pooled buffer
// sized for all of them: one allocation per request at most, none per user
// record.
func (p *Producer) encode(b *batch, agg *kpl.Aggregator) {
	total := 0
	for i := range b.ents {
		if e := &b.ents[i]; e.agg {
			total += e.size - len(e.pk)
		}
	}
	if total == 0 {
		return
	}
	b.arena = getArena(total)
	buf := (*b.arena)[:0]
	for i := range b.ents {
		e := &b.ents[i]
		if !e.agg {
			continue
		}
		agg.Reset()
		for _, r := range e.recs {
			agg.Add(r.e.PartitionKey, r.e.ExplicitHashKey, r.e.Data)
		}
		start := len(buf)
		buf = agg.AppendTo(buf)
		e.data = buf[start:len(buf):len(buf)]
	}
	*b.arena = buf
}
