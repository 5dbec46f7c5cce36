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
//
// RateLimit is a guess made before anything was sent: at 150 a saturated
// shard answers about a third of its entries throttled, each retried, and
// where other writers share the shard even 100 is too much. With
// AdaptiveRateLimit the shard's answers correct the guess, as a TCP
// congestion window does:
//   - while the limit binds (what was sent to the shard over the last
//     second or so is at least adaptBinding of its rate, and at least
//     adaptMinShare of the shard's own limits), a response with
//     throttled entries for the shard cuts its rates to the
//     share of its records that got through (between adaptMinCut and
//     adaptMaxCut of what they were): that share is what Kinesis granted.
//     Once per round trip: responses to requests cut before the cut were
//     sent at the old rate and are not counted again;
//   - the rates climb back by adaptFast of RateLimit a second to just under
//     where they were throttled, then by adaptSlow across the band around
//     it, where the shard's limit was found, and by adaptFast again beyond
//     it (the shard may have been freed by another writer);
//   - a fresh bucket holds at most one second of the shard's own limits,
//     the burst Kinesis grants: more would come back throttled.
//
// A saturated shard then runs just under what Kinesis grants, throttled
// only while the slow climb probes past it. A producer sending well under
// its limit is not what fills the shard: lowering a limit it does not reach
// would change nothing until the load rose, and throttling that does not
// follow the rate (a shard shared with a heavy writer, an injected fault)
// would otherwise cut it again every round trip down to the floor. Nor is
// a producer that sends a small share of what the shard takes: with a low
// RateLimit (a function's limit shared among many instances) the limit is
// reached by a record or two a second, so it binds whenever there is a
// backlog, and throttling of any cause (another writer, an injected
// fault) would keep cutting it towards the floor (0.06 records/s at
// RateLimit 0.3). It would take a hundred writers at adaptMinShare to
// fill a shard.

import (
	"math"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// Service write limits of one shard.
const (
	shardRecordsPerSecond = 1000
	shardBytesPerSecond   = 1 * MiB
)

// The adaptive limit's steps: see the file comment. A cut to the share that
// got through, 0.7 to 0.9, brings a rate that outran the shard's burst back
// under the limit in one or two round trips; climbing at 3% of RateLimit a
// second returns in a few seconds, and at 0.3% near where the limit was
// found it does not overrun Kinesis's one-second burst by much. Measured
// with make bench's at-the-limit rows (docs/benchmarks.md).
const (
	adaptMinCut   = 0.7  // the deepest single cut: one response with little accepted says little (a request may carry few of the shard's entries)
	adaptMaxCut   = 0.9  // the shallowest, so that a cut always brings the rate under the limit soon
	adaptFast     = 0.03 // climb, in RateLimit per second, away from where the limit was found
	adaptSlow     = 0.003
	adaptBand     = 0.05 // the slow band: within this share of the rate last throttled
	adaptMinScale = 0.02 // a floor, so that a shard shared with many writers still sends
	adaptBinding  = 0.5  // share of the limit's rate sent lately above which the limit binds
	adaptMinShare = 0.01 // share of the shard's own limits sent lately below which it does not
	adaptWindow   = time.Second
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
	// The adaptive limit: the scale of the rates right after the last cut
	// (0: never cut, scale 1), when it was made, and the scale that was
	// throttled.
	floor   float64
	floorAt time.Time
	peak    float64
	// What was sent lately: records and bytes taken, decaying with time
	// constant adaptWindow (so in steady state rate × adaptWindow).
	sentRecs, sentBytes float64
	sentAt              time.Time
}

// decaySent brings b's recent-send sums to now.
func (b *bucket) decaySent(now time.Time) {
	if dt := now.Sub(b.sentAt); dt > 0 {
		f := math.Exp(-dt.Seconds() / adaptWindow.Seconds())
		b.sentRecs *= f
		b.sentBytes *= f
		b.sentAt = now
	}
}

// scale is the share of the limiter's rates b may use at now: 1 unless
// Kinesis throttled the shard, then climbing back from the last cut (see
// the file comment).
func (b *bucket) scale(now time.Time) float64 {
	if b.floor == 0 {
		return 1
	}
	e := now.Sub(b.floorAt).Seconds()
	s := b.floor
	climb := func(to, rate float64) bool {
		if s >= to {
			return false
		}
		if d := (to - s) / rate; e > d {
			s, e = to, e-d
			return false
		}
		s += rate * e
		return true
	}
	if !climb(b.peak*(1-adaptBand), adaptFast) && !climb(b.peak*(1+adaptBand), adaptSlow) {
		s += adaptFast * e
	}
	if s >= 1 {
		b.floor = 0
		return 1
	}
	return s
}

// limiter holds the producer-wide rates; zero rates mean no limiting.
type limiter struct {
	recRate, byteRate float64 // per second, also the bucket capacities
	adaptive          bool    // AdaptiveRateLimit
}

func newLimiter(percent float64, adaptive bool) limiter {
	if percent <= 0 {
		return limiter{}
	}
	return limiter{
		recRate:  float64(shardRecordsPerSecond) * percent / 100,
		byteRate: float64(shardBytesPerSecond) * percent / 100,
		adaptive: adaptive,
	}
}

func (l *limiter) on() bool { return l.recRate > 0 }

// rates are b's record and byte rates (and capacities) at now.
func (l *limiter) rates(b *bucket, now time.Time) (float64, float64) {
	s := b.scale(now)
	return l.recRate * s, l.byteRate * s
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if dt := now.Sub(b.last); dt > 0 {
		s := dt.Seconds()
		recRate, byteRate := l.rates(b, now)
		// At least one record's worth, so that a rate under one record a
		// second still sends.
		b.recs = min(max(recRate, 1), b.recs+s*recRate)
		b.bytes = min(byteRate, b.bytes+s*byteRate)
		b.last = now
	}
}

// affords says whether b can pay for recs Kinesis records of size bytes. A
// full byte bucket pays for any size, so that a record bigger than a
// second's worth of bytes (a low limit, a large record) is not held
// forever; the bucket then goes into debt.
func (l *limiter) affords(b *bucket, recs, size int, now time.Time) bool {
	l.refill(b, now)
	_, byteRate := l.rates(b, now)
	return b.recs >= float64(recs) && b.bytes >= min(float64(size), byteRate)
}

// freshBucket is a new bucket for shard, full: a second of the limit, and
// with AdaptiveRateLimit no more than a second of the shard's own limits.
func (l *limiter) freshBucket(shard string, now time.Time) *bucket {
	b := &bucket{shard: shard, recs: l.recRate, bytes: l.byteRate, last: now}
	if l.adaptive {
		b.recs = min(b.recs, shardRecordsPerSecond)
		b.bytes = min(b.bytes, shardBytesPerSecond)
	}
	return b
}

// throttled is Kinesis's answer for b's shard to a request cut at cutAt,
// of which the share accepted of the shard's records got through: with
// AdaptiveRateLimit, the shard's rates are cut, unless the request was cut
// before the last cut (its throttling is what that cut answered), and the
// tokens saved up are spent: Kinesis says the shard has none.
func (l *limiter) throttled(b *bucket, accepted float64, cutAt, now time.Time) {
	if !l.adaptive || (b.floor != 0 && cutAt.Before(b.floorAt)) {
		return
	}
	l.refill(b, now)
	recRate, byteRate := l.rates(b, now)
	b.decaySent(now)
	w := adaptWindow.Seconds()
	bindsRecs := b.sentRecs >= max(adaptBinding*recRate, adaptMinShare*shardRecordsPerSecond)*w
	bindsBytes := b.sentBytes >= max(adaptBinding*byteRate, adaptMinShare*shardBytesPerSecond)*w
	if !bindsRecs && !bindsBytes {
		return
	}
	s := b.scale(now)
	b.peak = s
	b.floor = max(s*min(max(accepted, adaptMinCut), adaptMaxCut), adaptMinScale)
	b.floorAt = now
	b.recs = min(b.recs, 0)
	b.bytes = min(b.bytes, 0)
}

// takeTokensLocked charges b for recs Kinesis records of size bytes taken
// by the current cut.
func (p *Producer) takeTokensLocked(b *bucket, recs, size int, now time.Time) {
	b.recs -= float64(recs)
	b.bytes -= float64(size)
	if p.lim.adaptive {
		b.decaySent(now)
		b.sentRecs += float64(recs)
		b.sentBytes += float64(size)
	}
	b.released = now
	b.cut = p.cutSeq
}

// readyAt is when b's first held record can be released: enough tokens for
// it as a plain record, and limiterTick after the previous release.
func (l *limiter) readyAt(b *bucket, now time.Time) time.Time {
	l.refill(b, now)
	recRate, byteRate := l.rates(b, now)
	r := b.held.peek()
	wait := 0.0
	if d := 1 - b.recs; d > 0 {
		wait = d / recRate
	}
	need := min(float64(r.size), byteRate) // a full bucket pays for anything
	if d := need - b.bytes; d > 0 {
		wait = max(wait, d/byteRate)
	}
	t := now
	if wait > 0 {
		// Rounded up so that the dispatcher does not wake a hair too early
		// and go back to sleep for a nanosecond.
		t = now.Add(time.Duration(wait*float64(time.Second)) + time.Microsecond)
		if b.floor != 0 {
			// The rates climb while the bucket refills, so the wait at the
			// rates of now is the latest the record can go, and can be far
			// too late: after a cut to the floor at RateLimit 0.3, 16.7 s
			// where 3.4 s do. At a stream's tail nothing else wakes the
			// dispatcher.
			t = l.earliest(b, r.size, now, t)
		}
	}
	if next := b.released.Add(limiterTick); next.After(t) {
		t = next
	}
	return t
}

// earliest is the first moment after now, to a millisecond, at which b
// can pay for a record of size, given that it can at late. Tokens that
// refill at a climbing rate have no simple inverse; the bisection asks
// affords itself, on copies of b, so that it cannot disagree with it.
func (l *limiter) earliest(b *bucket, size int, now, late time.Time) time.Time {
	lo, hi := now, late
	for hi.Sub(lo) > time.Millisecond {
		mid := lo.Add(hi.Sub(lo) / 2)
		c := *b
		if l.affords(&c, 1, size, mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
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
	st.hold(b, r)
	p.rateLimited++
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
