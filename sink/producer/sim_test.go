package producer_test

// A randomized simulation of the producer against the in-process Kinesis
// model (internal/kinesisfake), on testing/synctest's fake clock. Each seed
// draws a scenario (streams, shards, keys, sizes, options, faults,
// resharding, outages, blocking callbacks, an early Close) and the run
// checks the producer's promises: every accepted Put gets exactly one
// result, within a bound of simulated time once the faults are over;
// nothing is reported delivered that Kinesis did not store; a record is
// stored more often than it was acknowledged only where the producer met a
// fault for it (an answer lost, a shard mismatch); with RetainOrdering each
// key's first stored copies are in Put order; a blocked callback does not
// hold back other records; and the buffers are empty after Close.
//
// A seed fixes the scenario, the fault draws and the producer's backoff
// jitter (Options.Rand), not the interleaving of the producer's
// goroutines, so a failing seed reproduces its conditions; run it with
// -count to see it fail again.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

var (
	simSeed  = flag.Int64("sim.seed", -1, "TestSimulation: run only this seed")
	simSeeds = flag.Int("sim.seeds", 0, "TestSimulation: number of seeds (0: the default budget)")
	simFirst = flag.Int64("sim.first", 1, "TestSimulation: first seed of the budget")
)

// The default budget: what make test runs, sized to take about a minute of
// wall time on a 2-core machine; -short (make unit) runs a tenth.
const (
	simDefaultSeeds = 2000
	simShortSeeds   = 200
)

func TestSimulation(t *testing.T) {
	var tot simTotals
	start := time.Now()
	if *simSeed >= 0 {
		runSimSeed(t, uint64(*simSeed), &tot)
	} else {
		n := *simSeeds
		if n == 0 {
			n = simDefaultSeeds
			if testing.Short() {
				n = simShortSeeds
			}
		}
		t.Run("seeds", func(t *testing.T) {
			for s := *simFirst; s < *simFirst+int64(n); s++ {
				t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
					t.Parallel()
					runSimSeed(t, uint64(s), &tot)
				})
			}
		})
	}
	t.Logf("%d seeds, %.1f simulated hours, %d records put (%d failed, %d stored more than once), %d PutRecords calls, %d faults met, %d blocked callbacks checked, %d early Closes; wall time %s",
		tot.seeds.Load(), time.Duration(tot.fake.Load()).Hours(), tot.records.Load(), tot.failed.Load(), tot.duplicated.Load(),
		tot.calls.Load(), tot.faults.Load(), tot.hangs.Load(), tot.earlyCloses.Load(), time.Since(start).Round(time.Millisecond))
}

type simTotals struct {
	seeds, fake, records, calls, faults atomic.Int64
	// What the runs exercised: hangs checked with other records
	// outstanding, early Closes, records stored more than once, records
	// failed.
	hangs, earlyCloses, duplicated, failed atomic.Int64
}

// simRepro is the command that runs one seed again.
func simRepro(seed uint64) string {
	return fmt.Sprintf("go test ./sink/producer -run '^TestSimulation$' -sim.seed=%d -count=1 -v", seed)
}

func runSimSeed(t *testing.T, seed uint64, tot *simTotals) {
	cfg := drawSim(seed)
	synctest.Test(t, func(t *testing.T) {
		defer func() {
			if t.Failed() {
				t.Logf("scenario: %s", cfg)
				t.Errorf("seed %d failed; reproduce with: %s", seed, simRepro(seed))
			}
		}()
		s := newSim(t, seed, cfg)
		s.run()
		tot.seeds.Add(1)
		tot.fake.Add(int64(s.elapsed))
		tot.records.Add(int64(cfg.n))
		tot.calls.Add(s.callCount)
		tot.faults.Add(s.faultCount.Load())
		tot.hangs.Add(s.hangsChecked)
		tot.duplicated.Add(s.duplicated)
		tot.failed.Add(s.failed)
		if cfg.closeAt > 0 {
			tot.earlyCloses.Add(1)
		}
	})
}

// simConfig is one seed's scenario.
type simConfig struct {
	streams   []int // shards per stream
	useARN    []bool
	prepare   bool
	n         int // records
	keys      int // 0: a key per record
	ehkShare  float64
	sizes     string // "small", "mixed", "large"
	oversize  float64
	putGap    time.Duration // mean pause between Puts, 0: none
	putBursts bool

	opts        producer.Options
	shardLimit  *kinesisfake.ShardLimit
	maxReqBytes int

	// Faults, all within [0, faultEnd) of the run.
	faultEnd                                                time.Duration
	pThrottle, pInternal                                    float64 // per entry
	pErr, pUnreach, pReset, pTimeout, pResetAfter, pTimeAft float64 // per request
	pDelay                                                  float64
	maxDelay                                                time.Duration
	reshards                                                int
	outages                                                 []simOutage
	shardOutages                                            []simShardOutage

	// Callbacks: a share of them sleep up to sleepMax; from record hang on
	// (-1: none), the first successful callback whose batch has a record to
	// retry blocks until the run has checked that everything else
	// resolves.
	sleepShare float64
	sleepMax   time.Duration
	hang       int

	// closeAt > 0: Close is called then, with closeDeadline, whatever is
	// still buffered.
	closeAt, closeDeadline time.Duration
}

type simOutage struct {
	stream   int
	from, to time.Duration
	kind     string // "unreachable", "error", "deleting"
	code     string
}

type simShardOutage struct {
	stream   int
	shard    int // index among the stream's first shards
	from, to time.Duration
	code     string
}

func (c simConfig) String() string {
	o := c.opts
	var b strings.Builder
	fmt.Fprintf(&b, "streams=%v arn=%v prepare=%v n=%d keys=%d ehk=%.2f sizes=%s oversize=%.3f putGap=%s bursts=%v",
		c.streams, c.useARN, c.prepare, c.n, c.keys, c.ehkShare, c.sizes, c.oversize, c.putGap, c.putBursts)
	fmt.Fprintf(&b, " | order=%v agg=%s rate=%g adaptive=%v maxRecs=%d maxBytes=%d linger=%s inFlight=%d inFlightBytes=%d retry=%s..%s ttl=%s timeout=%s buf=%d/%d failIfThrottled=%v",
		o.RetainOrdering, o.Aggregation, o.RateLimit, o.AdaptiveRateLimit, o.MaxRecordsPerRequest, o.MaxBytesPerRequest, o.Linger,
		o.MaxInFlight, o.MaxInFlightBytes, o.RetryInitialDelay, o.RetryMaxDelay, o.RecordTTL, o.RequestTimeout,
		o.MaxBufferedRecords, o.MaxBufferedBytes, o.FailIfThrottled)
	if c.shardLimit != nil {
		fmt.Fprintf(&b, " shardLimit=%+v", *c.shardLimit)
	}
	fmt.Fprintf(&b, " maxReqBytes=%d", c.maxReqBytes)
	fmt.Fprintf(&b, " | faultEnd=%s throttle=%.2f internal=%.2f err=%.2f unreach=%.2f reset=%.2f timeout=%.2f resetAfter=%.2f timeoutAfter=%.2f delay=%.2f(max %s) reshards=%d outages=%+v shardOutages=%+v",
		c.faultEnd, c.pThrottle, c.pInternal, c.pErr, c.pUnreach, c.pReset, c.pTimeout, c.pResetAfter, c.pTimeAft, c.pDelay, c.maxDelay,
		c.reshards, c.outages, c.shardOutages)
	fmt.Fprintf(&b, " | sleep=%.2f(max %s) hang=%d closeAt=%s closeDeadline=%s", c.sleepShare, c.sleepMax, c.hang, c.closeAt, c.closeDeadline)
	return b.String()
}

func drawSim(seed uint64) simConfig {
	r := rand.New(rand.NewPCG(seed, 0x51b0_51b0))
	chance := func(p float64) bool { return r.Float64() < p }
	dur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo)+1)) }
	// A share that is zero half the time, otherwise up to hi.
	share := func(hi float64) float64 {
		if chance(0.5) {
			return 0
		}
		return r.Float64() * hi
	}
	var c simConfig
	for range 1 + r.IntN(3) {
		c.streams = append(c.streams, 1+r.IntN(16))
		c.useARN = append(c.useARN, chance(0.2))
	}
	c.prepare = chance(0.8)
	// Log-uniform from 1 to 600 records.
	c.n = int(math.Exp(r.Float64() * math.Log(600)))
	switch {
	case chance(0.25):
		c.keys = 0
	default:
		c.keys = int(math.Exp(r.Float64() * math.Log(1000)))
	}
	if chance(0.15) {
		c.ehkShare = r.Float64()
	}
	c.sizes = []string{"small", "small", "mixed", "large"}[r.IntN(4)]
	if chance(0.05) {
		c.oversize = 0.02
	}
	if chance(0.6) {
		c.putGap = dur(0, 50*time.Millisecond)
		c.putBursts = chance(0.5)
	}

	o := &c.opts
	o.RetainOrdering = chance(0.5)
	o.Aggregation = []producer.AggregationMode{producer.AggregateNone, producer.AggregateNone, producer.AggregateByShard, producer.AggregateByKey}[r.IntN(4)]
	switch r.IntN(6) {
	case 0, 1:
	case 2:
		o.RateLimit = 150
	case 3:
		o.RateLimit = 100
	case 4:
		o.RateLimit = 1 + r.Float64()*300
	case 5:
		o.RateLimit = 0.3 + r.Float64()*5
	}
	o.AdaptiveRateLimit = o.RateLimit > 0 && chance(0.6)
	if chance(0.5) {
		o.MaxRecordsPerRequest = 1 + r.IntN(500)
	}
	if chance(0.3) {
		o.MaxBytesPerRequest = int(math.Exp(math.Log(1024) + r.Float64()*(math.Log(10<<20)-math.Log(1024))))
	}
	switch r.IntN(4) {
	case 0:
		o.Linger = -1
	case 1:
	default:
		o.Linger = dur(time.Millisecond, 500*time.Millisecond)
	}
	o.MaxInFlight = 1 + r.IntN(8)
	if chance(0.2) {
		o.MaxInFlightBytes = int64(1 + r.IntN(2<<20))
	}
	o.RetryInitialDelay = dur(time.Millisecond, 300*time.Millisecond)
	o.RetryMaxDelay = o.RetryInitialDelay + dur(0, 10*time.Second)
	switch r.IntN(3) {
	case 0:
		o.RecordTTL = -1
	case 1:
		o.RecordTTL = dur(time.Second, 60*time.Second)
	}
	o.RequestTimeout = dur(100*time.Millisecond, 10*time.Second)
	if chance(0.5) {
		o.MaxBufferedRecords = 1 + r.IntN(2000)
	}
	if chance(0.3) {
		o.MaxBufferedBytes = int64(1 + r.IntN(8<<20))
	}
	o.FailIfThrottled = chance(0.05)
	if chance(0.3) {
		c.shardLimit = &kinesisfake.ShardLimit{RecordsPerSecond: 5 + r.Float64()*300, BytesPerSecond: 64<<10 + r.Float64()*(1<<20), Burst: 0.2 + r.Float64()*2}
	}
	if chance(0.1) {
		c.maxReqBytes = 5 << 20
	}

	if chance(0.85) {
		c.faultEnd = dur(time.Second, 5*time.Minute)
		c.pThrottle = share(0.5)
		c.pInternal = share(0.2)
		c.pErr = share(0.2)
		c.pUnreach = share(0.1)
		c.pReset = share(0.1)
		c.pTimeout = share(0.1)
		c.pResetAfter = share(0.2)
		c.pTimeAft = share(0.1)
		c.pDelay = share(0.3)
		c.maxDelay = dur(0, 2*o.RequestTimeout)
		if chance(0.3) {
			c.reshards = 1 + r.IntN(6)
		}
		for range r.IntN(3) {
			from := dur(0, c.faultEnd)
			o := simOutage{stream: r.IntN(len(c.streams)), from: from, to: from + dur(0, c.faultEnd-from),
				kind: []string{"unreachable", "error", "error", "deleting"}[r.IntN(4)]}
			if o.kind == "deleting" && chance(0.7) {
				o.kind = "unreachable" // records failed as fatal say less than records that wait
			}
			o.code = []string{kinesisfake.CodeInternalFailureReq, kinesisfake.CodeServiceUnavailable, "ThrottlingException", kinesisfake.CodeThrottled}[r.IntN(4)]
			c.outages = append(c.outages, o)
		}
		for range r.IntN(3) {
			st := r.IntN(len(c.streams))
			from := dur(0, c.faultEnd)
			c.shardOutages = append(c.shardOutages, simShardOutage{stream: st, shard: r.IntN(c.streams[st]), from: from,
				to: from + dur(0, c.faultEnd-from), code: []string{kinesisfake.CodeThrottled, kinesisfake.CodeInternalFailure}[r.IntN(2)]})
		}
	}
	if chance(0.3) {
		c.sleepShare = r.Float64() * 0.05
		c.sleepMax = dur(time.Millisecond, 10*time.Second)
	}
	c.hang = -1
	// One sender blocked in a callback is the whole producer blocked.
	if chance(0.5) && c.n > 1 && o.MaxInFlight > 1 {
		c.hang = r.IntN(c.n)
	}
	if chance(0.25) {
		c.closeAt = dur(0, c.faultEnd+30*time.Second)
		c.closeDeadline = dur(0, 30*time.Second)
		c.hang = -1
	}
	return c
}

// simRecord is one record of the run and what became of it.
type simRecord struct {
	stream  int
	key     string
	ehk     string
	data    []byte
	size    int
	sleep   time.Duration
	putting bool // Put called
	accept  bool // Put returned nil
	results []producer.Result
	calls   int // PutRecords calls that carried it
	putAt   time.Time
	// answered: the last call that carried it stored it and said so (it
	// resolves with that call's batch, unless the producer saw a shard
	// mismatch).
	answered bool
	// exposures counts the calls that carried it and whose answer the
	// producer did not take as stored where predicted: a whole-request
	// error (the write may have happened) or a shard mismatch.
	exposures int
}

type sim struct {
	t     *testing.T
	seed  uint64
	cfg   simConfig
	model *kinesisfake.Model
	strs  []*kinesisfake.Stream
	names []string
	p     *producer.Producer
	start time.Time

	faultRng   *rand.Rand
	faultMu    sync.Mutex
	faultCount atomic.Int64
	initShards [][]string // each stream's shards at the start

	mu        sync.Mutex
	recs      []*simRecord
	pending   int // Puts not yet resolved (or refused)
	putDone   bool
	allDone   chan struct{}
	callCount int64
	// The records of the calls each goroutine made since it last ran a
	// callback: a sender's current batch.
	batchOf  map[uint64][]int
	inCB     map[uint64]bool
	hangCh   chan uint64 // the hanging callback's goroutine
	hung     bool
	release  chan struct{}
	elapsed  time.Duration
	closing  bool
	closeErr error
	stop     chan struct{} // closed when the run ends
	// Tallies for the closing note.
	hangsChecked, duplicated, failed int64
	releaseOnce                      sync.Once
	bg                               sync.WaitGroup
}

func newSim(t *testing.T, seed uint64, cfg simConfig) *sim {
	s := &sim{t: t, seed: seed, cfg: cfg, faultRng: rand.New(rand.NewPCG(seed, 0xfa17)), allDone: make(chan struct{}),
		batchOf: map[uint64][]int{}, inCB: map[uint64]bool{}, hangCh: make(chan uint64, 1), release: make(chan struct{}), stop: make(chan struct{})}
	s.start = time.Now()
	s.model = kinesisfake.New(kinesisfake.Config{ShardLimit: cfg.shardLimit, MaxRequestBytes: cfg.maxReqBytes, Faults: s.fault})
	for i, n := range cfg.streams {
		st := s.model.MustCreateStream(fmt.Sprintf("sim-%d", i), n)
		s.strs = append(s.strs, st)
		name := st.Name()
		if cfg.useARN[i] {
			name = st.ARN()
		}
		s.names = append(s.names, name)
		var ids []string
		for _, sh := range st.Shards() {
			ids = append(ids, sh.ID)
		}
		s.initShards = append(s.initShards, ids)
	}
	r := rand.New(rand.NewPCG(seed, 0xda7a))
	for i := range cfg.n {
		rec := &simRecord{stream: r.IntN(len(cfg.streams))}
		if cfg.keys == 0 {
			rec.key = "u" + strconv.Itoa(i)
		} else {
			rec.key = "k" + strconv.Itoa(r.IntN(cfg.keys))
		}
		if r.Float64() < cfg.ehkShare {
			rec.ehk = kpl.Hash{Hi: r.Uint64(), Lo: r.Uint64()}.String()
		}
		size := 4 + r.IntN(100)
		switch {
		case r.Float64() < cfg.oversize:
			size = 1<<20 + 1
		case cfg.sizes == "mixed" && r.IntN(10) == 0:
			size = 4 + r.IntN(64<<10)
		case cfg.sizes == "large":
			size = 4 + r.IntN(200<<10)
		}
		rec.data = make([]byte, size)
		binary.BigEndian.PutUint32(rec.data, uint32(i))
		rec.size = size + len(rec.key)
		if r.Float64() < cfg.sleepShare {
			rec.sleep = time.Duration(r.Int64N(int64(cfg.sleepMax) + 1))
		}
		s.recs = append(s.recs, rec)
	}
	return s
}

// fault is the model's fault hook: the seed's draws within the fault
// window, nothing after it.
func (s *sim) fault(q *kinesisfake.Request) kinesisfake.Fault {
	var f kinesisfake.Fault
	at := q.Now.Sub(s.start)
	c := &s.cfg
	if at >= c.faultEnd {
		return f
	}
	st := -1
	for i, n := range s.names {
		if q.Stream == n {
			st = i
		}
	}
	for _, o := range c.outages {
		if o.stream == st && at >= o.from && at < o.to {
			switch o.kind {
			case "unreachable":
				f.Unreachable = true
			case "error":
				f.Error = &kinesisfake.APIError{Code: o.code, Message: "injected outage"}
			}
			if f.Unreachable || f.Error != nil {
				s.faultCount.Add(1)
				return f
			}
		}
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	r := s.faultRng
	draw := func(p float64) bool { return p > 0 && r.Float64() < p }
	if q.Op != "PutRecords" {
		// Control calls fail too, but never hang: Prepare has only the
		// caller's context.
		if draw(c.pErr) {
			f.Error = &kinesisfake.APIError{Code: kinesisfake.CodeInternalFailureReq, Message: "injected"}
			s.faultCount.Add(1)
		} else if draw(c.pUnreach) {
			f.Unreachable = true
			s.faultCount.Add(1)
		}
		return f
	}
	switch {
	case draw(c.pUnreach):
		f.Unreachable = true
	case draw(c.pReset):
		f.Reset = true
	case draw(c.pTimeout):
		f.Timeout = true
	case draw(c.pErr):
		code := []string{kinesisfake.CodeInternalFailureReq, kinesisfake.CodeServiceUnavailable, "ThrottlingException", kinesisfake.CodeThrottled}[r.IntN(4)]
		f.Error = &kinesisfake.APIError{Code: code, Message: "injected"}
	case draw(c.pResetAfter):
		f.ResetAfterWrite = true
	case draw(c.pTimeAft):
		f.TimeoutAfterWrite = true
	}
	if draw(c.pDelay) {
		f.Delay = time.Duration(r.Int64N(int64(c.maxDelay) + 1))
	}
	if c.pThrottle > 0 || c.pInternal > 0 || len(c.shardOutages) > 0 {
		f.EntryErrors = make([]string, len(q.Entries))
		for i, e := range q.Entries {
			switch {
			case draw(c.pThrottle):
				f.EntryErrors[i] = kinesisfake.CodeThrottled
			case draw(c.pInternal):
				f.EntryErrors[i] = kinesisfake.CodeInternalFailure
			}
			for _, o := range c.shardOutages {
				if o.stream == st && at >= o.from && at < o.to && e.ShardID == s.initShards[st][o.shard] {
					f.EntryErrors[i] = o.code
				}
			}
		}
	}
	if !f.Unreachable && !f.Reset && !f.Timeout && f.Error == nil && !f.ResetAfterWrite && !f.TimeoutAfterWrite && f.Delay == 0 &&
		!slices.ContainsFunc(f.EntryErrors, func(e string) bool { return e != "" }) {
		return kinesisfake.Fault{}
	}
	s.faultCount.Add(1)
	return f
}

// goid is the calling goroutine's id: callbacks run on the sender that
// made the calls of their batch, which is how a blocked callback's batch
// is found.
func goid() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := bytes.Fields(b[:n])
	if len(f) < 2 {
		return 0
	}
	id, _ := strconv.ParseUint(string(f[1]), 10, 64)
	return id
}

func recordID(data []byte) int { return int(binary.BigEndian.Uint32(data)) }

// simClient is the model's client, watched: which records each call
// carried and what the producer learnt of them.
type simClient struct {
	c *kinesisfake.Client
	s *sim
}

func (w *simClient) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return w.c.DescribeStreamSummary(ctx, in, o...)
}

func (w *simClient) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return w.c.ListShards(ctx, in, o...)
}

func (w *simClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s := w.s
	ids := make([][]int, len(in.Records))
	for i, e := range in.Records {
		if kpl.IsAggregated(e.Data) {
			subs, err := kpl.Deaggregate(e.Data)
			if err != nil {
				s.t.Errorf("call carries an aggregate that does not decode: %v", err)
				continue
			}
			for _, u := range subs {
				ids[i] = append(ids[i], recordID(u.Data))
			}
		} else {
			ids[i] = []int{recordID(e.Data)}
		}
	}
	g := goid()
	out, err := w.c.PutRecords(ctx, in, o...)
	var stream *kinesisfake.Stream
	if err == nil {
		stream = s.model.Stream(streamArgOf(in))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callCount++
	if s.inCB[g] {
		s.inCB[g] = false
		s.batchOf[g] = s.batchOf[g][:0]
	}
	var shards []kinesisfake.ShardInfo
	for i, list := range ids {
		s.batchOf[g] = append(s.batchOf[g], list...)
		exposed := err != nil
		if err == nil && i < len(out.Records) && out.Records[i].ErrorCode == nil && in.Records[i].ExplicitHashKey != nil &&
			kpl.IsAggregated(in.Records[i].Data) && stream != nil {
			// An aggregate by shard is routed by the explicit hash key of
			// the shard predicted, its starting hash key. Landing on a shard
			// that does not start there (or where several shards of the
			// stream's history start, so that the prediction could have
			// been another) is a mismatch the producer may send again.
			if shards == nil {
				shards = stream.Shards()
			}
			ehk := *in.Records[i].ExplicitHashKey
			got := aws.ToString(out.Records[i].ShardId)
			cands, hit := 0, false
			for _, sh := range shards {
				if sh.StartingHashKey == ehk {
					cands++
					hit = hit || sh.ID == got
				}
			}
			exposed = !hit || cands > 1
		}
		answered := err == nil && i < len(out.Records) && out.Records[i].ErrorCode == nil
		for _, id := range list {
			if id < 0 || id >= len(s.recs) {
				s.t.Errorf("call carries record %d, which was never put", id)
				continue
			}
			s.recs[id].calls++
			s.recs[id].answered = answered
			if exposed {
				s.recs[id].exposures++
			}
		}
	}
	return out, err
}

func streamArgOf(in *kinesis.PutRecordsInput) string {
	if in.StreamARN != nil {
		return *in.StreamARN
	}
	return aws.ToString(in.StreamName)
}

func (s *sim) callback(r producer.Result) {
	id := r.Tag.(int)
	g := goid()
	s.mu.Lock()
	rec := s.recs[id]
	rec.results = append(rec.results, r)
	s.inCB[g] = true
	if len(rec.results) == 1 {
		s.pending--
		s.checkDoneLocked()
	}
	// The hang is the first success from record c.hang on whose batch
	// holds a record to retry: what a blocked callback could hold back.
	hang := false
	if s.cfg.hang >= 0 && id >= s.cfg.hang && r.Err == nil && !s.hung {
		for _, b := range s.batchOf[g] {
			if !s.recs[b].answered && len(s.recs[b].results) == 0 {
				hang, s.hung = true, true
				break
			}
		}
	}
	s.mu.Unlock()
	if hang {
		s.hangCh <- g
		<-s.release
	}
	if rec.sleep > 0 {
		time.Sleep(rec.sleep)
	}
}

func (s *sim) checkDoneLocked() {
	if s.putDone && s.pending == 0 {
		select {
		case <-s.allDone:
		default:
			close(s.allDone)
		}
	}
}

func (s *sim) put() {
	c := &s.cfg
	r := rand.New(rand.NewPCG(s.seed, 0x9017))
	defer func() {
		s.mu.Lock()
		s.putDone = true
		s.checkDoneLocked()
		s.mu.Unlock()
	}()
	for i, rec := range s.recs {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if c.putGap > 0 && !closing && (!c.putBursts || r.IntN(50) == 0) {
			gap := time.Duration(r.Int64N(int64(2*c.putGap) + 1))
			if c.putBursts {
				gap *= 50
			}
			time.Sleep(gap)
		}
		s.mu.Lock()
		rec.putting = true
		s.pending++
		s.mu.Unlock()
		err := s.p.Put(context.Background(), producer.Entry{Stream: s.names[rec.stream], PartitionKey: rec.key, ExplicitHashKey: rec.ehk,
			Data: rec.data, Tag: i, Callback: s.callback})
		s.mu.Lock()
		rec.accept = err == nil
		rec.putAt = time.Now()
		closing = s.closing
		if err != nil {
			s.pending--
		}
		s.mu.Unlock()
		if err != nil && !(errors.Is(err, producer.ErrClosed) && closing) {
			s.t.Errorf("record %d: Put: %v", i, err)
		}
	}
}

// bound is how long after the faults are over (and the Puts done) every
// record may take to resolve: the longest backoffs and pauses, a timed-out
// request, the time the shard limits and the rate limit need to let the
// records through (as if all were on one shard), the adaptive limit's
// climb from its floor, and the callbacks' sleeps.
func (s *sim) bound() time.Duration {
	c := &s.cfg
	o := c.opts
	var recs, bytes float64
	var sleeps time.Duration
	for _, r := range s.recs {
		recs++
		bytes += float64(r.size)
		sleeps += r.sleep
	}
	recRate, byteRate := 1000.0, float64(1<<20)
	if l := c.shardLimit; l != nil {
		recRate, byteRate = min(recRate, l.RecordsPerSecond), min(byteRate, l.BytesPerSecond)
	}
	if o.RateLimit > 0 {
		recRate, byteRate = min(recRate, 10*o.RateLimit), min(byteRate, float64(1<<20)/100*o.RateLimit)
		recRate = max(recRate, 1)
	}
	drain := time.Duration((recs/recRate + bytes/byteRate) * 3 * float64(time.Second))
	return 4*o.RetryMaxDelay + 3*o.RequestTimeout + 2*time.Second + drain + 2*time.Minute + sleeps
}

func (s *sim) run() {
	t := s.t
	c := &s.cfg
	opts := c.opts
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.Rand = rand.New(rand.NewPCG(s.seed, 0xb0ff))
	p, err := producer.New(&simClient{c: s.model.Client(), s: s}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	if c.prepare {
		for _, n := range s.names {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = p.Prepare(ctx, n) // may meet a fault; the producer loads the map itself then
			cancel()
		}
	}
	s.chaos()
	go s.put()

	if c.closeAt > 0 {
		s.closeEarly()
	} else {
		s.drain()
	}
	s.elapsed = time.Since(s.start)
	close(s.stop)
	s.bg.Wait()
	s.check()
}

// sleep waits d or until the run ends, and says whether d passed.
func (s *sim) sleep(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-s.stop:
		return false
	}
}

// chaos starts the goroutines that reshard and change stream statuses
// within the fault window.
func (s *sim) chaos() {
	c := &s.cfg
	r := rand.New(rand.NewPCG(s.seed, 0xc4a05))
	for range c.reshards {
		at := time.Duration(r.Int64N(int64(c.faultEnd) + 1))
		st := s.strs[r.IntN(len(s.strs))]
		split, pick := r.IntN(2) == 0, r.Uint64()
		s.bg.Go(func() {
			if !s.sleep(at) {
				return
			}
			open := st.OpenShards()
			if split && len(open) < 24 || len(open) == 1 {
				_, _ = st.SplitEvenly(open[pick%uint64(len(open))].ID)
				return
			}
			i := int(pick % uint64(len(open)-1))
			_, _ = st.MergeShards(open[i].ID, open[i+1].ID)
		})
	}
	for _, o := range c.outages {
		if o.kind != "deleting" {
			continue
		}
		st := s.strs[o.stream]
		s.bg.Go(func() {
			if !s.sleep(o.from) {
				return
			}
			st.SetStatus(types.StreamStatusDeleting)
			s.sleep(o.to - o.from)
			st.SetStatus(types.StreamStatusActive)
		})
	}
}

// closeEarly closes the producer at closeAt, whatever it still holds: each
// accepted record must still get its one result by the time Close returns.
func (s *sim) closeEarly() {
	c := &s.cfg
	time.Sleep(c.closeAt)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.closeDeadline)
	s.closeErr = s.p.Close(ctx)
	cancel()
	select {
	case <-s.allDone:
	case <-time.After(time.Minute):
		s.t.Errorf("records unresolved a minute after Close returned (%v)", s.closeErr)
	}
}

// drain waits for every record's result (checking, if a callback hangs,
// that the others resolve meanwhile), then flushes and closes.
func (s *sim) drain() {
	t := s.t
	c := &s.cfg
	var putSpan time.Duration
	if c.putGap > 0 {
		putSpan = time.Duration(c.n) * 2 * c.putGap
		if c.putBursts {
			putSpan = time.Duration(c.n/50+1) * 100 * c.putGap
		}
	}
	bound := s.bound()
	deadline := s.start.Add(max(c.faultEnd, putSpan) + bound)
	for waiting := true; waiting; {
		select {
		case <-s.allDone:
			waiting = false
		case g := <-s.hangCh:
			s.checkHang(g, bound)
			deadline = deadline.Add(time.Since(s.start))
		case <-time.After(time.Until(deadline)):
			s.mu.Lock()
			var open []string
			for i, r := range s.recs {
				if r.accept && len(r.results) == 0 && len(open) < 10 {
					open = append(open, fmt.Sprintf("%d (key %s, stream %d, %d calls)", i, r.key, r.stream, r.calls))
				}
			}
			pending := s.pending
			s.mu.Unlock()
			t.Errorf("liveness: %d record(s) unresolved %s after the faults ended and the Puts were due (bound %s), e.g. %v; stats %+v",
				pending, time.Since(s.start.Add(max(c.faultEnd, putSpan))).Round(time.Millisecond), bound, open, s.p.Stats())
			waiting = false
		}
	}
	// A hang that began after the last record resolved is not checked.
	s.releaseHang()
	if !t.Failed() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.p.Flush(ctx); err != nil {
			t.Errorf("Flush after every record resolved: %v", err)
		}
		cancel()
		if st := s.p.Stats(); st.BufferedRecords != 0 || st.BufferedBytes != 0 || st.InFlightRequests != 0 ||
			st.InFlightBytes != 0 || st.WaitingRetry != 0 || st.HeldRecords != 0 {
			t.Errorf("after Flush: buffers not empty: %+v", st)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.p.Close(ctx) }()
	select {
	case err := <-closed:
		if err != nil && !t.Failed() {
			t.Errorf("Close after every record resolved: %v", err)
		}
	case <-time.After(time.Hour):
		// Leaving the bubble with Close blocked makes synctest panic with
		// every goroutine's stack, which is what such a bug needs.
		t.Errorf("Close did not return within an hour of its one-minute deadline; stats %+v", s.p.Stats())
	}
}

func (s *sim) releaseHang() { s.releaseOnce.Do(func() { close(s.release) }) }

// checkHang runs while a successful callback blocks on goroutine g, whose
// batch holds a record to retry: every accepted record must resolve
// meanwhile, that one included, except those whose callbacks wait behind
// the blocked one (its batch's, which run on g) and, with RetainOrdering,
// the later records of their keys, released only once those callbacks
// have returned.
func (s *sim) checkHang(g uint64, bound time.Duration) {
	t := s.t
	c := &s.cfg
	defer s.releaseHang()
	s.mu.Lock()
	// A record of the batch that Kinesis took resolves in the batch's
	// callbacks, after this one; so may one that failed for good: under
	// FailIfThrottled, on a stream refused as missing, or past its TTL.
	// The others are retried, and must go while the callback blocks.
	ttl := c.opts.RecordTTL
	if ttl == 0 {
		ttl = producer.DefaultRecordTTL
	}
	deleting := slices.ContainsFunc(c.outages, func(o simOutage) bool { return o.kind == "deleting" })
	excused := map[int]bool{}
	for _, id := range s.batchOf[g] {
		r := s.recs[id]
		if !r.answered && !c.opts.FailIfThrottled && !deleting &&
			(c.opts.RetainOrdering || ttl < 0 || r.putAt.Add(ttl).After(time.Now().Add(c.opts.RetryMaxDelay))) {
			continue
		}
		excused[id] = true
	}
	if c.opts.RetainOrdering {
		first := map[[2]string]int{}
		for id := range excused {
			r := s.recs[id]
			k := [2]string{strconv.Itoa(r.stream), r.key}
			if f, ok := first[k]; !ok || id < f {
				first[k] = id
			}
		}
		for i, r := range s.recs {
			if f, ok := first[[2]string{strconv.Itoa(r.stream), r.key}]; ok && i > f {
				excused[i] = true
			}
		}
	}
	s.mu.Unlock()
	end := time.Now().Add(max(0, time.Until(s.start.Add(c.faultEnd))) + bound)
	checked := false // some record was outstanding while the callback blocked
	for {
		s.mu.Lock()
		var open []int
		for i, r := range s.recs {
			if r.accept && len(r.results) == 0 && !excused[i] {
				open = append(open, i)
			}
		}
		putDone := s.putDone
		s.mu.Unlock()
		if len(open) == 0 {
			if checked {
				s.hangsChecked++
			}
			return
		}
		checked = true
		if time.Now().After(end) {
			var ex []string
			for _, i := range open[:min(len(open), 10)] {
				r := s.recs[i]
				ex = append(ex, fmt.Sprintf("%d (key %s, stream %d, %d calls)", i, r.key, r.stream, r.calls))
			}
			t.Errorf("while record %d's callback blocked, %d other record(s) did not resolve (putter done: %v), e.g. %v; stats %+v",
				c.hang, len(open), putDone, ex, s.p.Stats())
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check reads back what Kinesis stored and holds the results to it.
func (s *sim) check() {
	t := s.t
	c := &s.cfg
	type copyPos struct {
		seq   string
		sub   int
		shard string
	}
	copies := map[int][]copyPos{}
	for _, st := range s.strs {
		users, err := st.UserRecords()
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			id := recordID(u.Data)
			if id >= len(s.recs) {
				t.Errorf("stored record %d was never put", id)
				continue
			}
			copies[id] = append(copies[id], copyPos{u.SequenceNumber, u.SubIndex, u.ShardID})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var delivered, failed, failedAtPut uint64
	type firstCopy struct {
		id  int
		pos copyPos
	}
	byKey := map[[2]string][]firstCopy{}
	errs := 0
	report := func(format string, args ...any) {
		errs++
		if errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	for id, r := range s.recs {
		cps := copies[id]
		if !r.accept {
			if len(r.results) > 0 {
				report("record %d: Put refused it, yet %d result(s) came", id, len(r.results))
			}
			if len(cps) > 0 {
				report("record %d: Put refused it, yet it was stored", id)
			}
			continue
		}
		if len(r.results) != 1 {
			report("record %d: %d results, want exactly 1", id, len(r.results))
			if len(r.results) == 0 {
				continue
			}
		}
		res := r.results[0]
		if res.Attempts != r.calls {
			report("record %d: result says %d attempt(s), %d call(s) carried it", id, res.Attempts, r.calls)
		}
		ok := res.Err == nil
		if ok {
			delivered++
			if len(cps) == 0 {
				report("record %d: reported delivered (shard %s, sequence number %s) and not stored", id, res.ShardID, res.SequenceNumber)
			} else if !slices.ContainsFunc(cps, func(p copyPos) bool { return p.shard == res.ShardID && p.seq == res.SequenceNumber }) {
				report("record %d: reported stored as %s %s, stored as %+v", id, res.ShardID, res.SequenceNumber, cps)
			}
		} else {
			var pe *producer.Error
			if !errors.As(res.Err, &pe) {
				report("record %d: error %v is not a *producer.Error", id, res.Err)
			} else if pe.Kind == producer.KindOversize || pe.Kind == producer.KindInvalid {
				failedAtPut++
			}
			failed++
		}
		if len(cps) > 1 {
			s.duplicated++
		}
		if !ok {
			s.failed++
		}
		acked := 0
		if ok {
			acked = 1
		}
		if len(cps) > acked+r.exposures {
			report("record %d: stored %d time(s), acknowledged %d time(s), and the producer met a fault for it in only %d of its %d call(s) (result %v)",
				id, len(cps), acked, r.exposures, r.calls, res.Err)
		}
		if len(cps) > 0 {
			first := slices.MinFunc(cps, func(a, b copyPos) int {
				if c := strings.Compare(a.seq, b.seq); c != 0 {
					return c
				}
				return a.sub - b.sub
			})
			k := [2]string{strconv.Itoa(r.stream), r.key}
			byKey[k] = append(byKey[k], firstCopy{id, first})
		}
	}
	if c.opts.RetainOrdering {
		for k, list := range byKey {
			for i := 1; i < len(list); i++ {
				a, b := list[i-1], list[i]
				if a.pos.seq > b.pos.seq || a.pos.seq == b.pos.seq && a.pos.sub > b.pos.sub {
					report("stream %s key %s: record %d (put after %d) first stored at %s/%d, before %d's first copy at %s/%d",
						k[0], k[1], b.id, a.id, b.pos.seq, b.pos.sub, a.id, a.pos.seq, a.pos.sub)
				}
			}
		}
	}
	st := s.p.Stats()
	if st.BufferedRecords != 0 || st.BufferedBytes != 0 || st.InFlightRequests != 0 || st.InFlightBytes != 0 ||
		st.WaitingRetry != 0 || st.HeldRecords != 0 {
		report("after Close: buffers not empty: %+v", st)
	}
	if st.Delivered != delivered || st.Failed+failedAtPut != failed {
		report("after Close: stats count %d delivered and %d failed; the callbacks saw %d and %d (%d refused at Put)",
			st.Delivered, st.Failed, delivered, failed, failedAtPut)
	}
	if errs > 20 {
		t.Errorf("... and %d more", errs-20)
	}
}
