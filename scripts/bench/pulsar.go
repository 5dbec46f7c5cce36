package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
)

// keys spread records over the stream's shards the way a keyed topic does.
const numKeys = 1000

var keyNames = func() []string {
	k := make([]string, numKeys)
	for i := range k {
		k[i] = "key-" + strconv.Itoa(i)
	}
	return k
}()

func newClient(url string) (pulsar.Client, error) {
	return pulsar.NewClient(pulsar.ClientOptions{
		URL:    url,
		Logger: plog.NewLoggerWithSlog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
}

// createSubscription makes the subscription exist before the backlog is
// written, so the broker keeps every message for it.
func createSubscription(c pulsar.Client, topic, sub string) error {
	cons, err := c.Subscribe(pulsar.ConsumerOptions{
		Topic: topic, SubscriptionName: sub, Type: pulsar.Shared,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		return fmt.Errorf("create subscription %s on %s: %w", sub, topic, err)
	}
	cons.Close()
	return nil
}

// payload is size bytes: the publish time (Unix ns, big-endian) in the first
// 8, a sequence number in the next 8, filler after.
func payload(size int, seq uint64) []byte {
	b := make([]byte, max(size, 16))
	binary.BigEndian.PutUint64(b[0:], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(b[8:], seq)
	for i := 16; i < len(b); i++ {
		b[i] = byte('a' + i%26)
	}
	return b[:max(size, 16)]
}

func newProducer(c pulsar.Client, topic string, delay time.Duration) (pulsar.Producer, error) {
	return c.CreateProducer(pulsar.ProducerOptions{
		Topic:                   topic,
		BatchingMaxPublishDelay: delay,
		BatchingMaxMessages:     1000,
		BatchingMaxSize:         1 << 20,
		MaxPendingMessages:      20000,
		SendTimeout:             2 * time.Minute,
	})
}

// prefill writes n records of size bytes as fast as the broker takes them.
func prefill(c pulsar.Client, topic string, n, size int) error {
	p, err := newProducer(c, topic, 10*time.Millisecond)
	if err != nil {
		return err
	}
	defer p.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		wg.Add(1)
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: payload(size, uint64(i)), Key: keyNames[i%numKeys]},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				wg.Done()
			})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		return err
	}
	wg.Wait()
	return firstErr
}

// paced publishes rate records/s for d (at least 1 record), stamping each
// with its send time, in ticks of 5 ms so that the load is smooth.
func paced(c pulsar.Client, topic string, rate float64, d time.Duration, size int) (int, error) {
	p, err := newProducer(c, topic, time.Millisecond)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	total := max(int(rate*d.Seconds()), 1)
	const tick = 5 * time.Millisecond
	start := time.Now()
	sent := 0
	var sendErr error
	var mu sync.Mutex
	t := time.NewTicker(tick)
	defer t.Stop()
	for sent < total {
		due := min(int(rate*time.Since(start).Seconds())+1, total)
		for ; sent < due; sent++ {
			p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: payload(size, uint64(sent)), Key: keyNames[sent%numKeys]},
				func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					if err != nil {
						mu.Lock()
						sendErr = err
						mu.Unlock()
					}
				})
		}
		<-t.C
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		return sent, err
	}
	mu.Lock()
	defer mu.Unlock()
	return sent, sendErr
}

// deleteTopic frees the broker's storage after a phase. It is bounded: the
// broker sometimes holds a force-delete while a closing consumer (the Java
// instance just stopped) lets go, and a stuck delete must not stall the run;
// the topic is then left to the broker's inactive-topic cleanup.
func deleteTopic(adminURL, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, adminURL+"/admin/v2/persistent/public/default/"+topic+"?force=true", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	} else {
		fmt.Fprintf(os.Stderr, "bench: delete topic %s: %v (left to the broker)\n", topic, err)
	}
}

// ceilingChild is the consume-only ceiling, run as its own process so that
// its CPU and memory are measured like a sink's: a pulsar-client-go consumer
// with the runtime's defaults that receives and acks each message, and
// nothing else. It reports (publish time, receive time) pairs to the
// benchmark's endpoint in batches.
func ceilingChild(serviceURL, topic, sub, report, config string) int {
	c, err := newClient(serviceURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	var cc *ceilingConfig
	for i := range ceilingConfigs {
		if ceilingConfigs[i].name == config {
			cc = &ceilingConfigs[i]
		}
	}
	if cc == nil {
		fmt.Fprintf(os.Stderr, "-ceiling-config %q: unknown\n", config)
		return 2
	}
	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: sub, Type: pulsar.Shared}
	cc.apply(&opts)
	cons, err := c.Subscribe(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cons.Close()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var mu sync.Mutex
	buf := make([]byte, 0, 64<<10)
	flush := func() {
		mu.Lock()
		b := buf
		buf = make([]byte, 0, 64<<10)
		mu.Unlock()
		if len(b) == 0 {
			return
		}
		if resp, err := hc.Post(report, "application/octet-stream", bytes.NewReader(b)); err == nil {
			resp.Body.Close()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				flush()
			}
		}
	}()
	var pair [16]byte
	unacked := 0
	for {
		m, err := cons.Receive(ctx)
		if err != nil {
			flush()
			return 0
		}
		now := time.Now()
		if p := m.Payload(); len(p) >= 8 {
			copy(pair[:8], p[:8])
		}
		binary.BigEndian.PutUint64(pair[8:], uint64(now.UnixNano()))
		mu.Lock()
		buf = append(buf, pair[:]...)
		mu.Unlock()
		if cc.cumulativeEvery == 0 {
			_ = cons.Ack(m)
			continue
		}
		// One cumulative ack for every cumulativeEvery messages, and for
		// the last of a burst (nothing queued behind it).
		if unacked++; unacked >= cc.cumulativeEvery || len(cons.Chan()) == 0 {
			_ = cons.AckCumulative(m)
			unacked = 0
		}
	}
}

// ceilingConfig is one consume-only configuration. The ceiling is the best
// of them: a consumer that only receives and acks is what any sink on this
// broker could reach at best only if it is tuned at least as well as the
// sinks are.
type ceilingConfig struct {
	name            string
	queue           int  // receiver queue size; 0: the client's default (1000)
	batchIndexAck   bool // acknowledge batch messages by index
	cumulativeEvery int  // 0: individual acks; else cumulative, on a failover subscription
}

var ceilingConfigs = []ceilingConfig{
	{name: "default"},
	{name: "queue 10000", queue: 10000},
	{name: "queue 10000, batch-index acks", queue: 10000, batchIndexAck: true},
	{name: "queue 10000, cumulative acks", queue: 10000, cumulativeEvery: 1000},
}

func (cc *ceilingConfig) apply(o *pulsar.ConsumerOptions) {
	if cc.queue > 0 {
		o.ReceiverQueueSize = cc.queue
	}
	o.EnableBatchIndexAcknowledgment = cc.batchIndexAck
	if cc.cumulativeEvery > 0 {
		// Cumulative acks are refused on a shared subscription; one
		// consumer on a failover one gets the same messages.
		o.Type = pulsar.Failover
	}
}
