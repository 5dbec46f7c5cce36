package producer

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The adaptive limit's arithmetic, on a clock the test holds: a throttled
// answer cuts the shard's rates to the share that got through, once per
// round trip, and spends its saved tokens; the rates climb back fast to
// just under where they were throttled, slowly across the band around it,
// fast beyond.
func TestAdaptiveRateLimitSteps(t *testing.T) {
	l := newLimiter(150, true)
	t0 := time.Unix(1_700_000_000, 0)
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s = %g, want %g", what, got, want)
		}
	}
	// busy records a second of sending at the limit: the limit binds.
	busy := func(b *bucket, now time.Time) { b.sentRecs, b.sentBytes, b.sentAt = 1500, 1.5*MiB, now }
	b := l.freshBucket("shardId-000000000000", t0)
	near("records a fresh bucket holds", b.recs, shardRecordsPerSecond)
	near("bytes a fresh bucket holds", b.bytes, shardBytesPerSecond)

	// Two thirds of a request at 150% got through: Kinesis granted 100%,
	// and the cut goes as deep as one response is trusted.
	busy(b, t0)
	l.throttled(b, 2.0/3, t0.Add(-50*time.Millisecond), t0)
	s0 := max(2.0/3, adaptMinCut)
	r, by := l.rates(b, t0)
	near("records/s after a throttled answer", r, 1500*s0)
	near("bytes/s after a throttled answer", by, 1.5*MiB*s0)
	if b.recs > 0 || b.bytes > 0 {
		t.Fatalf("tokens after a throttled answer: %g records, %g bytes; Kinesis said the shard had none", b.recs, b.bytes)
	}

	// A request cut before the cut was sent at the old rate: its answer
	// does not cut again.
	busy(b, t0)
	l.throttled(b, 0, t0.Add(-10*time.Millisecond), t0.Add(20*time.Millisecond))
	r, _ = l.rates(b, t0.Add(20*time.Millisecond))
	near("records/s after a late answer to an earlier request", r, 1500*(s0+adaptFast*0.02))

	// A request cut after the cut, still throttled, most of it through:
	// the shallowest cut.
	t1 := t0.Add(100 * time.Millisecond)
	s1 := s0 + adaptFast*0.1
	busy(b, t0)
	l.throttled(b, 0.99, t0.Add(50*time.Millisecond), t1)
	r, _ = l.rates(b, t1)
	near("records/s after a mostly accepted answer", r, 1500*s1*adaptMaxCut)

	// The climb: fast to (1-band) of s1, slow to (1+band) of s1, fast on.
	floor := s1 * adaptMaxCut
	lo, hi := s1*(1-adaptBand), s1*(1+adaptBand)
	dFast := (lo - floor) / adaptFast
	dSlow := (hi - lo) / adaptSlow
	at := func(sec float64) float64 {
		r, _ := l.rates(b, t1.Add(time.Duration(sec*float64(time.Second))))
		return r / 1500
	}
	near("scale halfway up the fast climb", at(dFast/2), floor+adaptFast*dFast/2)
	near("scale halfway across the slow band", at(dFast+dSlow/2), lo+adaptSlow*dSlow/2)
	near("scale 2 s past the band", at(dFast+dSlow+2), hi+2*adaptFast)
	if got := at(dFast + dSlow + 60); got != 1 {
		t.Fatalf("scale a minute past the band = %g, want 1 (RateLimit again)", got)
	}
	if b.floor != 0 {
		t.Fatalf("a bucket back at RateLimit still climbs from %g", b.floor)
	}

	// A response with nothing through: the deepest cut, never below the
	// floor however often.
	b2 := l.freshBucket("shardId-000000000001", t0)
	busy(b2, t0)
	l.throttled(b2, 0, t0, t0)
	r, _ = l.rates(b2, t0)
	near("records/s after an answer with nothing through", r, 1500*adaptMinCut)
	for i := range 400 {
		now := t0.Add(time.Duration(i+1) * time.Millisecond)
		busy(b2, t0)
		l.throttled(b2, 0, now, now)
	}
	r, _ = l.rates(b2, t0.Add(401*time.Millisecond))
	if r < 1500*adaptMinScale-1e-9 {
		t.Fatalf("records/s after 400 cuts = %g, below the floor %g", r, 1500*adaptMinScale)
	}

	// Refilled at the cut rate.
	b3 := l.freshBucket("shardId-000000000002", t0)
	busy(b3, t0)
	l.throttled(b3, 0.8, t0, t0)
	l.refill(b3, t0.Add(100*time.Millisecond))
	near("records refilled in 100 ms after a cut", b3.recs, 0.1*1500*(0.8+adaptFast*0.1))

	// A shard sent far less than its limit lately: the limit does not
	// bind, and throttling there (another writer, an injected fault) does
	// not cut it.
	b5 := l.freshBucket("shardId-000000000004", t0)
	b5.sentRecs, b5.sentBytes, b5.sentAt = 200, 200*100, t0
	l.throttled(b5, 0, t0, t0.Add(10*time.Millisecond))
	r, _ = l.rates(b5, t0.Add(10*time.Millisecond))
	near("records/s after throttling of a shard sent 200 records/s", r, 1500)

	// Without AdaptiveRateLimit a throttled answer changes nothing, and a
	// fresh bucket holds a second of RateLimit, as in the KPL.
	fixed := newLimiter(150, false)
	b4 := fixed.freshBucket("shardId-000000000003", t0)
	near("records a fresh fixed bucket holds", b4.recs, 1500)
	fixed.throttled(b4, 0, t0, t0)
	r, _ = fixed.rates(b4, t0.Add(time.Second))
	near("records/s of a fixed limit after a throttled answer", r, 1500)
	if b4.recs != 1500 {
		t.Fatalf("a fixed limit spent its tokens on a throttled answer: %g left", b4.recs)
	}
}

// simulateBacklog drives one shard's bucket with an endless backlog for
// dur of simulated time: every time the bucket can pay, a request takes
// what it affords (up to 500 records of 100 bytes) and is answered rtt
// later with each entry throttled with probability drop, at random. It
// returns the records sent.
func simulateBacklog(l limiter, drop float64, rtt, dur time.Duration, seed uint64) int {
	rng := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Unix(1_700_000_000, 0)
	now := t0
	b := l.freshBucket("shardId-000000000000", now)
	b.held.push(&record{size: 100})
	type answer struct {
		cutAt, at time.Time
		n         int
	}
	var answers []answer
	sent := 0
	for now.Before(t0.Add(dur)) {
		next := l.readyAt(b, now)
		for len(answers) > 0 && !answers[0].at.After(next) {
			a := answers[0]
			answers = answers[1:]
			throttled := 0
			for range a.n {
				if rng.Float64() < drop {
					throttled++
				}
			}
			if throttled > 0 {
				l.throttled(b, float64(a.n-throttled)/float64(a.n), a.cutAt, a.at)
			}
			next = l.readyAt(b, a.at)
		}
		now = next
		n := 0
		for n < 500 && l.affords(b, 1, 100, now) {
			b.recs--
			b.bytes -= 100
			b.decaySent(now)
			b.sentRecs++
			b.sentBytes += 100
			n++
		}
		if n > 0 {
			b.released = now
			sent += n
			answers = append(answers, answer{now, now.Add(rtt), n})
		}
	}
	return sent
}

// Throttling that has nothing to do with the producer's own rate (another
// writer, an injected fault) does not pin a low limit at the floor: a
// producer sending a small share of what a shard takes is not what fills
// it. At RateLimit 0.3 the limit is reached by a few records a second,
// so with a backlog it always binds; 30% of entries throttled at random
// used to cut it to 0.06 records/s.
func TestAdaptiveRateLimitLowRateNotPinned(t *testing.T) {
	l := newLimiter(0.3, true)
	t0 := time.Unix(1_700_000_000, 0)
	b := l.freshBucket("shardId-000000000000", t0)
	// A second at the limit: 3 records, 300 bytes.
	b.sentRecs, b.sentBytes, b.sentAt = l.recRate, 100*l.recRate, t0
	l.throttled(b, 0, t0, t0.Add(50*time.Millisecond))
	if r, _ := l.rates(b, t0.Add(50*time.Millisecond)); r != l.recRate {
		t.Fatalf("records/s after throttling of a shard sent 0.3%% of its limit: %g, want %g", r, l.recRate)
	}

	const minutes = 10
	for _, rate := range []float64{0.3, 1} {
		l := newLimiter(rate, true)
		got := float64(simulateBacklog(l, 0.3, 50*time.Millisecond, minutes*time.Minute, 1)) / (minutes * 60)
		t.Logf("RateLimit %g, 30%% throttled at random: %.3f records/s sent, the limit is %g", rate, got, l.recRate)
		if got < 0.95*l.recRate {
			t.Errorf("RateLimit %g, 30%% throttled at random: %.3f records/s sent, want about the limit's %g", rate, got, l.recRate)
		}
	}
	// Where the producer's share of the shard is large enough to matter,
	// random throttling still cuts (the limit cannot tell it from the
	// shard's), but not below adaptMinShare of the shard.
	l = newLimiter(20, true)
	got := float64(simulateBacklog(l, 0.3, 50*time.Millisecond, minutes*time.Minute, 1)) / (minutes * 60)
	t.Logf("RateLimit 20, 30%% throttled at random: %.3f records/s sent", got)
	if got >= 0.5*l.recRate || got < 0.9*adaptMinShare*shardRecordsPerSecond {
		t.Errorf("RateLimit 20, 30%% throttled at random: %.3f records/s sent; want cut, to no less than about %g", got, adaptMinShare*shardRecordsPerSecond)
	}
}
