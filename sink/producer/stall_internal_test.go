package producer

import (
	"log/slog"
	"testing"
	"time"
)

// A callback that blocks must not hold back the rest of its batch: the
// throttled entries of the same response are scheduled for their retry,
// and the request's slot freed, before any callback runs. Otherwise the
// retries wait in the sender for as long as the callback blocks while
// other keys keep flowing, which is the pattern of the stalled key in
// docs/reliability.md.
func TestRetriesQueuedBeforeCallbacks(t *testing.T) {
	p := &Producer{
		opts: Options{RetryInitialDelay: time.Millisecond, RetryMaxDelay: time.Second, MaxInFlight: 2, MaxInFlightBytes: 1 << 20,
			Logger: slog.New(slog.DiscardHandler)},
		wakeCh: make(chan struct{}, 1),
		keys:   map[keyID]*keyState{},
		shards: map[shardKey]*shardState{},
	}
	st := &streamState{name: "s"}
	p.streamList = []*streamState{st}

	inCallback, release := make(chan struct{}), make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	ok := &record{st: st, size: 10, fate: fateAccepted, attempts: 1,
		e: Entry{Stream: "s", PartitionKey: "a", Callback: func(Result) { close(inCallback); <-release }}}
	throttled := &record{st: st, size: 10, fate: fateRetry, attempts: 1, code: throttleCode, shard: "shardId-000000000003",
		e: Entry{Stream: "s", PartitionKey: "b", Callback: func(r Result) { t.Errorf("throttled record resolved: %+v", r) }}}
	p.bufRecords, p.bufBytes = 2, 20
	p.inFlight, p.inFlightBytes = 1, 20

	completed := make(chan struct{})
	go func() {
		defer close(completed)
		p.complete(&batch{st: st, recs: []*record{throttled, ok}, bytes: 20, answered: true}, p.newCallbackWatch("sender"))
	}()
	<-inCallback

	p.mu.Lock()
	waiting, inFlight := len(p.waiting), p.inFlight
	var first *record
	if waiting > 0 {
		first = p.waiting[0]
	}
	_, backoff := p.shards[shardKey{st, "shardId-000000000003"}]
	p.mu.Unlock()
	if waiting != 1 || first != throttled {
		t.Errorf("while a callback of the batch blocks, %d record(s) wait for a retry; want the throttled one", waiting)
	}
	if inFlight != 0 {
		t.Errorf("while a callback of the batch blocks, %d request(s) count as in flight; want 0", inFlight)
	}
	if !backoff {
		t.Error("while a callback of the batch blocks, the throttled shard has no backoff yet")
	}
	select {
	case <-p.wakeCh:
	default:
		t.Error("the dispatcher was not woken before the callbacks ran")
	}

	close(release)
	<-completed
	p.mu.Lock()
	defer p.mu.Unlock()
	// The accepted record keeps its buffer space until its callback has
	// returned; then it is released.
	if p.bufRecords != 1 || p.delivered != 1 {
		t.Errorf("after the callback: %d buffered, %d delivered; want 1 and 1", p.bufRecords, p.delivered)
	}
}
