package faultsuite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// soakFault is one window of the soak's fault rotation.
type soakFault struct {
	name  string
	rules func(r *run, window time.Duration) faultproxy.Rules
}

func soakFaults() []soakFault {
	fixed := func(rl faultproxy.Rules) func(*run, time.Duration) faultproxy.Rules {
		return func(*run, time.Duration) faultproxy.Rules { return rl }
	}
	return []soakFault{
		{"none", fixed(faultproxy.Rules{})},
		{"throttled 30%", fixed(faultproxy.Rules{DropFraction: 0.3})},
		{"InternalFailure 20%", fixed(faultproxy.Rules{DropFraction: 0.2, DropCode: faultproxy.CodeInternalFailure})},
		{"HTTP 500 10%", fixed(faultproxy.Rules{ErrorFraction: 0.1, ErrorStatus: 500})},
		{"HTTP 503 10%", fixed(faultproxy.Rules{ErrorFraction: 0.1, ErrorStatus: 503, ErrorCode: "ServiceUnavailable"})},
		{"resets 5%+5%", fixed(faultproxy.Rules{ResetFraction: 0.05, ResetAfterForwardFraction: 0.05})},
		{"slow 20%", fixed(faultproxy.Rules{DelayFraction: 0.2, Delay: 1500 * time.Millisecond})},
		{"shard 1 throttled", func(r *run, w time.Duration) faultproxy.Rules {
			return faultproxy.Rules{ShardOutages: []faultproxy.ShardOutage{
				{Stream: r.stream, ShardID: "shardId-000000000001", Until: time.Now().Add(w)}}}
		}},
		{"unreachable 10s", func(*run, time.Duration) faultproxy.Rules {
			return faultproxy.Rules{UnreachableUntil: time.Now().Add(10 * time.Second)}
		}},
	}
}

type soakSample struct {
	at         time.Duration
	fault      string
	rss        int64
	heap       float64
	goroutines float64
	backlog    int64
}

// TestSoak publishes at a steady rate for KS_SOAK_DURATION with the proxy's
// faults rotating every 30 s, samples the sink's memory and goroutines, and
// at the end checks that nothing is missing. It runs only with KS_SOAK=1
// (make soak).
func TestSoak(t *testing.T) {
	if os.Getenv("KS_SOAK") != "1" {
		t.Skip("the soak runs with KS_SOAK=1 (make soak)")
	}
	dur := envDuration(t, "KS_SOAK_DURATION", 30*time.Minute)
	rate := envInt(t, "KS_SOAK_RATE", 200)
	window := min(30*time.Second, dur/5)
	s := &suite{
		kin:    testenv.Kinesis(t),
		pulsar: testenv.Pulsar(t),
		bin:    sinkBinary(t),
		logDir: logDir(t),
		seed:   uint64(time.Now().UnixNano()),
	}
	n := int(int64(rate) * int64(dur) / int64(time.Second))
	fmt.Printf("soak: %d records at %d/s over %s, faults rotating every %s; sink logs in %s\n", n, rate, dur, window, s.logDir)

	started := time.Now()
	// requestTimeout below the slow window's delay, so those are timeouts.
	r := newRun(t, s, s.pulsar, "soak", runOptions{seed: s.seed, config: map[string]any{"requestTimeout": 1000}})
	p := r.startSink()
	pid := p.cmd.Process.Pid

	var (
		mu      sync.Mutex
		samples []soakSample
	)
	sample := func(label string) {
		var sm soakSample
		sm.at = time.Since(started)
		sm.fault = label
		sm.rss, _ = rssOf(pid)
		if m, err := scrape(p.metricsPort, "go_goroutines", "go_memstats_heap_inuse_bytes"); err == nil {
			sm.goroutines, sm.heap = m["go_goroutines"], m["go_memstats_heap_inuse_bytes"]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sm.backlog, _ = s.pulsar.BacklogOf(ctx, r.topic, r.sub)
		cancel()
		mu.Lock()
		samples = append(samples, sm)
		mu.Unlock()
		t.Logf("soak %6s  fault=%-20s rss=%5.1f MiB heap=%5.1f MiB goroutines=%4.0f backlog=%d",
			sm.at.Round(time.Second), sm.fault, float64(sm.rss)/(1<<20), sm.heap/(1<<20), sm.goroutines, sm.backlog)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // rotate the faults, sampling at the end of each window
		defer bg.Done()
		faults := soakFaults()
		for i := 0; ; i++ {
			f := faults[i%len(faults)]
			r.proxy.SetRules(f.rules(r, window))
			if !after(ctx, window) {
				return
			}
			sample(f.name)
		}
	}()
	err := r.publish(ctx, 0, n, dur, true)
	cancel()
	bg.Wait()
	r.proxy.SetRules(faultproxy.Rules{})
	if err == nil {
		err = r.waitDrained(10 * time.Minute)
	}
	sample("end (drained, no faults)")
	if !p.running() && err == nil {
		err = fmt.Errorf("sink exited: %v", p.err)
	}
	r.stopSink()
	res := r.check(r.publishedIDs())

	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "at\tfault window\tRSS MiB\theap MiB\tgoroutines\tbacklog")
	for _, sm := range samples {
		fmt.Fprintf(w, "%s\t%s\t%.1f\t%.1f\t%.0f\t%d\n", sm.at.Round(time.Second), sm.fault,
			float64(sm.rss)/(1<<20), sm.heap/(1<<20), sm.goroutines, sm.backlog)
	}
	w.Flush()
	if len(samples) >= 2 {
		first, last := samples[0], samples[len(samples)-1]
		fmt.Fprintf(&b, "start (after the first window): RSS %.1f MiB, goroutines %.0f; end: RSS %.1f MiB, goroutines %.0f\n",
			float64(first.rss)/(1<<20), first.goroutines, float64(last.rss)/(1<<20), last.goroutines)
	}
	fmt.Fprintf(&b, "records %d, stored %d, missing %d, duplicates %d; injected: %s; %s in total\n",
		res.Records, res.Stored, res.Missing, res.Duplicates, faultSummary(r.proxy.Counters()), time.Since(started).Round(time.Second))
	fmt.Print("\n" + b.String())
	_ = os.WriteFile(filepath.Join(s.logDir, "soak-results.txt"), []byte(b.String()), 0o644)

	if err != nil {
		t.Error(err)
	}
	if res.Missing > 0 {
		t.Errorf("soak: %d of %d records missing (first ids %v)", res.Missing, res.Records, res.MissingIDs)
	}
	scanForSecret(t, s.logDir)
}
