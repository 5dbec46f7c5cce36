package producer_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// faultInjector is what the fault tests do with the fault proxy: the proxy
// in front of kinesalite, or modelProxy on the in-process model.
type faultInjector interface {
	SetRules(faultproxy.Rules)
	Counters() faultproxy.Counters
	Hold()
	Release()
	ShardFor(ctx context.Context, stream, partitionKey, explicitHashKey string) (string, error)
}

// models finds the model behind a client that onModel handed out.
var models sync.Map // *kinesisfake.Client -> *kinesisfake.Model

// newFaultEnvOn is newFaultEnv on either Kinesis: kinesalite behind the
// fault proxy, or the model with modelProxy's fault hook.
func newFaultEnvOn(t *testing.T, c kinesisAPI, shards int32, seed uint64, opts producer.Options) *faultEnv {
	t.Helper()
	mc, ok := c.(*kinesisfake.Client)
	if !ok {
		return newFaultEnv(t, shards, seed, opts)
	}
	m, _ := models.Load(mc)
	px := &modelProxy{m: m.(*kinesisfake.Model), rng: rand.New(rand.NewPCG(seed, seed)), through: map[uint64]bool{}}
	px.m.SetFaults(px.fault)
	stream := createStream(t, c, shards)
	p, err := producer.New(&heldClient{kinesisAPI: c, px: px}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// A test that fails before closing its producer would leave its
	// goroutines in the bubble, which synctest reports as a deadlock over
	// the failure; a second Close is harmless.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		px.Release()
		_ = p.Close(ctx)
	})
	return &faultEnv{direct: c, proxy: px, p: p, stream: stream}
}

// modelProxy gives the model the fault proxy's rules, with its counters, so
// that a fault test means the same on either: the same draws per request
// and entry (from its own generator), requests named by their number among
// the PutRecords calls that reached it, refusals while unreachable, and
// Hold (in heldClient, where the caller's context can end the wait).
type modelProxy struct {
	m *kinesisfake.Model

	mu       sync.Mutex
	rules    faultproxy.Rules
	rng      *rand.Rand
	counters faultproxy.Counters
	gate     chan struct{}
	// through marks the goroutines calling through heldClient (the model
	// runs the fault hook on the caller's goroutine): the test's own calls
	// on e.direct go straight to the model, as they go around the proxy.
	through map[uint64]bool
	buckets map[string]*proxyBucket // Rules.ShardLimit's, by stream and shard
}

// enter and leave bracket a call through the proxy.
func (p *modelProxy) enter() uint64 {
	g := goid()
	p.mu.Lock()
	p.through[g] = true
	p.mu.Unlock()
	return g
}

func (p *modelProxy) leave(g uint64) {
	p.mu.Lock()
	delete(p.through, g)
	p.mu.Unlock()
}

func (p *modelProxy) SetRules(r faultproxy.Rules) {
	p.mu.Lock()
	p.rules = r
	p.mu.Unlock()
}

func (p *modelProxy) Counters() faultproxy.Counters {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counters
}

func (p *modelProxy) Hold() {
	p.mu.Lock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
	p.mu.Unlock()
}

func (p *modelProxy) Release() {
	p.mu.Lock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
	p.mu.Unlock()
}

func (p *modelProxy) ShardFor(_ context.Context, stream, partitionKey, explicitHashKey string) (string, error) {
	return p.m.Stream(stream).ShardFor(partitionKey, explicitHashKey)
}

func (p *modelProxy) draw(f float64) bool { return f > 0 && p.rng.Float64() < f }

// fault decides a call as the proxy's ServeHTTP and putRecords do.
func (p *modelProxy) fault(q *kinesisfake.Request) kinesisfake.Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.through[goid()] {
		return kinesisfake.Fault{} // a call on e.direct, which bypasses the proxy
	}
	p.counters.Requests++
	rl := p.rules
	if q.Now.Before(rl.UnreachableUntil) {
		p.counters.Refused++
		return kinesisfake.Fault{Unreachable: true}
	}
	if q.Op == "ListShards" && rl.FailListShards {
		p.counters.ListShardsFailed++
		return kinesisfake.Fault{Error: &kinesisfake.APIError{Code: kinesisfake.CodeAccessDenied, Message: "Injected by modelProxy."}}
	}
	if q.Op != "PutRecords" {
		return kinesisfake.Fault{}
	}
	p.counters.PutRecords++
	num := p.counters.PutRecords
	reset := p.draw(rl.ResetFraction)
	httpErr := p.draw(rl.ErrorFraction)
	resetAfter := p.draw(rl.ResetAfterForwardFraction)
	delay := rl.Delay > 0 && p.draw(rl.DelayFraction)
	drop := make([]bool, len(q.Entries))
	for i := range drop {
		drop[i] = p.draw(rl.DropFraction)
	}
	named := false
	for _, l := range [][]int64{rl.ResetRequests, rl.ResetAfterForwardRequests, rl.ErrorRequests, rl.DelayRequests, rl.DropRequests} {
		named = named || slices.Contains(l, num)
	}
	if named {
		reset = slices.Contains(rl.ResetRequests, num)
		httpErr = slices.Contains(rl.ErrorRequests, num)
		resetAfter = slices.Contains(rl.ResetAfterForwardRequests, num)
		delay = rl.Delay > 0 && slices.Contains(rl.DelayRequests, num)
		for i := range drop {
			drop[i] = slices.Contains(rl.DropRequests, num)
		}
	}
	switch {
	case reset:
		p.counters.Resets++
		return kinesisfake.Fault{Reset: true}
	case httpErr:
		p.counters.HTTPErrors++
		status, code := rl.ErrorStatus, rl.ErrorCode
		if status == 0 {
			status = 500
		}
		if code == "" {
			// The proxy sends 500 as InternalFailure and other statuses with
			// no body; a 503 without a code reads as ServiceUnavailable.
			code = map[int]string{500: kinesisfake.CodeInternalFailure, 503: kinesisfake.CodeServiceUnavailable}[status]
		}
		return kinesisfake.Fault{Error: &kinesisfake.APIError{Code: code, Message: "Injected by modelProxy.", Status: status}}
	}
	f := kinesisfake.Fault{EntryErrors: make([]string, len(q.Entries))}
	for i, e := range q.Entries {
		for _, o := range rl.ShardOutages {
			if o.Stream == q.Stream && o.ShardID == e.ShardID && q.Now.Before(o.Until) {
				f.EntryErrors[i] = orThrottled(o.Code)
				p.counters.EntriesShardDown++
				break
			}
		}
		switch {
		case f.EntryErrors[i] != "":
		case drop[i]:
			f.EntryErrors[i] = orThrottled(rl.DropCode)
			p.counters.EntriesDropped++
		case rl.ShardLimit != nil && p.overLimitLocked(rl.ShardLimit, q.Stream+"/"+e.ShardID, e.Size, q.Now):
			f.EntryErrors[i] = kinesisfake.CodeThrottled
		default:
			p.counters.EntriesForwarded++
		}
	}
	if delay {
		p.counters.Delayed++
		f.Delay = rl.Delay
	}
	if resetAfter {
		p.counters.ResetsAfterWrite++
		f.ResetAfterWrite = true
	}
	return f
}

// overLimitLocked is the proxy's shard limit: a token bucket per shard,
// refilled on the model's clock; it takes the entry's tokens when it can.
func (p *modelProxy) overLimitLocked(l *faultproxy.ShardLimit, key string, size int, now time.Time) bool {
	burst := l.Burst
	if burst <= 0 {
		burst = 1
	}
	if p.buckets == nil {
		p.buckets = map[string]*proxyBucket{}
	}
	b := p.buckets[key]
	if b == nil {
		b = &proxyBucket{records: l.RecordsPerSecond * burst, bytes: l.BytesPerSecond * burst, at: now}
		p.buckets[key] = b
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.records = min(b.records+dt*l.RecordsPerSecond, l.RecordsPerSecond*burst)
		b.bytes = min(b.bytes+dt*l.BytesPerSecond, l.BytesPerSecond*burst)
		b.at = now
	}
	if b.records < 1 || b.bytes < float64(size) {
		p.counters.EntriesOverLimit++
		return true
	}
	b.records--
	b.bytes -= float64(size)
	p.counters.EntriesUnderLimit++
	return false
}

type proxyBucket struct {
	records, bytes float64
	at             time.Time
}

func orThrottled(code string) string {
	if code == "" {
		return kinesisfake.CodeThrottled
	}
	return code
}

// heldClient is the producer's client in a model fault test, its way
// through the proxy. PutRecords calls wait while the proxy holds them, as
// at the proxy's gate, until Release or their context ends; and each takes
// kinesaliteLatency, since answers that take no time at all change what
// the tests measure (a record released by a completion would leave alone
// in the next request, before any other completion, so that nothing
// aggregates).
type heldClient struct {
	kinesisAPI
	px *modelProxy
}

const kinesaliteLatency = 5 * time.Millisecond

func (h *heldClient) ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	defer h.px.leave(h.px.enter())
	return h.kinesisAPI.ListShards(ctx, in, optFns...)
}

func (h *heldClient) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	defer h.px.leave(h.px.enter())
	return h.kinesisAPI.DescribeStreamSummary(ctx, in, optFns...)
}

func (h *heldClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	h.px.mu.Lock()
	gate := h.px.gate
	if gate != nil {
		h.px.counters.Held++
	}
	h.px.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	tm := time.NewTimer(kinesaliteLatency)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer h.px.leave(h.px.enter())
	return h.kinesisAPI.PutRecords(ctx, in, optFns...)
}
