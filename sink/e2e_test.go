package sink_test

// End-to-end tests of the product binary: records published to a real
// Pulsar standalone, consumed by bin/kinesis-sink running under the
// instance contract, written to a real kinesalite, read back with
// GetRecords and compared byte for byte.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/flatbuf/kinesisfbs"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink/awscfg"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// sinkConfig is a config as a Java sink user writes it, pointed at the
// emulator.
func sinkConfig(endpoint, stream string, extra map[string]any) map[string]any {
	m := map[string]any{
		"awsEndpoint":              endpoint,
		"awsRegion":                "us-east-1",
		"awsKinesisStreamName":     stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDE2E","secretKey":"e2e-secret-value"}`,
		"metricsLevel":             "none",
		// These tests compare the user records Kinesis stores; aggregation
		// (on by default, as in the Java sink) has tests of its own.
		"aggregationEnabled": false,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

type running struct {
	in   *e2e.Instance
	port int
}

func startSink(t *testing.T, env *testenv.PulsarEnv, name string, topics []string, userConfig map[string]any) *running {
	t.Helper()
	bin := e2e.KinesisSinkBinary(t)
	port := e2e.FreePort(t)
	conf := e2e.WorkerConf(env, name, port, e2e.FreePort(t), topics, userConfig, nil)
	in := e2e.Start(t, bin, []string{"-instance-conf", conf}, nil)
	return &running{in: in, port: port}
}

// startSinkOrDeploy starts the sink as startSink does, or, with
// KS_SINK_VIA_WORKER=1 (make test-compat), deploys it through the functions
// worker with pulsar-admin functions create --go and parallelism 2, or with
// KS_SINK_VIA_NAR=1 as a Pulsar IO sink from the kinesis-go NAR
// (pulsar-admin sinks create --archive, parallelism 2), or with
// KS_SINK_VIA_NAR=sink-type from the worker's connectors directory
// (--sink-type kinesis-go). The
// function it returns says why the sink is not running, or nil.
func startSinkOrDeploy(t *testing.T, env *testenv.PulsarEnv, name string, topics []string, userConfig map[string]any) func() error {
	t.Helper()
	switch os.Getenv("KS_SINK_VIA_NAR") {
	case "1", "archive":
		return deployNAR(t, env, name, topics, userConfig, false)
	case "sink-type":
		return deployNAR(t, env, name, topics, userConfig, true)
	}
	if os.Getenv("KS_SINK_VIA_WORKER") != "1" {
		rs := startSink(t, env, name, topics, userConfig)
		return func() error {
			if !rs.in.Running() {
				return fmt.Errorf("instance exited: %v", rs.in.Err)
			}
			return nil
		}
	}
	bin := e2e.KinesisSinkBinary(t)
	uc, _ := json.Marshal(userConfig)
	if out, err := env.Admin(t, "functions", "create", "--go", bin, "--tenant", "public", "--namespace", "default",
		"--name", name, "--inputs", strings.Join(topics, ","), "--parallelism", "2", "--subs-position", "Earliest",
		"--user-config", string(uc)); err != nil {
		t.Fatalf("functions create: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		env.Admin(t, "functions", "delete", "--tenant", "public", "--namespace", "default", "--name", name)
	})
	env.WaitFor(t, 2*time.Minute, func() bool { return len(instanceProcs(bin, name)) == 2 }, "2 instance processes of %s", name)
	return func() error {
		if n := len(instanceProcs(bin, name)); n != 2 {
			out, _ := env.Admin(t, "functions", "status", "--tenant", "public", "--namespace", "default", "--name", name)
			return fmt.Errorf("%d of 2 instance processes of %s run; functions status:\n%s", n, name, out)
		}
		return nil
	}
}

func uniqueName(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9)
}

type avroInner struct {
	A string  `avro:"a" json:"a"`
	B bool    `avro:"b" json:"b"`
	D float64 `avro:"d" json:"d"`
	F float32 `avro:"f" json:"f"`
	I int32   `avro:"i" json:"i"`
	L int64   `avro:"l" json:"l"`
}

type avroOuter struct {
	C string    `avro:"c" json:"c"`
	D int32     `avro:"d" json:"d"`
	E avroInner `avro:"e" json:"e"`
}

const avroOuterSchema = `{"type":"record","name":"Outer","fields":[{"name":"c","type":"string"},{"name":"d","type":"int"},
{"name":"e","type":{"type":"record","name":"Inner","fields":[{"name":"a","type":"string"},{"name":"b","type":"boolean"},
{"name":"d","type":"double"},{"name":"f","type":"float"},{"name":"i","type":"int"},{"name":"l","type":"long"}]}}]}`

const eventTime = 1648502845803

// TestEveryFormatThroughTheRuntime publishes the same records in each
// message format and compares what Kinesis stored with the bytes the Java
// sink writes for them.
func TestEveryFormatThroughTheRuntime(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)

	value := avroOuter{C: "1", D: 1, E: avroInner{A: "a", B: true, D: 1, F: 1, I: 1, L: 10}}
	props := map[string]string{"prop-key": "prop-value"}

	for _, tc := range []struct {
		format string
		check  func(t *testing.T, tp topics, recs []testenv.KinesisRecord)
	}{
		{"ONLY_RAW_PAYLOAD", func(t *testing.T, tp topics, recs []testenv.KinesisRecord) {
			got := map[string]bool{}
			for _, r := range recs {
				got[string(r.Data)] = true
			}
			if !got["plain-bytes"] || !got["message-value"] || len(recs) != 2 {
				t.Errorf("raw payloads: got %v", keys(got))
			}
		}},
		{"FULL_MESSAGE_IN_JSON", func(t *testing.T, tp topics, recs []testenv.KinesisRecord) {
			got := map[string]bool{}
			for _, r := range recs {
				got[string(r.Data)] = true
			}
			for _, w := range []string{
				`{"payloadBase64":"cGxhaW4tYnl0ZXM=","properties":{}}`,
				`{"payloadBase64":"bWVzc2FnZS12YWx1ZQ==","properties":{"prop-key":"prop-value"}}`,
			} {
				if !got[w] {
					t.Errorf("missing %s in %v", w, got)
				}
			}
		}},
		{"FULL_MESSAGE_IN_FB", func(t *testing.T, tp topics, recs []testenv.KinesisRecord) {
			found := 0
			for _, r := range recs {
				m := kinesisfbs.GetRootAsMessage(r.Data, 0)
				pb := make([]byte, m.PayloadLength()) // [byte] is int8 in the Java schema
				for i := range pb {
					pb[i] = byte(m.Payload(i))
				}
				payload := string(pb)
				switch payload {
				case "plain-bytes":
					if m.PropertiesLength() != 0 {
						t.Errorf("plain-bytes: %d properties, want none", m.PropertiesLength())
					}
					found++
				case "message-value":
					var kv kinesisfbs.KeyValue
					if m.PropertiesLength() != 1 || !m.Properties(&kv, 0) || string(kv.Key()) != "prop-key" || string(kv.Value()) != "prop-value" {
						t.Errorf("message-value: properties wrong")
					}
					found++
				}
			}
			if found != 2 {
				t.Errorf("found %d of 2 FlatBuffers records", found)
			}
		}},
		{"FULL_MESSAGE_IN_JSON_EXPAND_VALUE", func(t *testing.T, tp topics, recs []testenv.KinesisRecord) {
			got := map[string]bool{}
			for _, r := range recs {
				got[string(r.Data)] = true
			}
			for _, w := range []string{
				// The reference outputs of the Java sink's UtilsTest, with
				// our topic name.
				`{"topicName":"` + tp.avro + `","key":"message-key","payload":{"c":"1","d":1,"e":{"a":"a","b":true,"d":1.0,"f":1.0,"i":1,"l":10}},"properties":{"prop-key":"prop-value"},"eventTime":1648502845803}`,
				`{"topicName":"` + tp.str + `","key":"message-key","payload":"message-value","properties":{"prop-key":"prop-value"},"eventTime":1648502845803}`,
				// JSON schema: the value is re-written as parsed (the Go
				// producer wrote 1, not 1.0, for the doubles).
				`{"topicName":"` + tp.json + `","key":"message-key","payload":{"c":"1","d":1,"e":{"a":"a","b":true,"d":1,"f":1,"i":1,"l":10}},"properties":{"prop-key":"prop-value"},"eventTime":1648502845803}`,
				// No schema, no key, no event time: bytes as base64, the
				// absent fields left out.
				`{"topicName":"` + tp.raw + `","payload":"cGxhaW4tYnl0ZXM="}`,
			} {
				if !got[w] {
					t.Errorf("missing\n%s\nin\n%s", w, strings.Join(keys(got), "\n"))
				}
			}
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			stream := ks.UniqueStream(t, "fmt")
			ks.CreateStream(t, stream, 2)
			topicRaw := env.UniqueTopic(t, "fmt-bytes")
			topicStr := env.UniqueTopic(t, "fmt-string")
			topicAvro := env.UniqueTopic(t, "fmt-avro")
			topicJSON := env.UniqueTopic(t, "fmt-json")
			name := uniqueName(t, "fmt")
			sinkErr := startSinkOrDeploy(t, env, name, []string{topicRaw, topicStr, topicAvro, topicJSON},
				sinkConfig(ks.Endpoint, stream, map[string]any{"messageFormat": tc.format}))

			send := func(topic string, schema pulsar.Schema, msg *pulsar.ProducerMessage) {
				p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: schema})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if _, err := p.Send(context.Background(), msg); err != nil {
					t.Fatal(err)
				}
			}
			send(topicRaw, nil, &pulsar.ProducerMessage{Payload: []byte("plain-bytes")})
			if tc.format == "FULL_MESSAGE_IN_JSON_EXPAND_VALUE" {
				send(topicStr, pulsar.NewStringSchema(nil), &pulsar.ProducerMessage{Value: "message-value", Key: "message-key",
					Properties: props, EventTime: time.UnixMilli(eventTime)})
				send(topicAvro, pulsar.NewAvroSchema(avroOuterSchema, nil), &pulsar.ProducerMessage{Value: value, Key: "message-key",
					Properties: props, EventTime: time.UnixMilli(eventTime)})
				send(topicJSON, pulsar.NewJSONSchema(avroOuterSchema, nil), &pulsar.ProducerMessage{Value: value, Key: "message-key",
					Properties: props, EventTime: time.UnixMilli(eventTime)})
			} else {
				send(topicStr, nil, &pulsar.ProducerMessage{Payload: []byte("message-value"), Key: "message-key",
					Properties: props, EventTime: time.UnixMilli(eventTime)})
			}
			want := 2
			if tc.format == "FULL_MESSAGE_IN_JSON_EXPAND_VALUE" {
				want = 4
			}
			recs := ks.WaitForRecords(t, stream, want, 60*time.Second)
			if err := sinkErr(); err != nil {
				t.Fatal(err)
			}
			// Routing: the message key, else the topic name (Java rule).
			for _, r := range recs {
				if r.PartitionKey != "message-key" && !strings.HasPrefix(r.PartitionKey, "persistent://public/default/fmt-") {
					t.Errorf("partition key %q", r.PartitionKey)
				}
			}
			tc.check(t, topics{raw: topicRaw, str: topicStr, avro: topicAvro, json: topicJSON}, recs)
		})
	}
}

type topics struct{ raw, str, avro, json string }

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestNothingLostUnderThrottling runs 100,000 records through the runtime
// into kinesalite with 30% of entries answered as throttled. kinesalite
// never throttles and never fails part of a request, so a fault-injecting
// proxy in front of it does.
func TestNothingLostUnderThrottling(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	runThrottled(t, n, false, false)
}

// TestOrderPerKeyUnderThrottling is the same with retainOrdering: records
// of one key must reach Kinesis in the order Pulsar delivered them.
func TestOrderPerKeyUnderThrottling(t *testing.T) {
	runThrottled(t, 5000, true, false)
}

// TestAggregatedUnderThrottling is the ordered run with KPL aggregation on
// (the default): what Kinesis stores is de-aggregated (sink/kpl) and must
// give every record, under its own key, in order per key.
func TestAggregatedUnderThrottling(t *testing.T) {
	runThrottled(t, 5000, true, true)
}

// userRecords replaces each aggregated record by its user records (keeping
// the Kinesis record's shard and sequence number).
func userRecords(t *testing.T, recs []testenv.KinesisRecord) (out []testenv.KinesisRecord, aggregates int) {
	for _, r := range recs {
		subs, err := kpl.Deaggregate(r.Data)
		if errors.Is(err, kpl.ErrNotAggregated) {
			out = append(out, r)
			continue
		}
		if err != nil {
			t.Fatalf("record %s: %v", r.SequenceNumber, err)
		}
		aggregates++
		for _, s := range subs {
			u := r
			u.PartitionKey, u.Data = s.PartitionKey, s.Data
			out = append(out, u)
		}
	}
	return out, aggregates
}

func runThrottled(t *testing.T, n int, ordered, aggregated bool) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	stream := ks.UniqueStream(t, "thr")
	ks.CreateStream(t, stream, 4)
	proxy, err := faultproxy.New(ks.Endpoint, 42)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// The first call throttled whole as well: with aggregation a run takes
	// few entries, and 30% of few can be none.
	proxy.SetRules(faultproxy.Rules{DropFraction: 0.3, DropRequests: []int64{1}})

	topic := env.UniqueTopic(t, "thr")
	env.CreatePartitionedTopic(t, topic, 2)
	extra := map[string]any{"retryInitialDelayInMillis": 20, "retryMaxDelayInMillis": 500, "recordTtl": 600000,
		// These runs are about retries under throttling. The default limit
		// (150% of 1,000 records/s per shard, 6,000/s over 4 shards) held
		// the 100,000-record run to 34 s instead of 10 s here; the limiter
		// has its own tests in sink/producer.
		"rateLimit": 1000000}
	if ordered {
		extra["retainOrdering"] = true
	}
	if aggregated {
		extra["aggregationEnabled"] = true
	}
	name := uniqueName(t, "thr")
	rs := startSink(t, env, name, []string{topic}, sinkConfig(proxy.URL(), stream, extra))

	client := e2e.NewClient(t, env)
	const keysN = 50
	start := time.Now()
	// Keys route a key's messages to one partition, so Pulsar delivers
	// each key in publish order; the payload carries key and sequence.
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key-%02d", i%keysN)
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Key: k, Payload: []byte(fmt.Sprintf("%s/%07d", k, i/keysN))},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					t.Errorf("send: %v", err)
				}
			})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close()

	var recs []testenv.KinesisRecord
	aggregates := 0
	sc := e2e.StatusClient(t, rs.port)
	env.WaitFor(t, 10*time.Minute, func() bool {
		if !rs.in.Running() {
			t.Fatalf("instance exited: %v", rs.in.Err)
		}
		// Every record acked as well as stored: a record can be in Kinesis
		// before its ack, and a rewrite of a throttled one after the read.
		if st := e2e.FunctionStatus(t, sc); st == nil || st.NumSuccessfullyProcessed < int64(n) {
			return false
		}
		recs = ks.ReadAll(t, stream)
		if aggregated {
			recs, aggregates = userRecords(t, recs)
		}
		return distinct(recs) >= n
	}, "%d records acked and distinct in Kinesis", n)
	elapsed := time.Since(start)

	seen := map[string]int{}
	last := map[string]int{}
	outOfOrder := 0
	for _, r := range recs { // shard order, then sequence order
		s := string(r.Data)
		seen[s]++
		if seen[s] > 1 {
			continue // a duplicate of an earlier write; order is judged on first writes
		}
		var k string
		var seq int
		if _, err := fmt.Sscanf(strings.Replace(s, "/", " ", 1), "%s %d", &k, &seq); err != nil {
			t.Fatalf("bad record %q", s)
		}
		if r.PartitionKey != k {
			t.Fatalf("record %q has partition key %q", s, r.PartitionKey)
		}
		if prev, ok := last[k]; ok && seq < prev {
			outOfOrder++
		}
		last[k] = seq
	}
	missing := 0
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key-%02d", i%keysN)
		if seen[fmt.Sprintf("%s/%07d", k, i/keysN)] == 0 {
			missing++
		}
	}
	dups := len(recs) - len(seen)
	c := proxy.Counters()
	t.Logf("records=%d distinct=%d missing=%d duplicates=%d outOfOrder=%d entriesDropped=%d putRecords=%d aggregates=%d in %s",
		n, len(seen), missing, dups, outOfOrder, c.EntriesDropped, c.PutRecords, aggregates, elapsed.Round(time.Millisecond))
	if aggregated && aggregates == 0 {
		t.Fatal("aggregation on, but Kinesis holds no aggregated record")
	}
	if missing != 0 {
		t.Fatalf("%d records missing", missing)
	}
	if c.EntriesDropped == 0 {
		t.Fatal("the proxy injected no throttling: the test proved nothing")
	}
	if ordered && outOfOrder != 0 {
		t.Fatalf("%d records out of order per key with retainOrdering", outOfOrder)
	}
	st := e2e.FunctionStatus(t, sc)
	if st == nil || st.NumSuccessfullyProcessed < int64(n) {
		t.Fatalf("status: %+v", st)
	}
}

func distinct(recs []testenv.KinesisRecord) int {
	m := make(map[string]struct{}, len(recs))
	for _, r := range recs {
		m[string(r.Data)] = struct{}{}
	}
	return len(m)
}

// TestFailurePolicyDeadLetter sends an oversize record, a record whose
// explicit hash key is malformed and a record routed to a missing stream;
// each goes to the dead-letter topic with its reason, and the good records
// reach Kinesis.
func TestFailurePolicyDeadLetter(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	stream := ks.UniqueStream(t, "dlq")
	ks.CreateStream(t, stream, 1)
	topic := env.UniqueTopic(t, "dlq-in")
	dlt := env.UniqueTopic(t, "dlq-out")
	client := e2e.NewClient(t, env)
	dlc, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlt, SubscriptionName: "check",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlc.Close()

	name := uniqueName(t, "dlq")
	rs := startSink(t, env, name, []string{topic}, sinkConfig(ks.Endpoint, stream, map[string]any{
		"failurePolicy": "deadLetter", "deadLetterTopic": dlt,
		"streamNameProperty": "target-stream", "explicitHashKeyProperty": "ehk",
	}))

	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send := func(payload []byte, props map[string]string) {
		if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Payload: payload, Properties: props}); err != nil {
			t.Fatal(err)
		}
	}
	send([]byte("good-1"), nil)
	send(make([]byte, 1<<20+10), map[string]string{"case": "oversize"})
	send([]byte("bad-ehk"), map[string]string{"case": "ehk", "ehk": "12abc"})
	send([]byte("no-stream"), map[string]string{"case": "missing-stream", "target-stream": "does-not-exist-" + name})
	send([]byte("good-2"), nil)

	recs := ks.WaitForRecords(t, stream, 2, 60*time.Second)
	got := map[string]bool{}
	for _, r := range recs {
		got[string(r.Data)] = true
	}
	if !got["good-1"] || !got["good-2"] || len(recs) != 2 {
		t.Fatalf("kinesis has %d records: %v", len(recs), keys(got))
	}

	reasons := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(reasons) < 3 {
		m, err := dlc.Receive(ctx)
		if err != nil {
			t.Fatalf("dead-letter topic has %d of 3 records: %v (%v)", len(reasons), err, reasons)
		}
		dlc.Ack(m)
		reasons[m.Properties()["case"]] = m.Properties()["kinesis-sink-error"]
		if m.Properties()["case"] == "oversize" && len(m.Payload()) != 1<<20+10 {
			t.Errorf("oversize record's payload changed: %d bytes", len(m.Payload()))
		}
	}
	for c, want := range map[string]string{"oversize": "too large", "ehk": "explicit hash key", "missing-stream": "does-not-exist"} {
		if !strings.Contains(reasons[c], want) {
			t.Errorf("%s: reason %q does not mention %q", c, reasons[c], want)
		}
		if strings.Contains(reasons[c], "e2e-secret-value") {
			t.Errorf("%s: reason leaks the secret", c)
		}
	}
	if !rs.in.Running() {
		t.Fatalf("instance exited: %v", rs.in.Err)
	}
	st := e2e.FunctionStatus(t, e2e.StatusClient(t, rs.port))
	if st == nil || st.NumSuccessfullyProcessed != 5 {
		t.Fatalf("status: want 5 records resolved as processed (2 written, 3 dead-lettered), got %+v", st)
	}
}

// TestAssumeRoleAndCloudWatchMetrics runs the binary with the Java sink's
// STS assume-role plugin (STS served by moto) and KPL metrics uploaded to
// moto's CloudWatch, then reads the metrics back from moto.
func TestAssumeRoleAndCloudWatchMetrics(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	moto := testenv.AWS(t)
	stream := ks.UniqueStream(t, "cw")
	ks.CreateStream(t, stream, 2)
	topic := env.UniqueTopic(t, "cw")
	ns := fmt.Sprintf("KinesisSinkE2E%d", time.Now().UnixNano()%1e9)

	rs := startSink(t, env, uniqueName(t, "cw"), []string{topic}, sinkConfig(ks.Endpoint, stream, map[string]any{
		"awsCredentialPluginName":    "org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin",
		"awsCredentialPluginParam":   `{"roleArn":"arn:aws:iam::123456789012:role/kinesis-writer","roleSessionName":"e2e","accessKey":"AKIDBASE","secretKey":"e2e-secret-value"}`,
		"awsStsEndpoint":             moto.Endpoint,
		"cloudwatchEndpoint":         moto.Endpoint,
		"metricsLevel":               "summary",
		"metricsGranularity":         "stream",
		"metricsNamespace":           ns,
		"metricsUploadDelayInMillis": 1000,
	}))
	const n = 200
	e2e.Produce(t, e2e.NewClient(t, env), topic, n, func(i int) string { return fmt.Sprintf("cw-%d", i) })
	if recs := ks.WaitForRecords(t, stream, n, 60*time.Second); distinct(recs) != n {
		t.Fatalf("kinesis has %d distinct records, want %d", distinct(recs), n)
	}

	rc := conf.Default()
	rc.AWSRegion = moto.Region
	rc.CloudwatchEndpoint = moto.Endpoint
	rc.AWSCredentialPluginParam = `{"accessKey":"AKIDREAD","secretKey":"read"}`
	clients, err := awscfg.New(context.Background(), rc, awscfg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	var sum float64
	env.WaitFor(t, 30*time.Second, func() bool {
		now := time.Now()
		res, err := clients.CloudWatch.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
			MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("put"), MetricStat: &cwtypes.MetricStat{
				Period: aws.Int32(3600), Stat: aws.String("Sum"),
				Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String("UserRecordsPut"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(stream)}}}}}},
		})
		if err != nil || len(res.MetricDataResults) == 0 {
			return false
		}
		sum = 0
		for _, v := range res.MetricDataResults[0].Values {
			sum += v
		}
		return sum == n
	}, "CloudWatch UserRecordsPut{StreamName=%s} to reach %d (now %v)", stream, n, &sum)
	if !rs.in.Running() {
		t.Fatalf("instance exited: %v", rs.in.Err)
	}
}

// TestFailurePolicyFailOnError: a record that cannot be written stops the
// instance with a non-zero exit (the worker restarts it) and a line naming
// the record; it is not acked, so Pulsar redelivers it.
func TestFailurePolicyFailOnError(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	stream := ks.UniqueStream(t, "foe")
	ks.CreateStream(t, stream, 1)
	topic := env.UniqueTopic(t, "foe")
	name := uniqueName(t, "foe")
	rs := startSink(t, env, name, []string{topic}, sinkConfig(ks.Endpoint, stream, map[string]any{"failurePolicy": "failOnError"}))
	client := e2e.NewClient(t, env)
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, pl := range [][]byte{[]byte("before"), make([]byte, 1<<20+1)} {
		if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Payload: pl}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-rs.in.Done:
	case <-time.After(60 * time.Second):
		t.Fatal("instance still running after a record failed under failOnError")
	}
	if rs.in.Err == nil {
		t.Fatal("instance exited 0; failOnError must exit non-zero")
	}
	out := rs.in.Output()
	last := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if !strings.Contains(last, "failOnError") || !strings.Contains(last, topic) {
		t.Fatalf("last line does not name the policy and the record: %q", last)
	}
	recs := ks.WaitForRecords(t, stream, 1, 30*time.Second)
	if len(recs) != 1 || string(recs[0].Data) != "before" {
		t.Fatalf("kinesis: %d records", len(recs))
	}
	// The failed record was not acked: it is still in the backlog.
	sub := "public/default/" + name
	if b := env.Backlog(t, topic, sub); b < 1 {
		t.Fatalf("backlog %d: the failed record was acked", b)
	}
}
