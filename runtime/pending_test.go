package runtime

import (
	"testing"
	"time"
)

// Resolved records leave the pending queue at once (they used to stay until
// the next sweep, which kept a second's worth of messages alive), and
// expiry and shutdown see only the unresolved ones, in receive order.
func TestPendingQueueHoldsOnlyUnresolved(t *testing.T) {
	var p pendingQueue
	t0 := time.Now()
	recs := make([]*Record, 5)
	for i := range recs {
		recs[i] = &Record{received: t0.Add(time.Duration(i) * time.Second)}
		p.push(recs[i])
	}
	// Resolving removes, wherever the record sits.
	for _, i := range []int{0, 2, 4} {
		recs[i].resolved.Store(true)
		p.remove(recs[i])
	}
	p.remove(recs[2]) // twice is harmless
	p.remove(&Record{})
	if n := p.len(); n != 2 {
		t.Fatalf("len = %d, want 2", n)
	}
	if got := p.expired(t0.Add(2 * time.Second)); len(got) != 1 || got[0] != recs[1] {
		t.Fatalf("expired = %v, want [recs[1]]", got)
	}
	left := p.drain()
	if len(left) != 2 || left[0] != recs[1] || left[1] != recs[3] {
		t.Fatalf("drain = %v, want recs 1 and 3", left)
	}
	if p.len() != 0 || p.head != nil || p.tail != nil {
		t.Fatal("queue not empty after drain")
	}
	// A record pushed after a drain links cleanly.
	p.push(recs[3])
	p.remove(recs[3])
	if p.len() != 0 || p.head != nil {
		t.Fatal("queue not empty")
	}
}
