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
