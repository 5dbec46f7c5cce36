package producer

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
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

// readOnlyBody keeps a PutRecords that Kinesis answered from failing as a
// whole, and its records from being sent again, on whatever client the
// producer was given (see internal/sdkbody).
func readOnlyBody(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, sdkbody.ReadOnly) }

// arenas recycles the buffers aggregates are encoded into, so that a
// steady stream of requests does not allocate a new multi-megabyte buffer
// for each.
var arenas sync.Pool

func getArena(n int) *[]byte {
	if a, ok := arenas.Get().(*[]byte); ok && cap(*a) >= n {
		return a
	}
	// Rounded up to a power of two (at least 64 KiB) so that a buffer fits
	// the next requests too, whose sizes vary.
	size := 64 * KiB
	for size < n {
		size *= 2
	}
	b := make([]byte, 0, size)
	return &b
}

func (p *Producer) sender() {
	defer p.senders.Done()
	var agg kpl.Aggregator // this sender's encoder, reused for every aggregate
	w := p.newCallbackWatch("sender")
	for b := range p.reqs {
		p.encode(b, &agg)
		p.attempt(b, b.ents)
		if b.arena != nil {
			// The SDK has serialized the request; nothing references the
			// encoded aggregates any more.
			for i := range b.ents {
				b.ents[i].data = nil
			}
			arenas.Put(b.arena)
			b.arena = nil
		}
		p.complete(b, w)
	}
}

// attempt sends ents in one PutRecords call and records each user record's
// outcome on the record. A request that is too large or invalid is halved
// and each half attempted, until the offending entry is alone and fails
// (an aggregate alone is instead retried as separate records).
func (p *Producer) attempt(b *batch, ents []kEntry) {
	st := b.st
	entries := make([]types.PutRecordsRequestEntry, len(ents))
	bytes, users := 0, 0
	for i := range ents {
		e := &ents[i]
		for _, r := range e.recs {
			r.attempts++
		}
		users += len(e.recs)
		// Pointers into the entry avoid a string copy per entry; the batch
		// outlives the call.
		entries[i] = types.PutRecordsRequestEntry{Data: e.data, PartitionKey: &e.pk}
		if e.ehk != "" {
			entries[i].ExplicitHashKey = &e.ehk
		}
		bytes += e.size
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.RequestTimeout)
	start := time.Now()
	out, err := p.client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: st.nameRef, StreamARN: st.arnRef, Records: entries}, noSDKRetries, fastPutRecords, readOnlyBody)
	cancel()
	p.requests.Add(1)
	info := RequestInfo{Stream: st.name, Records: len(ents), Bytes: bytes, UserRecords: users, Duration: time.Since(start)}

	if err == nil {
		b.answered = true
	}
	if err == nil && len(out.Records) != len(ents) {
		info.ErrorCode = CodeBadResponse
		info.Failed = len(ents)
		p.hookRequest(info)
		for i := range ents {
			p.retryEntry(st, &ents[i], CodeBadResponse, "response has a different number of entries than the request", nil)
		}
		return
	}
	pol := policy{failIfThrottled: p.opts.FailIfThrottled, aggByShard: p.opts.Aggregation == AggregateByShard}
	if err == nil {
		for i := range out.Records {
			e := &ents[i]
			v := pol.entryVerdict(&out.Records[i], e.shard, e.agg)
			if v.mismatch {
				b.mismatch = true
				p.mismatch.Add(1)
			}
			if v.fate != fateAccepted {
				info.Failed++
			}
			p.apply(b, e, v, nil)
		}
		p.hookRequest(info)
		return
	}

	v, split := pol.requestVerdict(err, p.ctx.Err() != nil, len(ents), ents[0].agg)
	info.ErrorCode = v.code
	info.Failed = len(ents)
	p.hookRequest(info)
	if split {
		h := len(ents) / 2
		p.attempt(b, ents[:h])
		p.attempt(b, ents[h:])
		return
	}
	if v.fate == fateRetry {
		b.failedWhole = true
	}
	for i := range ents {
		p.apply(b, &ents[i], v, err)
	}
}

func (p *Producer) hookRequest(info RequestInfo) {
	if h := p.opts.Hooks.OnRequest; h != nil {
		h(info)
	}
}
