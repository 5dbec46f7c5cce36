package producer

import (
	"testing"
	"time"
)

// A stream paused after a whole-request failure whose only records are
// held by the rate limit must still wake the dispatcher when the pause
// ends: with nothing else queued and no further Put, nothing else would,
// and the held records would wait forever.
func TestWakeAfterPauseWithOnlyHeldRecords(t *testing.T) {
	p := &Producer{opts: Options{MaxInFlight: 4, MaxInFlightBytes: 1 << 20, Linger: time.Millisecond},
		lim: newLimiter(100, false)}
	now := time.Now()
	st := &streamState{name: "s", shardMap: &shardMap{}, pausedUntil: now.Add(3 * time.Second)}
	p.streamList = []*streamState{st}
	b := &bucket{shard: "shardId-000000000000", recs: p.lim.recRate, bytes: p.lim.byteRate, last: now}
	p.holdLocked(st, b, &record{st: st, size: 100})

	next := p.nextWakeLocked(now)
	if next.IsZero() {
		t.Fatal("no wake-up planned: the held record would wait for a Put that may never come")
	}
	if next.After(st.pausedUntil) {
		t.Fatalf("wake-up at %v, after the pause ends (%v)", next.Sub(now), st.pausedUntil.Sub(now))
	}
}

// While a shard's rate climbs back after a cut, the dispatcher wakes no
// later than when its first held record can go: the wait computed at the
// rate of the moment is the latest it can go, and at a stream's tail
// nothing else wakes the dispatcher. After a cut to the floor at
// RateLimit 0.3 (0.06 records/s) that wait is 16.7 s; climbing, the
// record can go in under 4 s.
func TestWakeWhileRateClimbs(t *testing.T) {
	p := &Producer{opts: Options{MaxInFlight: 4, MaxInFlightBytes: 1 << 20, Linger: time.Millisecond},
		lim: newLimiter(0.3, true)}
	now := time.Now()
	st := &streamState{name: "s", shardMap: &shardMap{}}
	p.streamList = []*streamState{st}
	b := p.lim.freshBucket("shardId-000000000000", now.Add(-time.Minute))
	b.last, b.released = now, now.Add(-time.Minute)
	b.floor, b.peak, b.floorAt = adaptMinScale, adaptMinScale/adaptMinCut, now
	b.recs, b.bytes = 0, 0
	p.holdLocked(st, b, &record{st: st, size: 100})

	// When the record can actually go, to the millisecond.
	can := now
	for {
		c := *b
		if p.lim.affords(&c, 1, 100, can) {
			break
		}
		can = can.Add(time.Millisecond)
	}
	next := p.nextWakeLocked(now)
	t.Logf("the record can go after %s; the dispatcher wakes after %s", can.Sub(now), next.Sub(now))
	// Within a millisecond of the first moment the bucket can pay.
	if c := *b; next.IsZero() || !p.lim.affords(&c, 1, 100, next) {
		t.Fatalf("at the wake-up (%s) the bucket cannot pay for the record, which can go after %s", next.Sub(now), can.Sub(now))
	}
	if c := *b; p.lim.affords(&c, 1, 100, next.Add(-time.Millisecond)) {
		t.Fatalf("the dispatcher wakes after %s; the record could go a millisecond earlier (from %s)", next.Sub(now), can.Sub(now))
	}
}
