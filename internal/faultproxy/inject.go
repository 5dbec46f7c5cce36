package faultproxy

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

// Injector decides which of the Rules' faults each call meets, and counts
// them. Its decisions are kinesisfake.Faults, carried out either by the
// Proxy over HTTP in front of an emulator, or inside the in-process model
// (ModelFault as its fault hook), so that a fault test means the same on
// either Kinesis: the same draws per request and entry from one seeded
// generator, requests named by their number among the PutRecords calls
// that reached it, the same shard limit.
type Injector struct {
	mu       sync.Mutex
	rules    Rules
	rng      *rand.Rand
	counters Counters
	gate     chan struct{}                  // non-nil while held; closed by Release
	buckets  map[string]*kinesisfake.Bucket // Rules.ShardLimit's, by stream + "/" + shard
}

// NewInjector returns an injector with no rules whose random choices are
// drawn from a generator seeded with seed.
func NewInjector(seed uint64) *Injector {
	return &Injector{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), buckets: map[string]*kinesisfake.Bucket{}}
}

// SetRules replaces the rules; calls already past a decision keep it.
func (in *Injector) SetRules(r Rules) {
	in.mu.Lock()
	in.rules = r
	in.mu.Unlock()
}

// Rules returns the current rules.
func (in *Injector) Rules() Rules {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rules
}

// Counters returns a snapshot of the counters.
func (in *Injector) Counters() Counters {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.counters
	c.StreamARNRequests = maps.Clone(c.StreamARNRequests)
	return c
}

func (in *Injector) count(f func(*Counters)) {
	in.mu.Lock()
	f(&in.counters)
	in.mu.Unlock()
}

// Hold makes PutRecords calls wait (see Wait) until Release, so that tests
// can hold a producer's requests in flight deterministically.
func (in *Injector) Hold() {
	in.mu.Lock()
	if in.gate == nil {
		in.gate = make(chan struct{})
	}
	in.mu.Unlock()
}

// Release lets held calls, and later ones, through.
func (in *Injector) Release() {
	in.mu.Lock()
	if in.gate != nil {
		close(in.gate)
		in.gate = nil
	}
	in.mu.Unlock()
}

// Wait holds a PutRecords call while the injector is held, until Release
// or ctx ends (its error is returned).
func (in *Injector) Wait(ctx context.Context) error {
	in.mu.Lock()
	gate := in.gate
	if gate != nil {
		in.counters.Held++
	}
	in.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unreachable says whether the rules refuse every call at now.
func (in *Injector) unreachable(now time.Time) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return now.Before(in.rules.UnreachableUntil)
}

// admit decides what happens to a call of op at now before anything else:
// refused while unreachable, a ListShards denied by FailListShards. A
// PutRecords call it lets through gets its number (num).
func (in *Injector) admit(op string, now time.Time) (f kinesisfake.Fault, num int64, stop bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.counters.Requests++
	switch {
	case now.Before(in.rules.UnreachableUntil):
		in.counters.Refused++
		return kinesisfake.Fault{Unreachable: true}, 0, true
	case op == "ListShards" && in.rules.FailListShards:
		in.counters.ListShardsFailed++
		return kinesisfake.Fault{Error: &kinesisfake.APIError{Code: kinesisfake.CodeAccessDenied, Message: injectedMessage, Status: 400}}, 0, true
	case op == "PutRecords":
		in.counters.PutRecords++
		return kinesisfake.Fault{}, in.counters.PutRecords, false
	}
	return kinesisfake.Fault{}, 0, false
}

const injectedMessage = "Injected by faultproxy."

// putCall is a PutRecords call as the injector sees it. The entries' shards
// and sizes are asked for only where a rule needs them: the proxy finds a
// shard by listing the emulator's shards.
type putCall struct {
	num     int64
	stream  string // as the call named it
	entries int
	shard   func(i int) string // "" when unknown
	size    func(i int) int    // data + partition key bytes
	now     time.Time
}

// putFaults is the decision for a PutRecords call: a kinesisfake.Fault and,
// for each failed entry, the shard to name in its message.
type putFaults struct {
	kinesisfake.Fault
	shards []string // by entry index, where EntryErrors has a code
}

// decidePut draws a PutRecords call's faults. A request named by a
// scripted rule meets its named faults and none of those drawn for it; its
// draws are still made, so the other requests meet what the seed gives.
func (in *Injector) decidePut(c putCall) putFaults {
	in.mu.Lock()
	rl := in.rules
	reset := in.draw(rl.ResetFraction)
	httpErr := in.draw(rl.ErrorFraction)
	resetAfter := in.draw(rl.ResetAfterForwardFraction)
	delay := rl.Delay > 0 && in.draw(rl.DelayFraction)
	drop := make([]bool, c.entries)
	for i := range drop {
		drop[i] = in.draw(rl.DropFraction)
	}
	if rl.names(c.num) {
		reset = slices.Contains(rl.ResetRequests, c.num)
		httpErr = slices.Contains(rl.ErrorRequests, c.num)
		resetAfter = slices.Contains(rl.ResetAfterForwardRequests, c.num)
		delay = rl.Delay > 0 && slices.Contains(rl.DelayRequests, c.num)
		dropAll := slices.Contains(rl.DropRequests, c.num)
		for i := range drop {
			drop[i] = dropAll
		}
	}
	switch {
	case reset:
		in.counters.Resets++
	case httpErr:
		in.counters.HTTPErrors++
	}
	in.mu.Unlock()

	var d putFaults
	switch {
	case reset:
		d.Reset = true
		return d
	case httpErr:
		d.Error = requestError(rl.ErrorStatus, rl.ErrorCode)
		return d
	}

	outage := false
	for _, o := range rl.ShardOutages {
		outage = outage || (o.Stream == c.stream && c.now.Before(o.Until))
	}
	limit := rl.ShardLimit
	// A throttling message names the entry's shard, as Kinesis's does.
	dropNamesShard := rl.DropCode == "" || rl.DropCode == CodeThrottled
	var forwarded, dropped, down, over, under int64
	for i := range c.entries {
		if !drop[i] && !outage && limit == nil {
			forwarded++
			continue
		}
		shard := ""
		if outage || limit != nil || dropNamesShard {
			shard = c.shard(i)
		}
		code := ""
		for _, o := range rl.ShardOutages {
			if shard != "" && o.Stream == c.stream && o.ShardID == shard && c.now.Before(o.Until) {
				code = orThrottled(o.Code)
				down++
				break
			}
		}
		switch {
		case code != "":
		case drop[i]:
			code = orThrottled(rl.DropCode)
			dropped++
		case limit != nil && shard != "":
			in.mu.Lock()
			b := in.buckets[c.stream+"/"+shard]
			if b == nil {
				b = &kinesisfake.Bucket{}
				in.buckets[c.stream+"/"+shard] = b
			}
			ok := b.Take(*limit, c.now, c.size(i))
			in.mu.Unlock()
			if !ok {
				code = CodeThrottled
				over++
			} else {
				under++
			}
		}
		if code == "" {
			forwarded++
			continue
		}
		if d.EntryErrors == nil {
			d.EntryErrors = make([]string, c.entries)
			d.shards = make([]string, c.entries)
		}
		d.EntryErrors[i], d.shards[i] = code, shard
	}
	if delay {
		d.Delay = rl.Delay
	}
	d.ResetAfterWrite = resetAfter
	in.count(func(k *Counters) {
		k.EntriesForwarded += forwarded
		k.EntriesDropped += dropped
		k.EntriesShardDown += down
		k.EntriesOverLimit += over
		k.EntriesUnderLimit += under
		if delay {
			k.Delayed++
		}
		if resetAfter {
			k.ResetsAfterWrite++
		}
	})
	return d
}

func (in *Injector) draw(f float64) bool { return f > 0 && in.rng.Float64() < f }

// requestError is the whole-request error of ErrorFraction and
// ErrorRequests: HTTP status (default 500) with code, InternalFailure for
// a 500 without one; other statuses without a code have no body.
func requestError(status int, code string) *kinesisfake.APIError {
	if status == 0 {
		status = 500
	}
	if code == "" && status == 500 {
		code = CodeInternalFailure
	}
	return &kinesisfake.APIError{Code: code, Message: injectedMessage, Status: status}
}

func orThrottled(code string) string {
	if code == "" {
		return CodeThrottled
	}
	return code
}

// ModelFault is the injector as the in-process model's fault hook
// (kinesisfake.Model.SetFaults): every call it sees is a call through the
// proxy. The model carries the decision out as the proxy does over HTTP;
// an error status without a code reads as the SDK reads one with no body
// (UnknownError).
func (in *Injector) ModelFault(q *kinesisfake.Request) kinesisfake.Fault {
	f, num, stop := in.admit(q.Op, q.Now)
	if stop || q.Op != "PutRecords" {
		return f
	}
	d := in.decidePut(putCall{num: num, stream: q.Stream, entries: len(q.Entries), now: q.Now,
		shard: func(i int) string { return q.Entries[i].ShardID },
		size:  func(i int) int { return q.Entries[i].Size }})
	if d.Error != nil && d.Error.Code == "" {
		e := *d.Error
		e.Code = "UnknownError"
		d.Error = &e
	}
	return d.Fault
}
