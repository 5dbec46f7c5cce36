package producer_test

import (
	"context"
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
	px := &modelProxy{Injector: faultproxy.NewInjector(seed), m: m.(*kinesisfake.Model), through: map[uint64]bool{}}
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

// modelProxy is the fault proxy's injector as the model's fault hook, so
// that a fault test means the same on either Kinesis, for the calls the
// producer makes through heldClient.
type modelProxy struct {
	*faultproxy.Injector
	m *kinesisfake.Model

	mu sync.Mutex
	// through marks the goroutines calling through heldClient (the model
	// runs the fault hook on the caller's goroutine): the test's own calls
	// on e.direct go straight to the model, as they go around the proxy.
	through map[uint64]bool
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

func (p *modelProxy) ShardFor(_ context.Context, stream, partitionKey, explicitHashKey string) (string, error) {
	return p.m.Stream(stream).ShardFor(partitionKey, explicitHashKey)
}

func (p *modelProxy) fault(q *kinesisfake.Request) kinesisfake.Fault {
	p.mu.Lock()
	through := p.through[goid()]
	p.mu.Unlock()
	if !through {
		return kinesisfake.Fault{} // a call on e.direct, which bypasses the proxy
	}
	return p.ModelFault(q)
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
	if err := h.px.Wait(ctx); err != nil {
		return nil, err
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
