package producer

// The producer's state: the Producer, which coordinates, the records it
// holds and the batches it sends. A stream's queues and pause
// (streamState, stream.go), the ordering scopes (keyTable, key.go) and a
// shard's throttling backoff (shardState, shardbackoff.go) keep their own
// invariants. Everything here is guarded by Producer.mu unless its comment
// says otherwise.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

	// Slow callbacks (callbacks.go).
	inCallbacks atomic.Int32 // goroutines running callbacks now
	slowWarnAt  atomic.Int64 // unix nanoseconds of the last warning about them

	mu            sync.Mutex
	streams       map[string]*streamState
	streamList    []*streamState // round-robin order
	rr            int
	limits        map[string]int // stream -> max record size learnt by Prepare
	keys          keyTable
	waiting       retryHeap // records backing off, by notBefore
	shards        map[shardKey]*shardState
	seq           uint64
	bufRecords    int // accepted, not yet resolved
	bufBytes      int64
	inFlight      int            // batches handed to senders and not completed
	inFlightBytes int64          // their data + partition key bytes (MaxInFlightBytes)
	spaceCh       chan struct{}  // closed when space is freed; nil when nobody waits
	flushers      []*flushWaiter // pending Flush calls
	closing       bool           // Close was called: no more Puts, no lingering
	stopped       bool           // Close's deadline hit: fail what is not in flight
	delivered     uint64
	failed        uint64
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
	fate  fate   // fateNone, then fateAccepted, fateRetry or fateFail (final is set)
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

type batch struct {
	st   *streamState
	recs []*record // grouped by entry, in entry order
	ents []kEntry
	// shardMap is the map the batch's shards were predicted with (nil if
	// none): a mismatch invalidates it only if it is still the stream's.
	shardMap *shardMap
	cutAt    time.Time // when it was cut (the adaptive rate limit's round trips)
	// Set by the sender: some call got a response / failed as a whole
	// with a retriable error / some entry landed on an unpredicted shard /
	// some entry failed with a fatal error.
	answered, failedWhole, mismatch, fatal bool
	arena                                  *[]byte // pooled buffer holding the encoded aggregates
	// bytes is the batch's data + partition key bytes, counted in
	// Producer.inFlightBytes while it is in flight.
	bytes int64
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

func (p *Producer) streamLocked(name string) *streamState {
	st := p.streams[name]
	if st == nil {
		st = &streamState{name: name, maxRecordSize: p.opts.MaxRecordSize}
		st.nameRef, st.arnRef = streamRef(name)
		if l, ok := p.limits[name]; ok {
			st.maxRecordSize = l
		}
		p.streams[name] = st
		p.streamList = append(p.streamList, st)
	}
	return st
}

// whereLocked says where the unresolved records are, for the error of a
// Close that runs out of time: which stage holds them is what tells a
// slow Kinesis from a stuck key or shard.
func (p *Producer) whereLocked(now time.Time) string {
	fresh, prio, held, parked := 0, 0, 0, 0
	for _, st := range p.streamList {
		fresh += st.fresh.len()
		prio += st.prio.len()
		held += st.heldCount
	}
	parked = p.keys.parked()
	s := fmt.Sprintf("%d queued, %d due for retry, %d held by the rate limit, %d parked behind their key, %d backing off",
		fresh, prio, held, parked, len(p.waiting))
	if len(p.waiting) > 0 {
		s += fmt.Sprintf(" (next attempt in %s)", p.waiting[0].notBefore.Sub(now).Round(time.Millisecond))
	}
	s += fmt.Sprintf(", %d request(s) in flight", p.inFlight)
	// The longest backoffs first, and a few only: a stream may have
	// hundreds of shards, and the message goes into one log line.
	type backoff struct {
		shard string
		delay time.Duration
	}
	var bs []backoff
	for k, sh := range p.shards {
		bs = append(bs, backoff{k.shard, sh.delay})
	}
	slices.SortFunc(bs, func(a, b backoff) int {
		if c := cmp.Compare(b.delay, a.delay); c != 0 {
			return c
		}
		return strings.Compare(a.shard, b.shard)
	})
	const shown = 4
	for _, b := range bs[:min(len(bs), shown)] {
		s += fmt.Sprintf("; %s throttling backoff %s", b.shard, b.delay)
	}
	if len(bs) > shown {
		s += fmt.Sprintf("; %d more shard(s) backing off", len(bs)-shown)
	}
	return s
}
