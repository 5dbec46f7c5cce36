package producer

// Completion: applying a request's verdicts (fate.go) to its records,
// then resolving them (deliver), scheduling retries with backoff, pausing
// a stream after whole-request failures, and updating shard backoffs.

import (
	"container/heap"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

func (p *Producer) expire(r *record) {
	r.fate = fateFail
	r.final = &Error{Kind: KindTTLExpired, Stream: r.st.name, Code: r.code, Message: r.msg, Attempts: r.attempts, Err: r.err}
	if r.attempts == 0 {
		r.final.Message = "never sent: no sender was free before the deadline"
	}
}

// finish resolves records that failed or succeeded for good: callbacks
// first, outside the lock, then their buffer space and keys are released.
// Releasing after the callback keeps a key's callbacks in Put order. w
// times the callbacks of the goroutine that runs them.
func (p *Producer) finish(w *callbackWatch, recs []*record) {
	if len(recs) == 0 {
		return
	}
	w.begin(recs[0].st.name)
	deliver(recs)
	p.mu.Lock()
	for _, r := range recs {
		p.releaseLocked(r)
	}
	p.mu.Unlock()
	p.wake()
	w.end()
}

func deliver(recs []*record) {
	now := time.Now()
	for _, r := range recs {
		res := Result{
			Tag:            r.e.Tag,
			Stream:         r.e.Stream,
			PartitionKey:   r.e.PartitionKey,
			ShardID:        r.shard,
			SequenceNumber: r.seqNo,
			DataBytes:      len(r.e.Data),
			Attempts:       r.attempts,
			Latency:        now.Sub(r.putAt),

			KinesisRecordUserRecords: r.krUsers,
			KinesisRecordBytes:       r.krBytes,
			FirstInKinesisRecord:     r.krFirst,
		}
		if r.final != nil {
			res.Err = r.final
			res.ShardID, res.SequenceNumber = "", ""
			res.KinesisRecordUserRecords, res.KinesisRecordBytes, res.FirstInKinesisRecord = 0, 0, false
		}
		r.e.Callback(res)
	}
}

func deliverNow(e *Entry, err *Error) {
	e.Callback(Result{Tag: e.Tag, Stream: e.Stream, PartitionKey: e.PartitionKey, DataBytes: len(e.Data), Err: err})
}

func (p *Producer) releaseLocked(r *record) {
	p.bufRecords--
	p.bufBytes -= int64(r.size)
	if r.final == nil {
		p.delivered++
	} else {
		p.failed++
	}
	for i := 0; i < len(p.flushers); {
		w := p.flushers[i]
		if r.seq <= w.target {
			w.remaining--
			if w.remaining == 0 {
				close(w.done)
				p.flushers = append(p.flushers[:i], p.flushers[i+1:]...)
				continue
			}
		}
		i++
	}
	if r.key != nil {
		if next := p.keys.resolved(r); next != nil {
			// The successor has waited since its Put, so it goes ahead of
			// fresh records, lingering only what is left of its Linger.
			next.readyAt = next.putAt
			next.st.prio.push(next)
		}
	}
	if p.spaceCh != nil {
		close(p.spaceCh)
		p.spaceCh = nil
	}
	// Drop the payload now: the record may stay referenced by a batch slice
	// until the sender is done with it.
	r.e.Data = nil
}

// apply carries out the verdict on entry e of batch b. err is the call's
// error, for a whole-request verdict.
func (p *Producer) apply(b *batch, e *kEntry, v verdict, err error) {
	st := b.st
	switch v.fate {
	case fateAccepted:
		for j, r := range e.recs {
			r.fate = fateAccepted
			r.shard, r.seqNo = v.shard, v.seq
			r.krUsers, r.krBytes, r.krFirst = len(e.recs), e.size-len(e.pk), j == 0
		}
		if e.agg {
			p.aggRecs.Add(1)
		}
	case fateRetry:
		p.retryEntry(st, e, v.code, v.msg, err)
	case fateRetryAlone:
		p.retryAlone(st, e, v.code, v.msg, err)
	case fateFail:
		if v.kind == KindFatal {
			// The stream may have been deleted and re-created with other
			// shards (see complete).
			b.fatal = true
		}
		p.failEntry(st, e, v.kind, v.code, v.msg, err)
	case fateClosed:
		// Hard-stopped: each record keeps its last error, if any.
		for _, r := range e.recs {
			p.failNow(r, KindClosed, r.code, r.msg, err)
		}
	}
}

// failEntry fails every user record of an entry for good.
func (p *Producer) failEntry(st *streamState, e *kEntry, kind Kind, code, msg string, err error) {
	for _, r := range e.recs {
		p.failNow(r, kind, code, msg, err)
	}
	p.entryError(st, "", code, false)
}

func (p *Producer) failNow(r *record, kind Kind, code, msg string, err error) {
	r.fate = fateFail
	r.code, r.msg, r.err = code, errtext.Truncate(msg, maxMessage), err
	r.final = &Error{Kind: kind, Stream: r.st.name, Code: code, Message: r.msg, Attempts: r.attempts, Err: err}
}

// retryEntry schedules every user record of an entry for a retry; records
// of an aggregate are retried individually and aggregated again at the
// next cut.
func (p *Producer) retryEntry(st *streamState, e *kEntry, code, msg string, err error) {
	shard := ""
	if code == throttleCode {
		shard = shardFromMessage(msg)
	}
	msg = errtext.Truncate(msg, maxMessage)
	for _, r := range e.recs {
		r.fate = fateRetry
		r.code, r.msg, r.err = code, msg, err
		r.shard = shard
	}
	p.entryError(st, shard, code, true)
}

// retryAlone handles an aggregate Kinesis rejected as invalid or too
// large, which exact size accounting should make impossible (a stream
// limit below what the producer assumes): its records are retried each
// as a plain record, so that only a record bad on its own fails.
func (p *Producer) retryAlone(st *streamState, e *kEntry, code, msg string, err error) {
	for _, r := range e.recs {
		r.noAgg = true
	}
	p.retryEntry(st, e, code, msg, err)
}

func (p *Producer) entryError(st *streamState, shard, code string, retried bool) {
	p.entryErr.Add(1)
	if h := p.opts.Hooks.OnEntryError; h != nil {
		h(EntryErrorInfo{Stream: st.name, ShardID: shard, Code: code, Retried: retried})
	}
}

// complete resolves a sent batch. Under the lock first, everything the
// answer decides: the request's slot is freed, shard backoffs and the
// stream's pause are updated, and the records to retry are scheduled (or
// expired when the retry would start after their TTL). Then the callbacks
// of the records that are done run, outside the lock. A callback may block
// (the sink's ack waits on the Pulsar client); had the retries been
// scheduled after the callbacks, a blocked callback would keep the
// batch's throttled records from ever being tried again while other keys
// went on.
func (p *Producer) complete(b *batch, w *callbackWatch) {
	recs := b.recs
	// Done records first; the order within a batch carries no meaning
	// (a batch holds at most one record per key under RetainOrdering).
	k := 0
	for i, r := range recs {
		if r.fate != fateRetry {
			recs[i], recs[k] = recs[k], recs[i]
			k++
		}
	}
	p.mu.Lock()
	// Read under the lock: read before it, now could be earlier than what
	// a completion that took the lock first recorded (a shard backoff's
	// last change, a stream's pause).
	now := time.Now()
	p.inFlight--
	p.inFlightBytes -= b.bytes
	p.updateShardsLocked(b, now)
	b.st.requestEnded(b.answered, b.failedWhole, now, p.backoff())
	if b.mismatch {
		p.invalidateShardMapLocked(b.st, b.shardMap, "mismatch", now)
	} else if b.fatal {
		// The stream may have been deleted and re-created with other shards.
		p.invalidateShardMapLocked(b.st, b.shardMap, "error", now)
	}
	// Expired records join the done ones at the front of recs, to be
	// resolved with them.
	for i := k; i < len(recs); i++ {
		r := recs[i]
		next := now.Add(p.backoffLocked(r))
		if next.Before(b.st.pausedUntil) {
			next = b.st.pausedUntil
		}
		if !r.deadline.IsZero() && !next.Before(r.deadline) {
			p.expire(r)
			recs[i], recs[k] = recs[k], recs[i]
			k++
			continue
		}
		r.notBefore = next
		heap.Push(&p.waiting, r)
	}
	p.mu.Unlock()
	p.wake()
	p.finish(w, recs[:k])
}

// backoffLocked is the delay before r's next attempt: the backoff of its
// attempts so far, at least its shard's throttling backoff.
func (p *Producer) backoffLocked(r *record) time.Duration {
	var floor time.Duration
	if r.shard != "" {
		if s := p.shards[shardKey{r.st, r.shard}]; s != nil {
			floor = s.delay
		}
	}
	return p.backoff().delay(r.attempts, floor)
}

// updateShardsLocked feeds a batch's outcomes into the per-shard throttling
// backoffs, one decision per shard and response (at most once per current
// delay):
//   - only throttled entries: the shard is over its limit; double the delay;
//   - throttled and accepted entries: the shard is at its limit; keep it;
//   - only accepted entries: halve it, and forget a shard back at the
//     initial delay.
//
// Judging entry by entry instead let the first entry of a mixed response
// decide: under steady partial throttling the delay climbed to
// RetryMaxDelay although most records were going through.
func (p *Producer) updateShardsLocked(b *batch, now time.Time) {
	st, recs := b.st, b.recs
	type tally struct {
		shard         string
		throttled, ok int // records
	}
	// A request spans few shards: a small array and a linear search beat a
	// map allocated per response.
	var buf [8]tally
	seen := buf[:0]
	note := func(shard string, throttled bool) {
		i := 0
		for i < len(seen) && seen[i].shard != shard {
			i++
		}
		if i == len(seen) {
			seen = append(seen, tally{shard: shard})
		}
		if throttled {
			seen[i].throttled++
		} else {
			seen[i].ok++
		}
	}
	for _, r := range recs {
		switch {
		case r.fate == fateRetry && r.code == throttleCode && r.shard != "":
			note(r.shard, true)
		case r.fate == fateAccepted && (len(p.shards) > 0 || p.lim.adaptive):
			note(r.shard, false)
		}
	}
	for _, t := range seen {
		if t.throttled > 0 {
			if bk := st.byShard[t.shard]; bk != nil {
				p.lim.throttled(bk, float64(t.ok)/float64(t.ok+t.throttled), b.cutAt, now)
			}
		}
		key := shardKey{st, t.shard}
		switch s := p.shards[key]; {
		case s == nil && t.throttled > 0:
			p.shards[key] = &shardState{delay: p.opts.RetryInitialDelay, changed: now}
		case s != nil && !s.observe(t.throttled, t.ok, now, p.backoff()):
			delete(p.shards, key)
		}
	}
}
