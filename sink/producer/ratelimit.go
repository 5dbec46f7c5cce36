package producer

// Per-shard rate limiting (Options.RateLimit), as the KPL does it: each
// predicted shard has a token bucket of RateLimit% of the shard's write
// limits, in Kinesis records and in bytes, holding at most one second's
// worth. Tokens are taken when a batch is cut, per Kinesis record (an
// aggregate counts as one record of its size). A record its shard cannot
// afford is moved to that shard's held queue and leaves it, in order,
// before any later record of the shard is considered; other shards keep
// going. The limit only applies while the stream's shard map is known:
// without a prediction there is nothing to count against.
//
// A held record's TTL is checked when it reaches the head of its queue and
// its shard can pay for it, like a due retry's: one that expires behind
// others resolves late by the time the queue ahead of it takes to drain.
//
// Kinesis' own limits are the same per second, so at RateLimit 100 the
// limiter keeps a single producer just under throttling, and the default
// 150 lets it push a shard to saturation while still holding back the
// bursts that would mostly come back throttled.

import (
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// Service write limits of one shard.
const (
	shardRecordsPerSecond = 1000
	shardBytesPerSecond   = 1 * MiB
)

// limiterTick is the shortest interval at which a shard's held records are
// released: tokens refill continuously, and every cut (a record lingering
// long enough, a blocked Put...) releasing what a few milliseconds refilled
// would send requests of a record or two at a high rate. So a held queue
// moves in steps of limiterTick's worth of tokens; records of a shard with
// nothing held go out at once while its tokens last.
const limiterTick = 25 * time.Millisecond

// bucket is one predicted shard's token bucket and its held records. It
// outlives shard map reloads (matched by shard id), so that a reload does
// not hand out a fresh second of burst.
type bucket struct {
	shard    string
	recs     float64 // record tokens; may go slightly negative (see take)
	bytes    float64 // byte tokens
	last     time.Time
	released time.Time // last time records of the bucket went into a batch
	cut      uint64    // the cut that did (Producer.cutSeq)
	held     ring      // records waiting for tokens, in the order they met the limit
	listed   bool      // in streamState.heldList
}

// limiter holds the producer-wide rates; zero rates mean no limiting.
type limiter struct {
	recRate, byteRate float64 // per second, also the bucket capacities
}

func newLimiter(percent float64) limiter {
	if percent <= 0 {
		return limiter{}
	}
	return limiter{
		recRate:  float64(shardRecordsPerSecond) * percent / 100,
		byteRate: float64(shardBytesPerSecond) * percent / 100,
	}
}

func (l *limiter) on() bool { return l.recRate > 0 }

func (l *limiter) refill(b *bucket, now time.Time) {
	if dt := now.Sub(b.last); dt > 0 {
		s := dt.Seconds()
		// At least one record's worth, so that a rate under one record a
		// second still sends.
		b.recs = min(max(l.recRate, 1), b.recs+s*l.recRate)
		b.bytes = min(l.byteRate, b.bytes+s*l.byteRate)
		b.last = now
	}
}

// affords says whether b can pay for recs Kinesis records of size bytes. A
// full byte bucket pays for any size, so that a record bigger than a
// second's worth of bytes (a low limit, a large record) is not held
// forever; the bucket then goes into debt.
func (l *limiter) affords(b *bucket, recs, size int, now time.Time) bool {
	l.refill(b, now)
	return b.recs >= float64(recs) && b.bytes >= min(float64(size), l.byteRate)
}

// takeTokensLocked charges b for recs Kinesis records of size bytes taken
// by the current cut.
func (p *Producer) takeTokensLocked(b *bucket, recs, size int, now time.Time) {
	b.recs -= float64(recs)
	b.bytes -= float64(size)
	b.released = now
	b.cut = p.cutSeq
}

// readyAt is when b's first held record can be released: enough tokens for
// it as a plain record, and limiterTick after the previous release.
func (l *limiter) readyAt(b *bucket, now time.Time) time.Time {
	l.refill(b, now)
	r := b.held.peek()
	wait := 0.0
	if d := 1 - b.recs; d > 0 {
		wait = d / l.recRate
	}
	need := min(float64(r.size), l.byteRate) // a full bucket pays for anything
	if d := need - b.bytes; d > 0 {
		wait = max(wait, d/l.byteRate)
	}
	t := now
	if wait > 0 {
		// Rounded up so that the dispatcher does not wake a hair too early
		// and go back to sleep for a nanosecond.
		t = now.Add(time.Duration(wait*float64(time.Second)) + time.Microsecond)
	}
	if next := b.released.Add(limiterTick); next.After(t) {
		t = next
	}
	return t
}

// unholdLocked moves every held record of st ahead of its priority queue.
func (p *Producer) unholdLocked(st *streamState) {
	if st.heldCount == 0 {
		return
	}
	var q ring
	for _, b := range st.heldList {
		for b.held.len() > 0 {
			q.push(b.held.pop())
		}
		b.listed = false
	}
	for st.prio.len() > 0 {
		q.push(st.prio.pop())
	}
	st.prio = q
	clear(st.heldList)
	st.heldList = st.heldList[:0]
	st.heldCount = 0
}

// bucketLocked returns the bucket of r's predicted shard, nil when st is not
// limited (no limit, or no shard map).
func (p *Producer) bucketLocked(st *streamState, r *record) *bucket {
	if len(st.buckets) == 0 {
		return nil
	}
	return st.buckets[p.shardIndex(st.shardMap, r)]
}

func (p *Producer) shardIndex(m *shardMap, r *record) int {
	if !r.hashed {
		// Validated at Put, so the hash key parses.
		r.hash, _ = kpl.RecordHash(r.e.PartitionKey, r.e.ExplicitHashKey)
		r.hashed = true
	}
	return m.find(r.hash)
}

func (p *Producer) holdLocked(st *streamState, b *bucket, r *record) {
	b.held.push(r)
	st.heldCount++
	p.rateLimited++
	if !b.listed {
		b.listed = true
		st.heldList = append(st.heldList, b)
	}
}

// pruneHeldLocked drops emptied queues from st.heldList after a cut.
func (p *Producer) pruneHeldLocked(st *streamState) {
	j := 0
	for _, b := range st.heldList {
		if b.held.len() > 0 {
			st.heldList[j] = b
			j++
		} else {
			b.listed = false
		}
	}
	clear(st.heldList[j:])
	st.heldList = st.heldList[:j]
}

// heldSendableLocked says whether some held record of st can go now.
func (p *Producer) heldSendableLocked(st *streamState, now time.Time) bool {
	for _, b := range st.heldList {
		if b.held.len() > 0 && !now.Before(p.lim.readyAt(b, now)) {
			return true
		}
	}
	return false
}
