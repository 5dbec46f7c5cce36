package faultsuite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// result is one row of the suite's table.
type result struct {
	Scenario string
	Sink     string // "go", "nar" or "java"
	Unacked  int64  // records neither acked nor failed when the drain wait ended (Java sink)
	// ProducerCopies are the messages the publisher sent twice (resending
	// what the broker had written but not confirmed); Duplicates includes
	// their copies in Kinesis, which no sink can tell from new messages.
	ProducerCopies int
	Records        int // records that must be in Kinesis
	Stored         int // user records read back, copies included
	Missing        int
	MissingIDs     []int
	Duplicates     int
	OutOfOrder     int // -1: not checked (retainOrdering off)
	Ordered        bool
	Faults         string
	Duration       time.Duration
	Err            string
}

type suite struct {
	kin         *testenv.KinesisEnv
	pulsar      *testenv.PulsarEnv
	bin         string
	logDir      string
	n           int
	span        time.Duration
	seed        uint64
	aggregation string // "": the sink's default (on)
	sinks       []string
	javaNAR     string        // the Java sink's NAR (KS_FAULTS_JAVA_NAR)
	javaDrain   time.Duration // how long a Java run waits for its backlog to drain

	mu      sync.Mutex
	results []result
}

func (s *suite) add(r result) {
	s.mu.Lock()
	s.results = append(s.results, r)
	s.mu.Unlock()
}

// drainTimeout bounds how long a scenario waits for the sink to write
// everything once publishing is over. The Java sink gets less: what it has
// not resolved by then it is not going to (it neither acks nor fails a
// record the KPL gave up on), and the table reports it.
func (s *suite) drainTimeout(r *run) time.Duration {
	if r.sink == "java" {
		return s.javaDrain
	}
	return 3*time.Minute + time.Duration(s.n)*10*time.Millisecond
}

// TestFaultSuite runs every scenario and prints the table. It runs only with
// KS_FAULTS=1 (make test-faults, make test): see the package documentation.
func TestFaultSuite(t *testing.T) {
	if os.Getenv("KS_FAULTS") != "1" {
		t.Skip("the fault suite runs with KS_FAULTS=1 (make test-faults), alone: it restarts a broker and loads the machine")
	}
	s := &suite{
		kin:    testenv.Kinesis(t),
		pulsar: testenv.Pulsar(t),
		bin:    sinkBinary(t),
		logDir: logDir(t),
		n:      envInt(t, "KS_FAULTS_N", 20000),
		span:   time.Duration(envInt(t, "KS_FAULTS_PUBLISH_SECONDS", 15)) * time.Second,
		seed:   uint64(time.Now().UnixNano()),
	}
	if v := os.Getenv("KS_FAULTS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("KS_FAULTS_SEED=%q: want an unsigned integer", v)
		}
		s.seed = seed
	}
	s.sinks = []string{"go"}
	if v := os.Getenv("KS_FAULTS_SINKS"); v != "" {
		s.sinks = strings.Split(v, ",")
	}
	for _, sk := range s.sinks {
		if sk != "go" && sk != "nar" && sk != "java" {
			t.Fatalf("KS_FAULTS_SINKS=%q: want a comma-separated list of go, nar and java", os.Getenv("KS_FAULTS_SINKS"))
		}
	}
	s.javaNAR = os.Getenv("KS_FAULTS_JAVA_NAR")
	s.javaDrain = envDuration(t, "KS_FAULTS_JAVA_DRAIN", 2*time.Minute)
	switch v := os.Getenv("KS_FAULTS_AGGREGATION"); v {
	case "", "false", "true":
		s.aggregation = v
	default:
		t.Fatalf("KS_FAULTS_AGGREGATION=%q: want true or false", v)
	}
	agg := s.aggregation
	if agg == "" {
		agg = "default (on)"
	}
	fmt.Printf("fault suite: %d records per scenario, published over %s, seed %d, aggregation %s; sink logs in %s\n",
		s.n, s.span, s.seed, agg, s.logDir)

	start := time.Now()
	// One group per sink, so that the two never share the machine.
	for _, sk := range s.sinks {
		group, prefix := "kinesis", ""
		if sk != "go" {
			group, prefix = sk, sk+"-"
		}
		t.Run(group, func(t *testing.T) {
			for i, sc := range kinesisScenarios() {
				sc := sc
				seed := s.seed + uint64(i)
				t.Run(prefix+sc.name, func(t *testing.T) {
					t.Parallel()
					s.runFaultScenario(t, sc, seed, sk)
				})
			}
			t.Run(prefix+"sigkill-x3", func(t *testing.T) { t.Parallel(); s.sigkill(t, sk) })
			t.Run(prefix+"sigterm-in-flight", func(t *testing.T) { t.Parallel(); s.sigterm(t, sk) })
		})
		// Alone: it stops a broker, and its timing should not depend on the others.
		t.Run(prefix+"broker-restart", func(t *testing.T) { s.brokerRestart(t, sk) })
	}

	s.report(t, time.Since(start))
	scanForSecret(t, s.logDir)
}

// sinkRank orders a scenario's rows: ours, then through our NAR, then the
// Java sink.
var sinkRank = map[string]int{"go": 0, "nar": 1, "java": 2}

func (s *suite) report(t *testing.T, total time.Duration) {
	sort.SliceStable(s.results, func(i, j int) bool {
		if s.results[i].Scenario != s.results[j].Scenario {
			return s.results[i].Scenario < s.results[j].Scenario
		}
		return sinkRank[s.results[i].Sink] < sinkRank[s.results[j].Sink]
	})
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tsink\trecords\tmissing\tduplicates\tcopies in topic\tout-of-order\tunacked\tinjected faults\tduration")
	for _, r := range s.results {
		ooo := "n/a"
		if r.Ordered {
			ooo = strconv.Itoa(r.OutOfOrder)
		}
		faults := r.Faults
		if r.Err != "" {
			faults += " [FAILED: " + r.Err + "]"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", r.Scenario, r.Sink, r.Records, r.Missing, r.Duplicates,
			r.ProducerCopies, ooo, r.Unacked, faults, r.Duration.Round(100*time.Millisecond))
	}
	w.Flush()
	fmt.Fprintf(&b, "%d scenarios in %s; out-of-order is checked where retainOrdering is on; sink logs in %s\n",
		len(s.results), total.Round(time.Second), s.logDir)
	fmt.Print("\n" + b.String())
	_ = os.WriteFile(filepath.Join(s.logDir, "results.txt"), []byte(b.String()), 0o644)
}

// finish records a scenario's row and fails t on lost or reordered records.
func (s *suite) finish(t *testing.T, r *run, res result, started time.Time, err error) {
	res.Scenario = r.name
	res.Sink = r.sink
	res.Unacked = r.leftUnacked
	if n, e := r.topicCopies(); e == nil {
		res.ProducerCopies = n
	} else {
		r.notes = append(r.notes, "producer copies not counted: "+e.Error())
	}
	res.Duration = time.Since(started)
	res.Faults = faultSummary(r.proxy.Counters())
	if len(r.notes) > 0 {
		if res.Faults != "" {
			res.Faults += "; "
		}
		res.Faults += strings.Join(r.notes, "; ")
	}
	if r.sink == "java" {
		// The Java sink's figures are reported, whatever they are.
		if err != nil {
			res.Err = strings.SplitN(err.Error(), "\n", 2)[0]
		}
		s.add(res)
		t.Logf("java %s: records=%d stored=%d missing=%d duplicates=%d out-of-order=%d unacked=%d faults=%s in %s",
			r.name, res.Records, res.Stored, res.Missing, res.Duplicates, res.OutOfOrder, res.Unacked, res.Faults, res.Duration.Round(time.Millisecond))
		return
	}
	if res.Err != "" {
		t.Error(res.Err)
	}
	if err != nil {
		res.Err = err.Error()
		if i := strings.IndexByte(res.Err, '\n'); i > 0 {
			res.Err = res.Err[:i]
		}
		t.Error(err)
	}
	s.add(res)
	t.Logf("%s: records=%d stored=%d missing=%d duplicates=%d out-of-order=%d faults=%s in %s",
		r.name, res.Records, res.Stored, res.Missing, res.Duplicates, res.OutOfOrder, res.Faults, res.Duration.Round(time.Millisecond))
	if res.Missing > 0 {
		logs := fmt.Sprintf("%s/%s-sink-*.log", s.logDir, r.name)
		if r.viaWorker() {
			logs = r.workerLog()
		}
		t.Errorf("%s: %d of %d records missing from Kinesis (first ids %v); sink logs: %s",
			r.name, res.Missing, res.Records, res.MissingIDs, logs)
	}
	if res.Ordered && res.OutOfOrder > 0 {
		t.Errorf("%s: %d records out of order per key with retainOrdering", r.name, res.OutOfOrder)
	}
}

// faultScenario injects Kinesis-side faults while the records are published.
type faultScenario struct {
	name    string
	ordered bool
	config  map[string]any
	// inject runs when publishing starts; it sets the proxy's rules, now or
	// after a while.
	inject func(ctx context.Context, r *run, span time.Duration)
}

func after(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

func kinesisScenarios() []faultScenario {
	rules := func(rl faultproxy.Rules) func(context.Context, *run, time.Duration) {
		return func(_ context.Context, r *run, _ time.Duration) { r.proxy.SetRules(rl) }
	}
	return []faultScenario{
		{name: "throttled-30pct", ordered: true, inject: rules(faultproxy.Rules{DropFraction: 0.3})},
		// Without retainOrdering: throughput first, recordTtl applies.
		{name: "throttled-30pct-unordered", inject: rules(faultproxy.Rules{DropFraction: 0.3})},
		{name: "shard-throttled-10s", ordered: true, inject: func(ctx context.Context, r *run, span time.Duration) {
			if !after(ctx, span/5) {
				return
			}
			r.proxy.SetRules(faultproxy.Rules{ShardOutages: []faultproxy.ShardOutage{
				{Stream: r.stream, ShardID: "shardId-000000000001", Until: time.Now().Add(10 * time.Second)},
			}})
			r.notes = append(r.notes, "shardId-000000000001 throttled for 10 s")
		}},
		{name: "internal-failure-20pct", inject: rules(faultproxy.Rules{DropFraction: 0.2, DropCode: faultproxy.CodeInternalFailure})},
		{name: "http-500-20pct", inject: rules(faultproxy.Rules{ErrorFraction: 0.2, ErrorStatus: 500})},
		{name: "http-503-20pct", ordered: true, inject: rules(faultproxy.Rules{ErrorFraction: 0.2, ErrorStatus: 503, ErrorCode: "ServiceUnavailable"})},
		{name: "connection-resets", ordered: true, inject: rules(faultproxy.Rules{ResetFraction: 0.1, ResetAfterForwardFraction: 0.1})},
		{name: "slow-responses", config: map[string]any{"requestTimeout": 2000},
			inject: rules(faultproxy.Rules{DelayFraction: 0.2, Delay: 3 * time.Second})},
		{name: "kinesis-unreachable-20s", ordered: true, inject: func(ctx context.Context, r *run, span time.Duration) {
			if !after(ctx, span/5) {
				return
			}
			r.proxy.SetRules(faultproxy.Rules{UnreachableUntil: time.Now().Add(20 * time.Second)})
			r.notes = append(r.notes, "unreachable for 20 s")
		}},
	}
}

// runFaultScenario: publish over the span with faults on, wait until every
// record is acked, stop the sink cleanly, read the stream back.
func (s *suite) runFaultScenario(t *testing.T, sc faultScenario, seed uint64, sink string) {
	started := time.Now()
	r := newRun(t, s, s.pulsar, sc.name, runOptions{sink: sink, ordered: sc.ordered, seed: seed, config: sc.config})
	r.startSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	injected := make(chan struct{})
	go func() { defer close(injected); sc.inject(ctx, r, s.span) }()
	err := r.publish(ctx, 0, s.n, s.span, true)
	<-injected
	if err == nil {
		err = r.waitDrained(s.drainTimeout(r))
	}
	r.stopSink()
	r.proxy.SetRules(faultproxy.Rules{})
	s.finish(t, r, r.check(r.publishedIDs()), started, err)
}

// sigkill kills the sink with SIGKILL three times at random points while
// records flow, restarting it each time as the worker would: what it had
// not acked is redelivered by Pulsar.
func (s *suite) sigkill(t *testing.T, sink string) {
	started := time.Now()
	rng := rand.New(rand.NewPCG(s.seed, 7))
	r := newRun(t, s, s.pulsar, "sigkill-x3", runOptions{sink: sink, ordered: true, seed: s.seed + 100})
	r.startSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubErr := make(chan error, 1)
	go func() { pubErr <- r.publish(ctx, 0, s.n, s.span, true) }()
	var at []time.Duration
	for i := 0; i < 3; i++ {
		at = append(at, time.Second+time.Duration(rng.Int64N(int64(s.span+3*time.Second))))
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	var err error
	for _, d := range at {
		time.Sleep(time.Until(started.Add(d)))
		p := r.cur
		if !p.running() {
			err = fmt.Errorf("sink exited on its own before a kill: %v\n%s", p.err, p.logTail(3000))
			break
		}
		p.signal(syscall.SIGKILL)
		<-p.done
		r.notes = append(r.notes, fmt.Sprintf("SIGKILL at %.1fs", time.Since(started).Seconds()))
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		r.startSink()
	}
	if e := <-pubErr; err == nil {
		err = e
	}
	if err == nil {
		err = r.waitDrained(s.drainTimeout(r))
	}
	r.stopSink()
	s.finish(t, r, r.check(r.publishedIDs()), started, err)
}

// sigterm stops the sink with SIGTERM halfway through publishing, while
// PutRecords requests are in flight: every response is held back 1.5 s, so
// some requests answer during the shutdown (their records may be acked
// then), and requests sent after the signal never get through (the proxy
// holds them), so the shutdown cannot finish them. The process must exit
// within 10 s, and every record it acked must be in Kinesis. What it did
// not ack is what a plain consumer on the same subscription receives
// afterwards.
func (s *suite) sigterm(t *testing.T, sink string) {
	started := time.Now()
	r := newRun(t, s, s.pulsar, "sigterm-in-flight", runOptions{sink: sink, seed: s.seed + 200})
	r.proxy.SetRules(faultproxy.Rules{DelayFraction: 1, Delay: 1500 * time.Millisecond})
	p := r.startSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubErr := make(chan error, 1)
	// Unbatched, so that Pulsar tracks the ack of every record on its own.
	go func() { pubErr <- r.publish(ctx, 0, s.n, s.span, false) }()
	var err error
	fail := func(format string, a ...any) {
		if err == nil {
			err = fmt.Errorf(format, a...)
		}
	}
	time.Sleep(s.span / 2)
	deadline := time.Now().Add(time.Minute)
	for r.proxy.Counters().Delayed < 2 && time.Now().Before(deadline) && p.running() {
		time.Sleep(10 * time.Millisecond)
	}
	if !p.running() {
		t.Fatalf("sink exited before SIGTERM: %v\n%s", p.err, p.logTail(3000))
	}
	r.proxy.Hold()
	inFlight := r.proxy.Counters().Delayed
	t0 := time.Now()
	r.terminate(p)
	exited := p.wait(10 * time.Second)
	exitAfter := time.Since(t0)
	if !exited {
		fail("the sink did not exit within 10 s of SIGTERM")
		p.signal(syscall.SIGKILL)
		<-p.done
	}
	r.proxy.Release()
	r.proxy.SetRules(faultproxy.Rules{})
	code := p.exitCode()
	r.notes = append(r.notes, fmt.Sprintf("SIGTERM at %.1fs with %d responses delayed so far, %d requests held: exit %d after %.1fs",
		t0.Sub(started).Seconds(), inFlight, r.proxy.Counters().Held, code, exitAfter.Seconds()))
	if e := <-pubErr; e != nil {
		fail("publish: %v", e)
	}

	unacked, uerr := r.unacked()
	if uerr != nil {
		fail("read what was not acked: %v", uerr)
	}
	acked := map[int]bool{}
	for id := range r.publishedIDs() {
		if !unacked[id] {
			acked[id] = true
		}
	}
	r.notes = append(r.notes, fmt.Sprintf("%d acked, %d not", len(acked), len(unacked)))
	if len(acked) == 0 || len(unacked) == 0 {
		fail("SIGTERM came before or after all the work (%d acked, %d not): the scenario proved nothing", len(acked), len(unacked))
	}
	s.finish(t, r, r.check(acked), started, err)
}

// unacked drains the sink's subscription with a plain consumer: every
// record it receives was not acked by the sink.
func (r *run) unacked() (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	backlog, err := r.pulsar.BacklogOf(ctx, r.topic, r.sub)
	cancel()
	if err != nil {
		return nil, err
	}
	c, err := r.client.Subscribe(pulsar.ConsumerOptions{Topic: r.topic, SubscriptionName: r.sub, Type: pulsar.Shared})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	got := map[int]bool{}
	for int64(len(got)) < backlog {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		m, err := c.Receive(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("received %d of a backlog of %d: %w", len(got), backlog, err)
		}
		if id, ok := idOf(m.Payload()); ok {
			got[id] = true
		}
	}
	// Anything beyond the backlog count would be a duplicate delivery; give
	// it a moment to show up so that nothing acked is counted as unacked late.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := c.Receive(ctx)
		cancel()
		if err != nil {
			break
		}
		if id, ok := idOf(m.Payload()); ok {
			got[id] = true
		}
	}
	return got, nil
}

// brokerRestart restarts the broker (SIGTERM, then a start on the same
// data) while records are published and the sink has requests in flight
// (every response held back 1 s around the restart): acks sent while the broker is down are
// lost, so Pulsar redelivers those records. The sink must reconnect on its
// own and lose nothing.
func (s *suite) brokerRestart(t *testing.T, sink string) {
	started := time.Now()
	b := startOwnPulsar(t, s.logDir)
	r := newRun(t, s, b.env, "broker-restart", runOptions{sink: sink, ordered: true, seed: s.seed + 300})
	r.startSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubErr := make(chan error, 1)
	// The producer rides out the restart: it reconnects and resends what
	// the broker had not confirmed (SendTimeout is 3 minutes).
	go func() { pubErr <- r.publish(ctx, 0, s.n, s.span, true) }()
	time.Sleep(s.span / 3)
	// Only around the restart: with retainOrdering a key has one record in
	// flight at a time, so slow responses throughout would slow it to a crawl.
	r.proxy.SetRules(faultproxy.Rules{DelayFraction: 1, Delay: time.Second})
	time.Sleep(500 * time.Millisecond)
	down, up, err := b.restart()
	r.proxy.SetRules(faultproxy.Rules{})
	r.notes = append(r.notes, fmt.Sprintf("broker restarted after %.1fs of publishing (stop %.1fs, start %.1fs)",
		s.span.Seconds()/3, down.Seconds(), up.Seconds()))
	if err == nil && r.sink == "go" && !r.cur.running() {
		err = fmt.Errorf("sink exited during the broker restart: %v\n%s", r.cur.err, r.cur.logTail(3000))
	}
	if err == nil && r.viaWorker() {
		err = r.workerBack()
	}
	if e := <-pubErr; err == nil && e != nil {
		err = fmt.Errorf("publish: %w", e)
	}
	if err == nil {
		err = r.waitDrained(s.drainTimeout(r))
	}
	// Copies the producer made while the broker restarted are messages of
	// their own to the sink: counted here, apart from the sink's.
	r.stopSink()
	r.proxy.SetRules(faultproxy.Rules{})
	s.finish(t, r, r.check(r.publishedIDs()), started, err)
}
