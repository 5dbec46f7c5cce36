package producer

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffNominal(t *testing.T) {
	b := backoff{initial: 100 * time.Millisecond, max: 60 * time.Second}
	for _, c := range []struct {
		failures int
		floor    time.Duration
		want     time.Duration
	}{
		{0, 0, 100 * time.Millisecond}, // a record's first retry: no attempt counted yet
		{1, 0, 100 * time.Millisecond},
		{2, 0, 200 * time.Millisecond},
		{3, 0, 400 * time.Millisecond},
		{10, 0, 51200 * time.Millisecond},
		{11, 0, 60 * time.Second}, // capped
		{1000, 0, 60 * time.Second},
		{1, 3 * time.Second, 3 * time.Second},     // a throttled shard's floor
		{5, time.Second, 1600 * time.Millisecond}, // the floor below the exponential
		{1, 90 * time.Second, 60 * time.Second},   // the floor capped too
	} {
		if got := b.nominal(c.failures, c.floor); got != c.want {
			t.Errorf("nominal(%d, %s) = %s, want %s", c.failures, c.floor, got, c.want)
		}
	}
}

// The jitter takes at most half off, and an injected source fixes it:
// two backoffs with sources seeded alike give the same delays.
func TestBackoffJitter(t *testing.T) {
	mk := func() backoff {
		return backoff{initial: 100 * time.Millisecond, max: 10 * time.Second, rnd: rand.New(rand.NewPCG(7, 7))}
	}
	a, b := mk(), mk()
	lowest, highest := time.Duration(1<<62), time.Duration(0)
	for i := range 2000 {
		f := 1 + i%12
		n := a.nominal(f, 0)
		d := a.delay(f, 0)
		if d < n/2 || d > n {
			t.Fatalf("delay(%d) = %s, outside [%s, %s]", f, d, n/2, n)
		}
		if e := b.delay(f, 0); e != d {
			t.Fatalf("draw %d: %s and %s from sources seeded alike", i, d, e)
		}
		if f == 12 {
			lowest, highest = min(lowest, d), max(highest, d)
		}
	}
	// At the cap (10 s), 166 draws spread over [5 s, 10 s].
	if lowest > 6*time.Second || highest < 9*time.Second {
		t.Errorf("delays at the cap spread over [%s, %s] only", lowest, highest)
	}
	// The global source when none is injected.
	g := backoff{initial: time.Second, max: time.Second}
	if d := g.delay(1, 0); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("global source: delay %s outside [500ms, 1s]", d)
	}
}

// The three users of the rule: a record's next attempt, a stream's pause
// and a shard map reload follow it, with the injected source.
func TestBackoffUsers(t *testing.T) {
	opts := Options{RetryInitialDelay: 100 * time.Millisecond, RetryMaxDelay: 60 * time.Second}
	mk := func() *Producer {
		o := opts
		o.Rand = rand.New(rand.NewPCG(1, 2))
		return &Producer{opts: o, shards: map[shardKey]*shardState{}}
	}
	ref := backoff{initial: opts.RetryInitialDelay, max: opts.RetryMaxDelay, rnd: rand.New(rand.NewPCG(1, 2))}
	now := time.Unix(1000, 0)

	p := mk()
	st := &streamState{name: "s"}
	r := &record{st: st, attempts: 4}
	if got, want := p.backoffLocked(r), ref.delay(4, 0); got != want {
		t.Errorf("record after 4 attempts: %s, want %s", got, want)
	}
	r.shard = "shardId-000000000001"
	p.shards[shardKey{st, r.shard}] = &shardState{delay: 20 * time.Second}
	if got, want := p.backoffLocked(r), ref.delay(4, 20*time.Second); got != want || got < 10*time.Second {
		t.Errorf("record on a shard backing off 20s: %s, want %s", got, want)
	}

	for i := 1; i <= 3; i++ {
		st.requestEnded(false, true, now, p.backoff())
		if got, want := st.pausedUntil.Sub(now), ref.delay(i, 0); got != want {
			t.Errorf("pause after %d whole-request failures: %s, want %s", i, got, want)
		}
		now = st.pausedUntil
	}
	st.requestEnded(true, false, now, p.backoff())
	if !st.pausedUntil.IsZero() || st.failures != 0 {
		t.Errorf("an answer left the stream paused until %v after %d failures", st.pausedUntil, st.failures)
	}

	for i := 1; i <= 8; i++ {
		p.mapLoadedLocked(st, nil, errTest, now)
		want := max(minReload, ref.delay(i, 0))
		if got := st.mapNextLoad.Sub(now); got != want {
			t.Errorf("map load after %d failures: next in %s, want %s", i, got, want)
		}
	}
	if st.mapFailures != 8 || st.mapReason != "retry" {
		t.Errorf("after 8 failed loads: %d failures, reason %q", st.mapFailures, st.mapReason)
	}
}

var errTest = errors.New("test error")
