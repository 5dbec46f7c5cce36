package producer

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// PutRecordsAPI is the part of *kinesis.Client the producer uses. It exists
// to keep the producer independent of how the client is built (credentials,
// endpoint, HTTP client); tests pass a real client pointed at kinesalite.
// ListShards is used only with AggregateByShard or RateLimit, for the shard map.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// Producer batches records into PutRecords requests. It is safe for
// concurrent use. See the package documentation for the design.
type Producer struct {
	client PutRecordsAPI
	opts   Options

	// ctx is cancelled by a hard stop (Close's deadline), aborting in-flight
	// calls.
	ctx    context.Context
	cancel context.CancelFunc

	reqs     chan *batch   // dispatcher -> senders; capacity MaxInFlight, never blocks
	wakeCh   chan struct{} // anyone -> dispatcher: state changed
	done     chan struct{} // closed when the dispatcher and all senders have exited
	senders  sync.WaitGroup
	requests atomic.Uint64
	entryErr atomic.Uint64
	aggRecs  atomic.Uint64 // aggregated Kinesis records accepted
	mapLoads atomic.Uint64 // successful shard map loads
	mismatch atomic.Uint64 // entries that landed on another shard than predicted
	lim      limiter       // per-shard rate limit (RateLimit); fixed after New

	mu         sync.Mutex
	streams    map[string]*streamState
	streamList []*streamState // round-robin order
	rr         int
	limits     map[string]int // stream -> max record size learnt by Prepare
	keys       map[keyID]*keyState
	waiting    retryHeap // records backing off, by notBefore
	shards     map[shardKey]*shardState
	seq        uint64
	bufRecords int // accepted, not yet resolved
	bufBytes   int64
	inFlight   int            // batches handed to senders and not completed
	spaceCh    chan struct{}  // closed when space is freed; nil when nobody waits
	flushers   []*flushWaiter // pending Flush calls
	closing    bool           // Close was called: no more Puts, no lingering
	stopped    bool           // Close's deadline hit: fail what is not in flight
	delivered  uint64
	failed     uint64
	// rateLimited counts records the limiter held back (each time one was).
	rateLimited uint64
	cutSeq      uint64 // counts cuts, for the limiter (bucket.cut)

	cut cutScratch // the dispatcher's reusable state for cutting aggregated batches
}

// record is the producer's state for one accepted entry. While a sender
// holds it (in flight) only that sender touches the outcome fields; the
// hand-over through the reqs channel and back under mu orders the accesses.
type record struct {
	e         Entry
	size      int // data + partition key bytes
	seq       uint64
	putAt     time.Time
	deadline  time.Time // zero when RecordTTL is unlimited
	notBefore time.Time // earliest next attempt while backing off
	readyAt   time.Time // in prio: when it became sendable; lingers from then
	st        *streamState
	key       *keyState // RetainOrdering only
	attempts  int

	// Aggregation.
	hash   kpl.Hash // routing hash key, computed once (AggregateByShard)
	hashed bool
	noAgg  bool // an aggregate holding it was rejected as invalid: send it alone

	// Outcome of the latest attempt.
	out   outcome
	shard string // accepted: the shard; throttled: the shard named in the message
	seqNo string
	// The accepted Kinesis record that carried it (see Result).
	krUsers, krBytes int
	krFirst          bool
	code             string // last error code
	msg              string // last error message (truncated)
	err              error  // last underlying error
	final            *Error // set when the record failed for good
}

type outcome uint8

const (
	outNone  outcome = iota
	outOK            // accepted by Kinesis
	outRetry         // failed, retriable
	outFail          // failed for good (final is set)
)

type streamState struct {
	name          string
	maxRecordSize int
	fresh         ring // never sent, in Put order
	freshBytes    int
	prio          ring // due retries and released same-key successors: sent before fresh

	// A request that fails as a whole with a retriable error (endpoint
	// unreachable, timeout, 5xx, request-level throttling) pauses the
	// stream: nothing is sent to it until pausedUntil, and the pause doubles
	// with each consecutive such failure until a response arrives. During an
	// outage that is one probe per backoff window instead of every record
	// retrying on its own in tiny requests; when it ends, the backlog goes
	// out in full requests.
	pausedUntil time.Time
	failures    int

	// Shard map (AggregateByShard): nil while none is available, and then
	// records go unaggregated. mapLoading says a load is running;
	// mapNextLoad is the earliest next one (minReload apart, backing off
	// after failures).
	shardMap    *shardMap
	mapLoading  bool
	mapNextLoad time.Time
	mapFailures int
	mapReason   string // why the next load happens, for ShardMapInfo

	// Rate limiting (see ratelimit.go): buckets is parallel to
	// shardMap.shards while both a limit and a map exist, else empty;
	// byShard keeps the buckets across map reloads; heldList lists the
	// buckets with held records, heldCount counts those records.
	buckets   []*bucket
	byShard   map[string]*bucket
	heldList  []*bucket
	heldCount int
}

// keyID names an ordering scope (RetainOrdering): stream and partition key.
type keyID struct {
	st *streamState
	pk string
}

// keyState exists while a record of its key is somewhere between Put and
// its resolution. Only that record (the head) can be queued, in flight or
// backing off; later records of the key wait in parked, in Put order.
type keyState struct {
	id     keyID
	parked ring
}

type shardKey struct {
	st    *streamState
	shard string
}

// shardState is a per-shard throttling backoff: the floor for the retry
// delay of records throttled on that shard. It doubles at most once per
// window while the shard keeps throttling and halves once per window while
// it accepts records, so parallel requests hitting the same hot shard do not
// each double it.
type shardState struct {
	delay   time.Duration
	changed time.Time
}

type batch struct {
	st   *streamState
	recs []*record // grouped by entry, in entry order
	ents []kEntry
	// shardMap is the map the batch's shards were predicted with (nil if
	// none): a mismatch invalidates it only if it is still the stream's.
	shardMap *shardMap
	// Set by the sender: some call got a response / failed as a whole
	// with a retriable error / some entry landed on an unpredicted shard /
	// some entry failed with a fatal error.
	answered, failedWhole, mismatch, fatal bool
	arena                                  *[]byte // pooled buffer holding the encoded aggregates
}

// kEntry is one Kinesis record of a batch: a user record sent as is, or an
// aggregate of several.
type kEntry struct {
	recs    []*record // sub-slice of batch.recs, in Put order within a key
	pk, ehk string    // the Kinesis record's keys (the outer ones for an aggregate)
	shard   string    // predicted shard, "" when unknown
	size    int       // data + partition key bytes, as Kinesis counts them
	agg     bool      // aggregated (more than one user record)
	data    []byte
}

type flushWaiter struct {
	target    uint64 // records with seq <= target must resolve
	remaining int
	done      chan struct{}
}

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
		keys:    make(map[keyID]*keyState),
		shards:  make(map[shardKey]*shardState),
		lim:     newLimiter(opts.RateLimit),
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
	out, err := p.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
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
		st := p.streamLocked(stream)
		if err == nil {
			p.mapLoads.Add(1)
			p.setShardMapLocked(st, m)
			st.mapNextLoad = time.Now().Add(minReload)
		} else {
			st.mapFailures++
			st.mapNextLoad = time.Now().Add(p.opts.RetryInitialDelay)
			st.mapReason = "retry"
		}
		p.mu.Unlock()
	}
	return info, nil
}

// needsMap says whether streams need a shard map: to aggregate by shard, or
// to rate-limit per shard.
func (p *Producer) needsMap() bool {
	return p.opts.Aggregation == AggregateByShard || p.lim.on()
}

func mapShards(m *shardMap) int {
	if m == nil {
		return 0
	}
	return len(m.shards)
}

func (p *Producer) hookShardMap(i ShardMapInfo) {
	if h := p.opts.Hooks.OnShardMap; h != nil {
		h(i)
	}
}

// maybeLoadShardMapLocked starts loading st's shard map in the background
// when it has none, none is loading and the reload interval has passed.
func (p *Producer) maybeLoadShardMapLocked(st *streamState, now time.Time) {
	if !p.needsMap() || st.shardMap != nil || st.mapLoading || now.Before(st.mapNextLoad) {
		return
	}
	st.mapLoading = true
	reason := st.mapReason
	if reason == "" {
		reason = "start"
	}
	go func() {
		ctx, cancel := context.WithTimeout(p.ctx, p.opts.RequestTimeout)
		m, err := loadShardMap(ctx, p.client, st.name)
		cancel()
		p.hookShardMap(ShardMapInfo{Stream: st.name, Reason: reason, Shards: mapShards(m), Err: err})
		p.mu.Lock()
		st.mapLoading = false
		now := time.Now()
		if err == nil {
			p.mapLoads.Add(1)
			p.setShardMapLocked(st, m)
			st.mapFailures = 0
			st.mapReason = ""
			st.mapNextLoad = now.Add(minReload)
		} else {
			st.mapFailures++
			d := p.opts.RetryInitialDelay
			for i := 1; i < st.mapFailures && d < p.opts.RetryMaxDelay; i++ {
				d *= 2
			}
			st.mapNextLoad = now.Add(max(minReload, min(d, p.opts.RetryMaxDelay)))
			st.mapReason = "retry"
		}
		p.mu.Unlock()
		p.wake()
	}()
}

// wantsMapLocked says whether st needs a shard map loaded: it has none and
// either has records to send or lost its map (mismatch, failed load), in
// which case the map is reloaded without waiting for traffic.
func (p *Producer) wantsMapLocked(st *streamState) bool {
	return p.needsMap() && st.shardMap == nil && !p.closing &&
		(st.mapReason != "" || st.prio.len()+st.fresh.len() > 0)
}

// invalidateShardMapLocked drops st's shard map if it is still m (a batch
// cut with an older map says nothing about the current one), so that
// records go unaggregated until a fresh map is loaded.
func (p *Producer) invalidateShardMapLocked(st *streamState, m *shardMap, reason string, now time.Time) {
	if m == nil || st.shardMap != m {
		return
	}
	p.setShardMapLocked(st, nil)
	st.mapReason = reason
	p.maybeLoadShardMapLocked(st, now)
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
	parked := false
	if p.opts.RetainOrdering {
		id := keyID{st, e.PartitionKey}
		if ks := p.keys[id]; ks != nil {
			r.key = ks
			ks.parked.push(r)
			parked = true
		} else {
			ks = &keyState{id: id}
			p.keys[id] = ks
			r.key = ks
		}
	}
	if !parked {
		before := st.freshBytes
		st.fresh.push(r)
		st.freshBytes += size
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

func (p *Producer) streamLocked(name string) *streamState {
	st := p.streams[name]
	if st == nil {
		st = &streamState{name: name, maxRecordSize: p.opts.MaxRecordSize}
		if l, ok := p.limits[name]; ok {
			st.maxRecordSize = l
		}
		p.streams[name] = st
		p.streamList = append(p.streamList, st)
	}
	return st
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
	p.mu.Unlock()
	p.cancel()
	p.wake()
	<-p.done
	if n == 0 {
		return nil
	}
	return fmt.Errorf("producer: close: %d record(s) still unresolved when the deadline hit failed with %s: %w", n, KindClosed, ctx.Err())
}

// Stats is a snapshot of the producer's state, for gauges and tests.
type Stats struct {
	// BufferedRecords and BufferedBytes count accepted, unresolved records
	// (queued, backing off or in flight): what MaxBuffered* bound.
	BufferedRecords int
	BufferedBytes   int64
	// InFlightRequests counts PutRecords batches being sent.
	InFlightRequests int
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

func (p *Producer) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

// dispatch is the single goroutine that decides what is sent and when:
// lingering, batch limits, MaxInFlight, retry timing and TTL expiry. It
// never calls Kinesis and never waits on a sender, so one slow request
// cannot hold up the others.
func (p *Producer) dispatch() {
	defer close(p.reqs)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var expired []*record
	var batches []*batch
	for {
		p.mu.Lock()
		now := time.Now()
		expired, batches = p.planLocked(now, expired[:0], batches[:0])
		next := p.nextWakeLocked(now)
		exit := p.closing && p.bufRecords == 0
		p.mu.Unlock()

		for _, b := range batches {
			p.reqs <- b
		}
		clear(batches)
		if len(expired) > 0 {
			p.finish(expired)
			clear(expired)
			continue // releasing records may have made others sendable
		}
		if exit {
			return
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-p.wakeCh:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// planLocked moves due retries to their stream's priority queue, expires
// queued records past their TTL and cuts batches while senders are free.
func (p *Producer) planLocked(now time.Time, expired []*record, batches []*batch) ([]*record, []*batch) {
	if p.stopped {
		return p.drainLocked(expired), batches
	}
	for len(p.waiting) > 0 && !p.waiting[0].notBefore.After(now) {
		r := heap.Pop(&p.waiting).(*record)
		if !r.deadline.IsZero() && r.deadline.Before(r.st.pausedUntil) {
			p.expire(r) // its stream stays paused past its deadline
			expired = append(expired, r)
			continue
		}
		r.readyAt = r.notBefore
		r.st.prio.push(r)
	}
	if p.opts.RecordTTL > 0 {
		// fresh is in Put order, so its deadlines rise: only heads can be due.
		for _, st := range p.streamList {
			for st.fresh.len() > 0 && !st.fresh.peek().deadline.After(now) {
				r := st.fresh.pop()
				st.freshBytes -= r.size
				p.expire(r)
				expired = append(expired, r)
			}
		}
	}
	// Also when Put is blocked on a full buffer: lingering cannot fill the
	// requests any further.
	hurry := p.closing || len(p.flushers) > 0 || p.spaceCh != nil
	n := len(p.streamList)
	if p.needsMap() {
		for _, st := range p.streamList {
			if p.wantsMapLocked(st) {
				p.maybeLoadShardMapLocked(st, now)
			}
		}
	}
	for i := 0; i < n && p.inFlight < p.opts.MaxInFlight; i++ {
		st := p.streamList[(p.rr+i)%n]
		for p.inFlight < p.opts.MaxInFlight && p.sendableLocked(st, now, hurry) {
			var b *batch
			b, expired = p.takeLocked(st, now, expired)
			if st.heldCount > 0 || len(st.heldList) > 0 {
				p.pruneHeldLocked(st)
			}
			if b == nil {
				// Everything went to held queues or expired: taking again
				// would find the same.
				break
			}
			batches = append(batches, b)
			p.inFlight++
		}
	}
	if n > 0 {
		p.rr = (p.rr + 1) % n
	}
	return expired, batches
}

func (p *Producer) sendableLocked(st *streamState, now time.Time, hurry bool) bool {
	if now.Before(st.pausedUntil) {
		return false
	}
	if st.heldCount > 0 && p.heldSendableLocked(st, now) {
		return true
	}
	// Retries linger again like fresh records (as in the KPL), so that
	// records whose jittered backoffs end close together share a request.
	if st.prio.len() > 0 && (hurry || st.prio.len()+st.fresh.len() >= p.fullCount() ||
		now.Sub(st.prio.peek().readyAt) >= p.opts.Linger) {
		return true
	}
	n := st.fresh.len()
	if n == 0 {
		return false
	}
	return hurry || n >= p.fullCount() || st.freshBytes >= p.opts.MaxBytesPerRequest ||
		now.Sub(st.fresh.peek().putAt) >= p.opts.Linger
}

// aggRequestsInFlight is how many aggregated requests the buffer should
// keep going at once (at most MaxInFlight); see fullCount.
const aggRequestsInFlight = 8

// fullCount is how many queued user records make a full request. Without
// aggregation, that is the entry limit. With it, records share entries and
// a request may carry far more user records than the buffer holds (5 MiB
// of 100-byte records is 50,000): cut only at MaxBytesPerRequest, one
// request would take the whole buffer, Put would block until it was
// answered, and requests would go one at a time (with 1 KiB records this
// made aggregation slower than none under make bench). So a request is
// full at a share of MaxBufferedRecords that lets aggRequestsInFlight of
// them fill the buffer, and never below the entry limit.
func (p *Producer) fullCount() int {
	if p.opts.Aggregation != AggregateNone {
		return max(p.opts.MaxRecordsPerRequest, p.opts.MaxBufferedRecords/min(p.opts.MaxInFlight, aggRequestsInFlight))
	}
	return p.opts.MaxRecordsPerRequest
}

// takeLocked cuts one batch: due retries and released successors first,
// then fresh records, up to the count and byte limits. A priority record
// past its TTL is expired here instead (the only place they are checked, so
// such a record resolves at most about one RequestTimeout late).
func (p *Producer) takeLocked(st *streamState, now time.Time, expired []*record) (*batch, []*record) {
	p.cutSeq++
	if p.opts.Aggregation != AggregateNone {
		return p.takeAggLocked(st, now, expired)
	}
	var recs []*record
	var shards []string // predicted shards, when limited
	bytes := 0
	var src cutSource
	for len(recs) < p.opts.MaxRecordsPerRequest {
		var r *record
		if r, expired = p.nextLiveLocked(st, &src, now, expired); r == nil {
			break
		}
		b := p.bucketLocked(st, r)
		if b != nil && src.from != fromHeld && (b.held.len() > 0 || !p.lim.affords(b, 1, r.size, now)) {
			p.holdLocked(st, b, p.popLocked(st, &src))
			continue
		}
		if len(recs) > 0 && bytes+r.size > p.opts.MaxBytesPerRequest {
			break
		}
		p.popLocked(st, &src)
		if recs == nil {
			recs = make([]*record, 0, min(p.opts.MaxRecordsPerRequest, st.heldCount+st.prio.len()+st.fresh.len()+1))
		}
		if b != nil {
			p.takeTokensLocked(b, 1, r.size, now)
			if shards == nil {
				shards = make([]string, len(recs), cap(recs))
			}
		}
		if shards != nil {
			id := ""
			if b != nil {
				id = b.shard
			}
			shards = append(shards, id)
		}
		recs = append(recs, r)
		bytes += r.size
	}
	if len(recs) == 0 {
		return nil, expired
	}
	ents := make([]kEntry, len(recs))
	for i, r := range recs {
		ents[i] = kEntry{recs: recs[i : i+1], pk: r.e.PartitionKey, ehk: r.e.ExplicitHashKey, size: r.size, data: r.e.Data}
		if shards != nil {
			ents[i].shard = shards[i]
		}
	}
	var m *shardMap
	if shards != nil {
		m = st.shardMap
	}
	return &batch{st: st, recs: recs, ents: ents, shardMap: m}, expired
}

func (p *Producer) nextWakeLocked(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if len(p.waiting) > 0 {
		consider(p.waiting[0].notBefore)
	}
	for _, st := range p.streamList {
		if st.pausedUntil.After(now) && st.prio.len()+st.fresh.len() > 0 {
			consider(st.pausedUntil)
		}
		if p.wantsMapLocked(st) && !st.mapLoading {
			consider(st.mapNextLoad)
		}
		if st.prio.len() > 0 && p.inFlight < p.opts.MaxInFlight {
			consider(st.prio.peek().readyAt.Add(p.opts.Linger))
		}
		if st.heldCount > 0 && p.inFlight < p.opts.MaxInFlight && !st.pausedUntil.After(now) {
			for _, b := range st.heldList {
				if b.held.len() > 0 {
					consider(p.lim.readyAt(b, now))
				}
			}
		}
		if st.fresh.len() == 0 {
			continue
		}
		r := st.fresh.peek()
		consider(r.deadline)
		if p.inFlight < p.opts.MaxInFlight {
			// When every sender is busy, a completing one wakes us instead.
			consider(r.putAt.Add(p.opts.Linger))
		}
	}
	return next
}

// drainLocked fails with KindClosed every record that is not in flight:
// queued, backing off or parked behind a key.
func (p *Producer) drainLocked(expired []*record) []*record {
	closeRec := func(r *record) {
		r.final = &Error{Kind: KindClosed, Stream: r.st.name, Code: r.code, Message: r.msg, Attempts: r.attempts, Err: r.err}
		r.out = outFail
		expired = append(expired, r)
	}
	for _, st := range p.streamList {
		for st.prio.len() > 0 {
			closeRec(st.prio.pop())
		}
		for st.fresh.len() > 0 {
			closeRec(st.fresh.pop())
		}
		st.freshBytes = 0
		for _, b := range st.heldList {
			for b.held.len() > 0 {
				closeRec(b.held.pop())
			}
			b.listed = false
		}
		clear(st.heldList)
		st.heldList = st.heldList[:0]
		st.heldCount = 0
	}
	for _, r := range p.waiting {
		closeRec(r)
	}
	clear(p.waiting)
	p.waiting = p.waiting[:0]
	for _, ks := range p.keys {
		for ks.parked.len() > 0 {
			closeRec(ks.parked.pop())
		}
	}
	return expired
}

func (p *Producer) expire(r *record) {
	r.out = outFail
	r.final = &Error{Kind: KindTTLExpired, Stream: r.st.name, Code: r.code, Message: r.msg, Attempts: r.attempts, Err: r.err}
	if r.attempts == 0 {
		r.final.Message = "never sent: no sender was free before the deadline"
	}
}

// finish resolves records that failed or succeeded for good: callbacks
// first, outside the lock, then their buffer space and keys are released.
// Releasing after the callback keeps a key's callbacks in Put order.
func (p *Producer) finish(recs []*record) {
	deliver(recs)
	p.mu.Lock()
	for _, r := range recs {
		p.releaseLocked(r)
	}
	p.mu.Unlock()
	p.wake()
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
	if ks := r.key; ks != nil {
		if ks.parked.len() > 0 {
			// The successor has waited since its Put, so it goes ahead of
			// fresh records, lingering only what is left of its Linger.
			next := ks.parked.pop()
			next.readyAt = next.putAt
			next.st.prio.push(next)
		} else {
			delete(p.keys, ks.id)
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

// retryHeap orders backing-off records by their next attempt time.
type retryHeap []*record

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].notBefore.Before(h[j].notBefore) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(*record)) }
func (h *retryHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

// ring is a FIFO of records on a power-of-two circular buffer, so that a
// queue that fills and drains all day does not keep reallocating.
type ring struct {
	buf     []*record
	head, n int
}

func (q *ring) len() int { return q.n }

func (q *ring) push(r *record) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = r
	q.n++
}

func (q *ring) peek() *record { return q.buf[q.head] }

func (q *ring) pop() *record {
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > 4096 {
			q.buf = nil // give a burst's memory back
		}
	}
	return r
}

func (q *ring) grow() {
	size := max(8, 2*len(q.buf))
	buf := make([]*record, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = buf, 0
}
