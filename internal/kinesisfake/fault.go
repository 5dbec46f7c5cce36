package kinesisfake

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

// Request is what a fault hook sees of a call, before the model acts on it.
type Request struct {
	// Op is the operation: "PutRecords", "ListShards", ...
	Op string
	// N numbers the calls of Op, 1 for the first, retries included.
	N int64
	// Stream is the stream as the call named it (name or ARN), "" for a
	// call that names none (GetRecords, a ListShards page after the first).
	Stream string
	// Entries are a PutRecords call's entries, by index.
	Entries []EntryInfo
	// Now is the model's clock at the call.
	Now time.Time
}

// EntryInfo is one entry of a PutRecords call.
type EntryInfo struct {
	PartitionKey    string
	ExplicitHashKey string
	// Size is data + partition key bytes: what the shard limit counts.
	Size int
	// ShardID is the open shard the entry routes to at the call, "" when
	// the stream does not exist or the entry is invalid.
	ShardID string
}

// Fault is what a hook makes of a call. The zero value lets it through.
// Faults act in the order of the fields: a call refused before it is
// processed writes nothing, one failed after the write has stored its
// entries (and the caller cannot know).
type Fault struct {
	// Unreachable refuses the connection: nothing is written.
	Unreachable bool
	// Reset resets the connection before the request is processed.
	Reset bool
	// Timeout: the request is not processed and never answered; the call
	// returns when its context ends (the client's timeout), so a context
	// without a deadline waits for ever (and synctest reports a deadlock).
	Timeout bool
	// Error answers the call with this whole-request error; nothing is
	// written.
	Error *APIError
	// EntryErrors fails PutRecords entries by index with a per-entry error
	// code ("" for none), CodeThrottled or CodeInternalFailure as Kinesis
	// does; those entries are not written, the others are.
	EntryErrors []string
	// Delay holds the answer back after the write; a context that ends
	// first gets its error, the entries stored all the same.
	Delay time.Duration
	// TimeoutAfterWrite: the entries are written and the answer never
	// comes; the call returns when its context ends.
	TimeoutAfterWrite bool
	// ResetAfterWrite: the entries are written and the connection reset:
	// the caller cannot know they were stored, and a retry duplicates them.
	ResetAfterWrite bool
}

// FaultFunc decides the fault for each call. It runs on the caller's
// goroutine without the model's locks held, so it may call the model (for
// example to split a shard at the Nth request), and it must be safe for
// concurrent use.
type FaultFunc func(*Request) Fault

// Rules are scripted faults, the common cases of a FaultFunc: fractions
// drawn from a generator seeded with Seed, so that one sequence of
// requests meets the same faults, and faults on PutRecords requests named
// by number. A named request meets its named faults and none of those
// drawn for it (a drawn reset before the write would pre-empt a named
// reset after it); its draws are still made, so that the other requests
// meet what the seed gives them whatever is named. A test that asserts on
// a fault names the request, so that it happens on every run.
type Rules struct {
	Seed uint64

	// ThrottleFraction and InternalFailureFraction of PutRecords entries
	// fail with that per-entry code.
	ThrottleFraction        float64
	InternalFailureFraction float64

	// Fractions of PutRecords requests that meet each fault.
	ErrorFraction             float64
	ResetFraction             float64
	ResetAfterWriteFraction   float64
	TimeoutFraction           float64
	TimeoutAfterWriteFraction float64
	DelayFraction             float64

	// Error is the whole-request error of ErrorFraction and ErrorRequests;
	// nil means InternalFailureException (HTTP 500).
	Error *APIError
	// Delay is the delay of DelayFraction and DelayRequests.
	Delay time.Duration

	// PutRecords requests named by number (Request.N).
	ErrorRequests             []int64
	ResetRequests             []int64
	ResetAfterWriteRequests   []int64
	TimeoutRequests           []int64
	TimeoutAfterWriteRequests []int64
	DelayRequests             []int64
	// ThrottleRequests have every entry throttled.
	ThrottleRequests []int64

	// ShardOutages fail every entry routed to a shard until a time.
	ShardOutages []ShardOutage

	// UnreachableUntil refuses every call, of any operation, until then
	// (the model's clock).
	UnreachableUntil time.Time

	// ListShardsError answers every ListShards call, e.g. AccessDenied for
	// a role without kinesis:ListShards.
	ListShardsError *APIError
}

// ShardOutage fails the entries of one shard until Until.
type ShardOutage struct {
	Stream  string // by name or ARN, whichever requests use; "" for any
	ShardID string
	Until   time.Time
	// Code is the per-entry code; "" means CodeThrottled.
	Code string
}

// Func makes the rules a FaultFunc, with its own generator.
func (r Rules) Func() FaultFunc {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(r.Seed, r.Seed^0x9e3779b97f4a7c15))
	draw := func(p float64) bool { return p > 0 && rng.Float64() < p }
	named := func(list []int64, n int64) bool { return slices.Contains(list, n) }
	reqErr := r.Error
	if reqErr == nil {
		reqErr = &APIError{Code: CodeInternalFailureReq, Message: "Internal service failure."}
	}
	return func(q *Request) Fault {
		var f Fault
		if q.Now.Before(r.UnreachableUntil) {
			f.Unreachable = true
			return f
		}
		if q.Op == "ListShards" && r.ListShardsError != nil {
			f.Error = r.ListShardsError
			return f
		}
		if q.Op != "PutRecords" {
			return f
		}
		mu.Lock()
		drawn := Fault{
			Error:             pick(draw(r.ErrorFraction), reqErr),
			Reset:             draw(r.ResetFraction),
			ResetAfterWrite:   draw(r.ResetAfterWriteFraction),
			Timeout:           draw(r.TimeoutFraction),
			TimeoutAfterWrite: draw(r.TimeoutAfterWriteFraction),
		}
		if draw(r.DelayFraction) {
			drawn.Delay = r.Delay
		}
		entryDraws := make([]string, len(q.Entries))
		for i := range q.Entries {
			switch {
			case draw(r.ThrottleFraction):
				entryDraws[i] = CodeThrottled
			case draw(r.InternalFailureFraction):
				entryDraws[i] = CodeInternalFailure
			}
		}
		mu.Unlock()

		n := q.N
		isNamed := false
		for _, l := range [][]int64{r.ErrorRequests, r.ResetRequests, r.ResetAfterWriteRequests, r.TimeoutRequests,
			r.TimeoutAfterWriteRequests, r.DelayRequests, r.ThrottleRequests} {
			isNamed = isNamed || named(l, n)
		}
		if isNamed {
			f = Fault{
				Error:             pick(named(r.ErrorRequests, n), reqErr),
				Reset:             named(r.ResetRequests, n),
				ResetAfterWrite:   named(r.ResetAfterWriteRequests, n),
				Timeout:           named(r.TimeoutRequests, n),
				TimeoutAfterWrite: named(r.TimeoutAfterWriteRequests, n),
			}
			if named(r.DelayRequests, n) {
				f.Delay = r.Delay
			}
			if named(r.ThrottleRequests, n) {
				f.EntryErrors = slices.Repeat([]string{CodeThrottled}, len(q.Entries))
			}
		} else {
			f = drawn
			f.EntryErrors = entryDraws
		}
		for _, o := range r.ShardOutages {
			if !q.Now.Before(o.Until) || (o.Stream != "" && kinesisrules.StreamName(o.Stream) != kinesisrules.StreamName(q.Stream)) {
				continue
			}
			code := o.Code
			if code == "" {
				code = CodeThrottled
			}
			for i, e := range q.Entries {
				if e.ShardID == o.ShardID {
					if f.EntryErrors == nil {
						f.EntryErrors = make([]string, len(q.Entries))
					}
					f.EntryErrors[i] = code
				}
			}
		}
		return f
	}
}

func pick(ok bool, e *APIError) *APIError {
	if ok {
		return e
	}
	return nil
}
