package producer

import (
	"container/heap"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A Close that runs out of time names the stage of every unresolved
// record, so that a stuck shard or key can be told from a slow Kinesis.
func TestWhereUnresolvedRecordsAre(t *testing.T) {
	p := &Producer{keys: map[keyID]*keyState{}, shards: map[shardKey]*shardState{}, inFlight: 2}
	now := time.Now()
	st := &streamState{name: "s"}
	p.streamList = []*streamState{st}
	st.fresh.push(&record{st: st})
	st.prio.push(&record{st: st})
	p.holdLocked(st, &bucket{shard: "shardId-000000000001"}, &record{st: st})
	ks := &keyState{id: keyID{st, "k"}}
	ks.parked.push(&record{st: st})
	ks.parked.push(&record{st: st})
	p.keys[ks.id] = ks
	heap.Push(&p.waiting, &record{st: st, notBefore: now.Add(1500 * time.Millisecond)})
	p.shards[shardKey{st, "shardId-000000000003"}] = &shardState{delay: 800 * time.Millisecond}
	for i := range 5 {
		p.shards[shardKey{st, fmt.Sprintf("shardId-00000000010%d", i)}] = &shardState{delay: 100 * time.Millisecond}
	}

	got := p.whereLocked(now)
	for _, want := range []string{"1 queued", "1 due for retry", "1 held by the rate limit", "2 parked behind their key",
		"1 backing off (next attempt in 1.5s)", "2 request(s) in flight", "2 request(s) in flight; shardId-000000000003 throttling backoff 800ms; shardId-000000000100 throttling backoff 100ms;",
		"; 2 more shard(s) backing off"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not say %q", got, want)
		}
	}
}
