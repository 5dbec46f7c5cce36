package producer

import (
	"testing"
	"time"
)

// The per-shard throttling backoff takes one decision per shard and
// response: a shard that throttles everything doubles, a shard that accepts
// part of a request (at its limit) holds, a shard that accepts everything
// halves and is forgotten at the initial delay.
func TestShardBackoffOneDecisionPerResponse(t *testing.T) {
	p := &Producer{opts: Options{RetryInitialDelay: 100 * time.Millisecond, RetryMaxDelay: 60 * time.Second},
		shards: map[shardKey]*shardState{}}
	st := &streamState{name: "s"}
	throttled := func(shard string) *record { return &record{fate: fateRetry, code: throttleCode, shard: shard} }
	ok := func(shard string) *record { return &record{fate: fateAccepted, shard: shard} }
	delay := func(shard string) time.Duration {
		if s := p.shards[shardKey{st, shard}]; s != nil {
			return s.delay
		}
		return 0
	}
	now := time.Now()
	step := func(recs ...*record) {
		now = now.Add(time.Hour) // past any window: every response may decide
		p.updateShardsLocked(&batch{st: st, recs: recs}, now)
	}

	// Steady partial throttling, the throttled entry first in every
	// response: the delay holds at the initial value.
	step(throttled("a"), ok("a"), ok("a"))
	for range 20 {
		step(throttled("a"), ok("a"), ok("a"))
	}
	if d := delay("a"); d != 100*time.Millisecond {
		t.Fatalf("after 20 mixed responses the delay is %v, want it held at 100ms", d)
	}
	// Only throttled entries: doubling, capped.
	step(throttled("a"))
	step(throttled("a"), throttled("a"))
	if d := delay("a"); d != 400*time.Millisecond {
		t.Fatalf("after two all-throttled responses: %v, want 400ms", d)
	}
	for range 20 {
		step(throttled("a"))
	}
	if d := delay("a"); d != 60*time.Second {
		t.Fatalf("capped delay %v, want 60s", d)
	}
	// Shards are judged apart: b's successes do not relieve a.
	step(throttled("a"), ok("b"), ok("b"))
	if d := delay("a"); d != 60*time.Second {
		t.Fatalf("a: %v after b's successes", d)
	}
	// Only accepted entries: halving down to forgotten.
	for range 10 {
		step(ok("a"))
	}
	if _, still := p.shards[shardKey{st, "a"}]; still {
		t.Fatalf("shard a still backing off (%v) after 10 clean responses", delay("a"))
	}
	// Within a window a shard changes at most once.
	step(throttled("c"))
	p.updateShardsLocked(&batch{st: st, recs: []*record{throttled("c")}}, now.Add(time.Millisecond))
	if d := delay("c"); d != 100*time.Millisecond {
		t.Fatalf("c doubled within its window: %v", d)
	}
}
