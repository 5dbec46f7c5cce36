package producer

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// throttleCode is the per-entry (and whole-request) throttling error; its
// per-entry message names the shard.
const throttleCode = "ProvisionedThroughputExceededException"

// noSDKRetries turns the SDK's retryer off for PutRecords: the producer owns
// retries. The SDK would resend the whole request on a whole-request error
// while holding a sender slot, it never retries per-entry failures, it knows
// nothing of RecordTTL or per-shard throttling, its retry quota runs dry
// under sustained throttling ("retry quota exceeded"), and it cannot split
// a request that is too large.
func noSDKRetries(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

func (p *Producer) sender() {
	defer p.senders.Done()
	for b := range p.reqs {
		p.attempt(b, b.recs)
		p.complete(b)
	}
}

// attempt sends recs in one PutRecords call and records each entry's
// outcome on the record. A request that is too large or invalid is halved
// and each half attempted, until the offending entry is alone and fails.
func (p *Producer) attempt(b *batch, recs []*record) {
	st := b.st
	entries := make([]types.PutRecordsRequestEntry, len(recs))
	bytes := 0
	for i, r := range recs {
		r.attempts++
		// Pointers into the record avoid a string copy per entry; the
		// record outlives the call.
		entries[i] = types.PutRecordsRequestEntry{Data: r.e.Data, PartitionKey: &r.e.PartitionKey}
		if r.e.ExplicitHashKey != "" {
			entries[i].ExplicitHashKey = &r.e.ExplicitHashKey
		}
		bytes += r.size
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.RequestTimeout)
	start := time.Now()
	out, err := p.client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &st.name, Records: entries}, noSDKRetries)
	cancel()
	p.requests.Add(1)
	info := RequestInfo{Stream: st.name, Records: len(recs), Bytes: bytes, Duration: time.Since(start)}

	if err == nil {
		b.answered = true
	}
	if err == nil && len(out.Records) != len(recs) {
		info.ErrorCode = CodeBadResponse
		info.Failed = len(recs)
		p.hookRequest(info)
		for _, r := range recs {
			p.retryLater(r, CodeBadResponse, "response has a different number of entries than the request", nil)
		}
		return
	}
	if err == nil {
		for i := range out.Records {
			res := &out.Records[i]
			r := recs[i]
			code := aws.ToString(res.ErrorCode)
			if code == "" {
				r.out = outOK
				r.shard = aws.ToString(res.ShardId)
				r.seqNo = aws.ToString(res.SequenceNumber)
				continue
			}
			info.Failed++
			msg := aws.ToString(res.ErrorMessage)
			if code == throttleCode && p.opts.FailIfThrottled {
				p.failNow(r, KindThrottled, code, msg, nil)
				continue
			}
			switch classifyCode(code) {
			case actFatal:
				p.failNow(r, KindFatal, code, msg, nil)
			case actSplit:
				p.failNow(r, KindRejected, code, msg, nil)
			default:
				p.retryLater(r, code, msg, nil)
			}
		}
		p.hookRequest(info)
		return
	}

	act, code, msg := classifyErr(err, p.ctx.Err() != nil)
	info.ErrorCode = code
	info.Failed = len(recs)
	p.hookRequest(info)
	switch act {
	case actSplit:
		if len(recs) > 1 {
			h := len(recs) / 2
			p.attempt(b, recs[:h])
			p.attempt(b, recs[h:])
			return
		}
		kind := KindRejected
		if code == CodeRequestTooLarge {
			kind = KindOversize
		}
		p.failNow(recs[0], kind, code, msg, err)
	case actFatal:
		for _, r := range recs {
			p.failNow(r, KindFatal, code, msg, err)
		}
	case actClosed:
		for _, r := range recs {
			p.failNow(r, KindClosed, r.code, r.msg, err)
		}
	case actRetry:
		if code == throttleCode && p.opts.FailIfThrottled {
			for _, r := range recs {
				p.failNow(r, KindThrottled, code, msg, err)
			}
			return
		}
		fallthrough
	default:
		b.failedWhole = true
		for _, r := range recs {
			p.retryLater(r, code, msg, err)
		}
	}
}

func (p *Producer) hookRequest(info RequestInfo) {
	if h := p.opts.Hooks.OnRequest; h != nil {
		h(info)
	}
}

func (p *Producer) failNow(r *record, kind Kind, code, msg string, err error) {
	r.out = outFail
	r.code, r.msg, r.err = code, truncate(msg), err
	r.final = &Error{Kind: kind, Stream: r.st.name, Code: code, Message: r.msg, Attempts: r.attempts, Err: err}
	p.entryError(r, false)
}

func (p *Producer) retryLater(r *record, code, msg string, err error) {
	r.out = outRetry
	r.code, r.msg, r.err = code, truncate(msg), err
	r.shard = ""
	if code == throttleCode {
		r.shard = shardFromMessage(msg)
	}
	p.entryError(r, true)
}

func (p *Producer) entryError(r *record, retried bool) {
	p.entryErr.Add(1)
	if h := p.opts.Hooks.OnEntryError; h != nil {
		h(EntryErrorInfo{Stream: r.st.name, ShardID: r.shard, Code: r.code, Retried: retried})
	}
}

// complete resolves a sent batch: callbacks for records that are done, then
// under the lock the shard backoffs are updated and the rest scheduled for
// a retry, or expired when the retry would start after their TTL.
func (p *Producer) complete(b *batch) {
	recs := b.recs
	// Done records first; the order within a batch carries no meaning
	// (a batch holds at most one record per key under RetainOrdering).
	k := 0
	for i, r := range recs {
		if r.out != outRetry {
			recs[i], recs[k] = recs[k], recs[i]
			k++
		}
	}
	done, retry := recs[:k], recs[k:]
	deliver(done)

	now := time.Now()
	var expired []*record
	p.mu.Lock()
	p.inFlight--
	p.updateShardsLocked(b.st, recs, now)
	p.updatePauseLocked(b, now)
	for _, r := range retry {
		next := now.Add(p.backoffLocked(r))
		if next.Before(b.st.pausedUntil) {
			next = b.st.pausedUntil
		}
		if !r.deadline.IsZero() && !next.Before(r.deadline) {
			p.expire(r)
			expired = append(expired, r)
			continue
		}
		r.notBefore = next
		heap.Push(&p.waiting, r)
	}
	for _, r := range done {
		p.releaseLocked(r)
	}
	p.mu.Unlock()
	p.wake()
	if len(expired) > 0 {
		p.finish(expired)
	}
}

// backoffLocked is the delay before r's next attempt: exponential in its
// attempts, at least its shard's throttling backoff, minus up to half as
// jitter.
func (p *Producer) backoffLocked(r *record) time.Duration {
	d := p.opts.RetryInitialDelay
	for i := 1; i < r.attempts && d < p.opts.RetryMaxDelay; i++ {
		d *= 2
	}
	if r.shard != "" {
		if s := p.shards[shardKey{r.st, r.shard}]; s != nil && s.delay > d {
			d = s.delay
		}
	}
	d = min(d, p.opts.RetryMaxDelay)
	return d - rand.N(d/2+1)
}

// updatePauseLocked pauses the stream after a whole-request retriable
// failure (see streamState.pausedUntil), lengthening the pause at most once
// per pause so that requests that were already in flight when an outage
// began do not each double it; any response ends the pause.
func (p *Producer) updatePauseLocked(b *batch, now time.Time) {
	st := b.st
	switch {
	case b.answered:
		st.failures = 0
		st.pausedUntil = time.Time{}
	case b.failedWhole && !now.Before(st.pausedUntil):
		st.failures++
		d := p.opts.RetryInitialDelay
		for i := 1; i < st.failures && d < p.opts.RetryMaxDelay; i++ {
			d *= 2
		}
		d = min(d, p.opts.RetryMaxDelay)
		st.pausedUntil = now.Add(d - rand.N(d/2+1))
	}
}

// updateShardsLocked feeds a batch's outcomes into the per-shard throttling
// backoffs: a shard that throttled doubles its delay, one that accepted
// records halves it (each at most once per current delay), and a shard back
// at the initial delay is forgotten.
func (p *Producer) updateShardsLocked(st *streamState, recs []*record, now time.Time) {
	for _, r := range recs {
		switch {
		case r.out == outRetry && r.code == throttleCode && r.shard != "":
			key := shardKey{st, r.shard}
			s := p.shards[key]
			if s == nil {
				p.shards[key] = &shardState{delay: p.opts.RetryInitialDelay, changed: now}
				continue
			}
			if now.Sub(s.changed) >= s.delay {
				s.delay = min(2*s.delay, p.opts.RetryMaxDelay)
				s.changed = now
			}
		case r.out == outOK && len(p.shards) > 0:
			key := shardKey{st, r.shard}
			s := p.shards[key]
			if s == nil || now.Sub(s.changed) < s.delay {
				continue
			}
			s.delay /= 2
			s.changed = now
			if s.delay < p.opts.RetryInitialDelay {
				delete(p.shards, key)
			}
		}
	}
}
