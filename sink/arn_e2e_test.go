package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

// A stream named by its ARN (awsKinesisStreamName, a topicToStreamMap value
// or the stream property) is written with StreamARN in every request, as a
// resource-based policy for cross-account writes needs. kinesalite predates
// StreamARN and refuses it, so the fault proxy stands in front of it: it
// counts the calls that named their stream by ARN and passes them on by
// name. The records are read back from kinesalite; an ARN of another region
// than awsRegion, given in a record's property, follows the failure policy.
func TestStreamARNRequests(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	byConfig := ks.UniqueStream(t, "arn-cfg")
	byProperty := ks.UniqueStream(t, "arn-prop")
	ks.CreateStream(t, byConfig, 2)
	ks.CreateStream(t, byProperty, 1)
	proxy, err := faultproxy.New(ks.Endpoint, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	arnOf := func(region, stream string) string {
		return fmt.Sprintf("arn:aws:kinesis:%s:000000000000:stream/%s", region, stream)
	}

	topic := env.UniqueTopic(t, "arn")
	env.CreateTopic(t, topic)
	dlq := env.UniqueTopic(t, "arn-dlq")
	rs := startSink(t, env, uniqueName(t, "arn"), []string{topic}, sinkConfig(proxy.URL(), arnOf("us-east-1", byConfig), map[string]any{
		"streamNameProperty": "stream",
		"failurePolicy":      "deadLetter",
		"deadLetterTopic":    dlq,
		// The shard map (ListShards) is loaded for aggregation and the rate
		// limit; by ARN too.
		"aggregationEnabled": true,
	}))

	client := e2e.NewClient(t, env)
	dlqConsumer, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlq, SubscriptionName: "t", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlqConsumer.Close()
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 200
	send := func(payload string, props map[string]string) {
		t.Helper()
		if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Key: payload, Payload: []byte(payload), Properties: props}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		send(fmt.Sprintf("cfg-%d", i), nil)
		send(fmt.Sprintf("prop-%d", i), map[string]string{"stream": arnOf("us-east-1", byProperty)})
	}
	send("other-region", map[string]string{"stream": arnOf("eu-west-1", byProperty)})

	env.WaitFor(t, 2*time.Minute, func() bool {
		if !rs.in.Running() {
			t.Fatalf("instance exited: %v", rs.in.Err)
		}
		a, _ := userRecords(t, ks.ReadAll(t, byConfig))
		b, _ := userRecords(t, ks.ReadAll(t, byProperty))
		return distinct(a) >= n && distinct(b) >= n
	}, "%d records in each stream", n)
	for stream, prefix := range map[string]string{byConfig: "cfg-", byProperty: "prop-"} {
		recs, _ := userRecords(t, ks.ReadAll(t, stream))
		seen := map[string]bool{}
		for _, r := range recs {
			seen[string(r.Data)] = true
		}
		for i := range n {
			if !seen[fmt.Sprintf("%s%d", prefix, i)] {
				t.Errorf("stream %s: %s%d missing", stream, prefix, i)
			}
		}
		if len(seen) != n {
			t.Errorf("stream %s: %d distinct records, want %d (only its own)", stream, len(seen), n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := dlqConsumer.Receive(ctx)
	if err != nil {
		t.Fatalf("dead letter for the other region's ARN: %v", err)
	}
	if string(m.Payload()) != "other-region" || m.Properties()[sink.PropDeadLetterKind] != "route" {
		t.Fatalf("dead letter %q, properties %v", m.Payload(), m.Properties())
	}
	t.Logf("dead-lettered: %s", m.Properties()[sink.PropDeadLetterReason])

	c := proxy.Counters()
	byARN := c.StreamARNRequests
	t.Logf("calls by StreamARN: %v; PutRecords in all: %d", byARN, c.PutRecords)
	if byARN[faultproxy.PutRecordsTarget] == 0 || byARN[faultproxy.PutRecordsTarget] != c.PutRecords {
		t.Errorf("%d of %d PutRecords calls named the stream by ARN; want all", byARN[faultproxy.PutRecordsTarget], c.PutRecords)
	}
	if byARN["Kinesis_20131202.ListShards"] == 0 || byARN["Kinesis_20131202.DescribeStreamSummary"] == 0 {
		t.Errorf("ListShards and DescribeStreamSummary by ARN: %v", byARN)
	}
}
