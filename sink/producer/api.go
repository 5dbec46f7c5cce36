package producer

// The producer's API: New, Prepare, Put, Flush, Close and Stats.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// New starts a producer: one dispatcher goroutine and MaxInFlight sender
// goroutines. It does not call Kinesis; call Prepare for each stream to
// learn its record size limit and to find a missing stream early.
func New(client PutRecordsAPI, opts Options) (*Producer, error) {
	if client == nil {
		return nil, errors.New("producer: nil Kinesis client")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		client:  client,
		opts:    opts,
		ctx:     ctx,
		cancel:  cancel,
		reqs:    make(chan *batch, opts.MaxInFlight),
		wakeCh:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		streams: make(map[string]*streamState),
		limits:  make(map[string]int),
		keys:    make(keyTable),
		shards:  make(map[shardKey]*shardState),
		lim:     newLimiter(opts.RateLimit, opts.AdaptiveRateLimit),
	}
	p.senders.Add(opts.MaxInFlight)
	for range opts.MaxInFlight {
		go p.sender()
	}
	go func() {
		p.dispatch()
		p.senders.Wait()
		close(p.done)
	}()
	return p, nil
}

// StreamInfo is what Prepare learnt about a stream.
type StreamInfo struct {
	Name, ARN, Status string
	OpenShards        int
	// MaxRecordSize is the limit the producer applies to the stream's
	// records: the stream's MaxRecordSizeInKiB when reported, else
	// Options.MaxRecordSize.
	MaxRecordSize int
	// MaxRecordSizeReported says whether the stream reported its limit
	// (kinesalite does not).
	MaxRecordSizeReported bool
	Encryption            string
}

// Prepare describes the stream (DescribeStreamSummary) and adopts its
// maximum record size for records put afterwards. An error means the
// stream cannot be used as configured (it does not exist, access is
// denied...); the SDK's own retries apply to this call.
func (p *Producer) Prepare(ctx context.Context, stream string) (StreamInfo, error) {
	name, arn := streamRef(stream)
	out, err := p.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name, StreamARN: arn})
	if err != nil {
		return StreamInfo{}, fmt.Errorf("describe kinesis stream %q: %w", stream, err)
	}
	s := out.StreamDescriptionSummary
	if s == nil {
		return StreamInfo{}, fmt.Errorf("describe kinesis stream %q: empty response", stream)
	}
	info := StreamInfo{
		Name:          aws.ToString(s.StreamName),
		ARN:           aws.ToString(s.StreamARN),
		Status:        string(s.StreamStatus),
		OpenShards:    int(aws.ToInt32(s.OpenShardCount)),
		MaxRecordSize: p.opts.MaxRecordSize,
		Encryption:    string(s.EncryptionType),
	}
	if kib := aws.ToInt32(s.MaxRecordSizeInKiB); kib > 0 {
		info.MaxRecordSize = int(kib) * KiB
		info.MaxRecordSizeReported = true
		p.mu.Lock()
		p.limits[stream] = info.MaxRecordSize
		if st := p.streams[stream]; st != nil {
			st.maxRecordSize = info.MaxRecordSize
		}
		p.mu.Unlock()
	}
	if p.needsMap() {
		// Load the shard map now, so that the first requests are already
		// aggregated and limited; a failure is retried in the background.
		m, err := loadShardMap(ctx, p.client, stream)
		p.hookShardMap(ShardMapInfo{Stream: stream, Reason: "start", Shards: mapShards(m), Err: err})
		p.mu.Lock()
		p.mapLoadedLocked(p.streamLocked(stream), m, err, time.Now())
		p.mu.Unlock()
	}
	return info, nil
}

// Put hands a record to the producer. It returns nil once the record is
// accepted; its Callback then receives the outcome exactly once. It blocks
// while the buffers are full (MaxBufferedRecords / MaxBufferedBytes) until
// space is freed, ctx ends (ctx.Err() is returned) or the producer closes
// (ErrClosed is returned); in those cases the record was not accepted and
// the Callback is never called.
//
// A record that can never be delivered is not buffered: its Callback is
// called before Put returns nil, with KindInvalid (bad stream name,
// partition key or explicit hash key) or KindOversize (data + partition key
// over the stream's maximum record size).
func (p *Producer) Put(ctx context.Context, e Entry) error {
	if e.Callback == nil {
		return errors.New("producer: Entry.Callback is nil")
	}
	if err := validateEntry(&e); err != nil {
		deliverNow(&e, err)
		return nil
	}
	size := len(e.Data) + len(e.PartitionKey)
	var hash kpl.Hash
	if p.needsMap() {
		// The routing hash (an MD5 per record, the costliest step of the
		// cut) is computed here, on the caller's goroutine, rather than by
		// the dispatcher under the lock. Validated above, so it parses.
		hash, _ = kpl.RecordHash(e.PartitionKey, e.ExplicitHashKey)
	}

	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	st := p.streamLocked(e.Stream)
	if size > st.maxRecordSize {
		limit := st.maxRecordSize
		p.mu.Unlock()
		deliverNow(&e, &Error{Kind: KindOversize, Stream: e.Stream,
			Message: fmt.Sprintf("%d bytes of data + partition key; the stream accepts at most %d", size, limit)})
		return nil
	}
	var blocked time.Duration
	if !p.roomLocked(size) {
		// Lingering cannot fill requests any further once the buffer is
		// full: the dispatcher sends what it holds (see sendableLocked).
		p.wake()
		start := time.Now()
		for !p.roomLocked(size) {
			if p.spaceCh == nil {
				p.spaceCh = make(chan struct{})
			}
			ch := p.spaceCh
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				p.hookBlocked(time.Since(start))
				return ctx.Err()
			}
			p.mu.Lock()
			if p.closing {
				p.mu.Unlock()
				p.hookBlocked(time.Since(start))
				return ErrClosed
			}
		}
		blocked = time.Since(start)
	}

	r := &record{e: e, size: size, st: st, putAt: time.Now(), hash: hash, hashed: p.needsMap()}
	if p.opts.RecordTTL > 0 {
		r.deadline = r.putAt.Add(p.opts.RecordTTL)
	}
	p.seq++
	r.seq = p.seq
	p.bufRecords++
	p.bufBytes += int64(size)
	wake := false
	if !p.opts.RetainOrdering || p.keys.admit(r) {
		before := st.freshBytes
		st.pushFresh(r)
		n := st.fresh.len()
		// The dispatcher needs to hear about a stream's first record (to arm
		// the linger timer) and about a batch becoming full; other Puts
		// change nothing it is waiting for.
		wake = n == 1 || n == p.fullCount() ||
			(before < p.opts.MaxBytesPerRequest && st.freshBytes >= p.opts.MaxBytesPerRequest)
	}
	p.mu.Unlock()
	if wake {
		p.wake()
	}
	if blocked > 0 {
		p.hookBlocked(blocked)
	}
	return nil
}

func (p *Producer) hookBlocked(d time.Duration) {
	if h := p.opts.Hooks.OnPutBlocked; h != nil {
		h(d)
	}
}

// roomLocked says whether a record of size bytes fits the buffer bounds. A
// record alone always fits, so that one bigger than MaxBufferedBytes cannot
// block forever.
func (p *Producer) roomLocked(size int) bool {
	if p.bufRecords == 0 {
		return true
	}
	return p.bufRecords < p.opts.MaxBufferedRecords && p.bufBytes+int64(size) <= p.opts.MaxBufferedBytes
}

// Flush sends everything buffered without waiting for Linger and returns
// once every record Put before the call has resolved (its Callback has
// returned), or with ctx.Err() when ctx ends first (records keep going).
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	if p.bufRecords == 0 {
		p.mu.Unlock()
		return nil
	}
	w := &flushWaiter{target: p.seq, remaining: p.bufRecords, done: make(chan struct{})}
	p.flushers = append(p.flushers, w)
	p.mu.Unlock()
	p.wake()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		for i, f := range p.flushers {
			if f == w {
				p.flushers = append(p.flushers[:i], p.flushers[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		return ctx.Err()
	}
}

// Close stops accepting records (Put returns ErrClosed), sends everything
// buffered without waiting for Linger, and waits until every record has
// resolved. If ctx ends first, in-flight calls are aborted and every record
// not yet resolved fails with KindClosed; Close then returns an error
// saying how many. When Close returns, every accepted record's Callback has
// returned and the producer's goroutines have exited. Calling it again
// waits the same way.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closing {
		p.closing = true
		if p.spaceCh != nil {
			close(p.spaceCh)
			p.spaceCh = nil
		}
	}
	p.mu.Unlock()
	p.wake()
	select {
	case <-p.done:
		p.cancel()
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.stopped = true
	n := p.bufRecords
	where := p.whereLocked(time.Now())
	p.mu.Unlock()
	p.cancel()
	p.wake()
	<-p.done
	if n == 0 {
		return nil
	}
	return fmt.Errorf("producer: close: %d record(s) still unresolved when the deadline hit (%s); they failed with %s: %w", n, where, KindClosed, ctx.Err())
}

// Stats is a snapshot of the producer's state, for gauges and tests.
type Stats struct {
	// BufferedRecords and BufferedBytes count accepted, unresolved records
	// (queued, backing off or in flight): what MaxBuffered* bound.
	BufferedRecords int
	BufferedBytes   int64
	// InFlightRequests counts PutRecords batches being sent, and
	// InFlightBytes their data + partition key bytes.
	InFlightRequests int
	InFlightBytes    int64
	// WaitingRetry counts records backing off before their next attempt.
	WaitingRetry int
	// ThrottledShards counts shards under a throttling backoff.
	ThrottledShards int
	// PausedStreams counts streams paused after whole-request failures.
	PausedStreams int
	// Cumulative counters.
	Delivered, Failed uint64 // records resolved as delivered / failed
	Requests          uint64 // PutRecords calls
	EntryErrors       uint64 // entries not accepted by a call (retried or not)
	// AggregatedRecords counts accepted Kinesis records holding more than
	// one user record.
	AggregatedRecords uint64
	// ShardMapLoads counts successful shard map loads (AggregateByShard);
	// ShardMismatches counts entries that Kinesis stored on another shard
	// than the map predicted (each invalidates the map it was cut with).
	ShardMapLoads, ShardMismatches uint64
	// HeldRecords counts records waiting for their shard's rate limit
	// (RateLimit) now; RateLimited counts every time a record was held back.
	HeldRecords int
	RateLimited uint64
}

// Stats returns a snapshot of the producer's counters and gauges.
func (p *Producer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	paused, held := 0, 0
	now := time.Now()
	for _, st := range p.streamList {
		if st.pausedUntil.After(now) {
			paused++
		}
		held += st.heldCount
	}
	return Stats{
		PausedStreams:    paused,
		BufferedRecords:  p.bufRecords,
		BufferedBytes:    p.bufBytes,
		InFlightRequests: p.inFlight,
		InFlightBytes:    p.inFlightBytes,
		WaitingRetry:     len(p.waiting),
		ThrottledShards:  len(p.shards),
		Delivered:        p.delivered,
		Failed:           p.failed,
		Requests:         p.requests.Load(),
		EntryErrors:      p.entryErr.Load(),

		AggregatedRecords: p.aggRecs.Load(),
		ShardMapLoads:     p.mapLoads.Load(),
		ShardMismatches:   p.mismatch.Load(),
		HeldRecords:       held,
		RateLimited:       p.rateLimited,
	}
}
