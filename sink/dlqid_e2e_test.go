package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

// Dead letters name the message they come from in full: the messages of one
// producer batch share ledger and entry and differ in their batch index,
// which the Go client's MessageID.String() leaves out.
func TestDeadLetterOriginIDsOfABatch(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	stream := ks.UniqueStream(t, "dlqid")
	ks.CreateStream(t, stream, 1)
	topic := env.UniqueTopic(t, "dlqid-in")
	dlt := env.UniqueTopic(t, "dlqid-out")
	client := e2e.NewClient(t, env)
	dlc, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlt, SubscriptionName: "check",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlc.Close()
	rs := startSink(t, env, uniqueName(t, "dlqid"), []string{topic}, sinkConfig(ks.Endpoint, stream, map[string]any{
		"failurePolicy": "deadLetter", "deadLetterTopic": dlt, "explicitHashKeyProperty": "ehk",
	}))
	// One batch of three records whose explicit hash key is malformed.
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: time.Second, BatchingMaxMessages: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 3 {
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("bad-%d", i)), Properties: map[string]string{"ehk": "x"}},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					t.Errorf("send: %v", err)
				}
			})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(ids) < 3 {
		m, err := dlc.Receive(ctx)
		if err != nil {
			t.Fatalf("%d of 3 dead letters (%v): %v", len(ids), ids, err)
		}
		dlc.Ack(m)
		id := m.Properties()[sink.PropOriginMessageID]
		if prev, dup := ids[id]; dup {
			t.Fatalf("dead letters %q and %q name the same origin message %q", prev, m.Payload(), id)
		}
		ids[id] = string(m.Payload())
	}
	if !rs.in.Running() {
		t.Fatalf("instance exited: %v", rs.in.Err)
	}
	t.Logf("origin ids: %v", ids)
}
