package sink_test

// Records that do not match their topic's schema, through the real runtime
// and standalone with messageFormat FULL_MESSAGE_IN_JSON_EXPAND_VALUE: each
// follows the failure policy with the reason, and the instance keeps
// writing the good records published after it.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// badRecordTopic is one topic, its schema, a record that does not match it
// and a good record.
type badRecordTopic struct {
	name   string
	topic  string
	schema pulsar.Schema
	bad    []byte
	good   any
	// goodJSON is the payload Kinesis must hold for the good record.
	goodJSON string
}

func kvSchemaData(keySchema, valueSchema string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keySchema)))
	b = append(b, keySchema...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(valueSchema)))
	return append(b, valueSchema...)
}

func kvPayload(key, value []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

// avroOrder encodes {"id": id, "item": item} in Avro binary.
func avroOrder(id int64, item string) []byte {
	b := binary.AppendVarint(nil, id)
	b = binary.AppendVarint(b, int64(len(item)))
	return append(b, item...)
}

func badRecordTopics(t *testing.T, env *testenv.PulsarEnv) []badRecordTopic {
	pb := pulsar.NewProtoNativeSchemaWithMessage(&timestamppb.Timestamp{}, nil)
	pbGood, err := pb.Encode(&timestamppb.Timestamp{Seconds: 11, Nanos: 12})
	if err != nil {
		t.Fatal(err)
	}
	kvProps := map[string]string{
		"key.schema.type": "AVRO", "key.schema.name": "Order", "key.schema.properties": "{}",
		"value.schema.type": "STRING", "value.schema.name": "String", "value.schema.properties": "{}",
		"kv.encoding.type": "INLINE",
	}
	return []badRecordTopic{
		{
			name:   "avro",
			topic:  env.UniqueTopic(t, "bad-avro"),
			schema: &rawSchema{pulsar.SchemaInfo{Name: "Order", Type: pulsar.AVRO, Schema: orderSchema}},
			// id, then a string length of 1,000,000 with 3 bytes left.
			bad:      append(binary.AppendVarint(nil, 7), append(binary.AppendVarint(nil, 1000000), "abc"...)...),
			good:     avroOrder(8, "pear"),
			goodJSON: `{"id":8,"item":"pear"}`,
		},
		{
			name:     "json",
			topic:    env.UniqueTopic(t, "bad-json"),
			schema:   &rawSchema{pulsar.SchemaInfo{Name: "Order", Type: pulsar.JSON, Schema: orderSchema}},
			bad:      []byte(`{"id": 9, "item": "plum"`),
			good:     []byte(`{"id":10,"item":"fig"}`),
			goodJSON: `{"id":10,"item":"fig"}`,
		},
		{
			name:   "protobuf-native",
			topic:  env.UniqueTopic(t, "bad-proto"),
			schema: &rawSchema{*pb.GetSchemaInfo()},
			// field 1 (seconds, varint) with its value cut off.
			bad:      []byte{0x08, 0x96},
			good:     pbGood,
			goodJSON: `{"seconds":11,"nanos":12}`,
		},
		{
			name:   "key-value",
			topic:  env.UniqueTopic(t, "bad-kv"),
			schema: &rawSchema{pulsar.SchemaInfo{Name: "kv", Type: pulsar.KeyValue, Schema: string(kvSchemaData(orderSchema, "")), Properties: kvProps}},
			// The key is an Avro Order whose item is cut short.
			bad:      kvPayload(avroOrder(1, "apple")[:4], []byte("value-1")),
			good:     kvPayload(avroOrder(2, "kiwi"), []byte("value-2")),
			goodJSON: `{"value":"value-2","key":{"id":2,"item":"kiwi"}}`,
		},
	}
}

// publishBadThenGood sends each topic's bad record, then its good one, with
// the case name as a property.
func publishBadThenGood(t *testing.T, client pulsar.Client, tops []badRecordTopic) {
	for _, tp := range tops {
		p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: tp.topic, Schema: tp.schema, DisableBatching: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			v    any
			kind string
		}{{tp.bad, "bad"}, {tp.good, "good"}} {
			if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Value: m.v,
				Properties: map[string]string{"case": tp.name, "kind": m.kind}}); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
	}
}

func checkGoodRecords(t *testing.T, ks *testenv.KinesisEnv, stream string, tops []badRecordTopic) {
	t.Helper()
	recs := ks.WaitForRecords(t, stream, len(tops), 90*time.Second)
	// Compared as JSON values: property order follows Java's HashMap.
	var got []any
	var raw []string
	for _, r := range recs {
		var v any
		if err := json.Unmarshal(r.Data, &v); err != nil {
			t.Fatalf("record is not JSON: %q", r.Data)
		}
		got = append(got, v)
		raw = append(raw, string(r.Data))
	}
	for _, tp := range tops {
		want := `{"topicName":"` + tp.topic + `","payload":` + tp.goodJSON + `,"properties":{"case":"` + tp.name + `","kind":"good"}}`
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, g := range got {
			found = found || reflect.DeepEqual(g, w)
		}
		if !found {
			t.Errorf("%s: good record missing from Kinesis:\n%s\nin\n%s", tp.name, want, strings.Join(raw, "\n"))
		}
	}
	if len(recs) != len(tops) {
		t.Errorf("kinesis has %d records, want %d (only the good ones)", len(recs), len(tops))
	}
}

func startSinkWithMetrics(t *testing.T, env *testenv.PulsarEnv, name string, topics []string, uc map[string]any) (*e2e.Instance, int, int) {
	bin := e2e.KinesisSinkBinary(t)
	port, mport := e2e.FreePort(t), e2e.FreePort(t)
	conf := e2e.WorkerConf(env, name, port, mport, topics, uc, nil)
	return e2e.Start(t, bin, []string{"-instance-conf", conf}, nil), port, mport
}

// TestRecordsNotMatchingSchemaDeadLettered: with failurePolicy deadLetter
// every bad record is on the dead-letter topic, unchanged, with a reason
// naming its topic and what did not decode; the good records are in
// Kinesis; the instance runs on.
func TestRecordsNotMatchingSchemaDeadLettered(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)
	stream := ks.UniqueStream(t, "badrec")
	ks.CreateStream(t, stream, 1)
	tops := badRecordTopics(t, env)
	dlt := env.UniqueTopic(t, "badrec-dlq")
	dlc, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlt, SubscriptionName: "check",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlc.Close()
	var topicNames []string
	for _, tp := range tops {
		topicNames = append(topicNames, tp.topic)
	}
	name := uniqueName(t, "badrec-dl")
	in, port, mport := startSinkWithMetrics(t, env, name, topicNames, sinkConfig(ks.Endpoint, stream, map[string]any{
		"messageFormat": "FULL_MESSAGE_IN_JSON_EXPAND_VALUE", "failurePolicy": "deadLetter", "deadLetterTopic": dlt,
	}))
	for _, tp := range tops {
		env.WaitFor(t, 60*time.Second, func() bool { return e2e.HasSubscription(t, env, tp.topic, "public/default/"+name) },
			"subscription on %s", tp.topic)
	}
	publishBadThenGood(t, client, tops)
	checkGoodRecords(t, ks, stream, tops)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	byCase := map[string]pulsar.Message{}
	for len(byCase) < len(tops) {
		m, err := dlc.Receive(ctx)
		if err != nil {
			t.Fatalf("dead-letter topic has %d of %d records: %v", len(byCase), len(tops), err)
		}
		dlc.Ack(m)
		byCase[m.Properties()["case"]] = m
	}
	for _, tp := range tops {
		m := byCase[tp.name]
		if m == nil {
			t.Errorf("%s: not dead-lettered", tp.name)
			continue
		}
		reason := m.Properties()["kinesis-sink-error"]
		t.Logf("%s: %s", tp.name, reason)
		if string(m.Payload()) != string(tp.bad) {
			t.Errorf("%s: payload changed on the dead-letter topic", tp.name)
		}
		for _, w := range []string{tp.topic, "FULL_MESSAGE_IN_JSON_EXPAND_VALUE"} {
			if !strings.Contains(reason, w) {
				t.Errorf("%s: reason %q does not name %q", tp.name, reason, w)
			}
		}
		if m.Properties()["kinesis-sink-error-kind"] != "encode" || m.Properties()["kind"] != "bad" {
			t.Errorf("%s: properties %v", tp.name, m.Properties())
		}
	}
	if !in.Running() {
		t.Fatalf("instance exited: %v", in.Err)
	}
	st := e2e.FunctionStatus(t, e2e.StatusClient(t, port))
	if st == nil || st.NumSuccessfullyProcessed != int64(2*len(tops)) {
		t.Fatalf("status: want %d records resolved, got %+v", 2*len(tops), st)
	}
	if n := metricValue(t, mport, `kinesis_sink_records_failure_policy_total{kind="encode",policy="deadLetter"}`); n != float64(len(tops)) {
		t.Errorf("failure policy metric %v, want %d", n, len(tops))
	}
}

// TestRecordsNotMatchingSchemaFailPolicy: with the default policy (fail)
// the bad records are negatively acknowledged (so they stay in the backlog
// and come back), counted as user exceptions and in the failure metric,
// and the good ones after them are written.
func TestRecordsNotMatchingSchemaFailPolicy(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)
	stream := ks.UniqueStream(t, "badrec")
	ks.CreateStream(t, stream, 1)
	tops := badRecordTopics(t, env)
	var topicNames []string
	for _, tp := range tops {
		topicNames = append(topicNames, tp.topic)
	}
	name := uniqueName(t, "badrec-fail")
	in, port, mport := startSinkWithMetrics(t, env, name, topicNames, sinkConfig(ks.Endpoint, stream, map[string]any{
		"messageFormat": "FULL_MESSAGE_IN_JSON_EXPAND_VALUE", "failurePolicy": "fail",
	}))
	for _, tp := range tops {
		env.WaitFor(t, 60*time.Second, func() bool { return e2e.HasSubscription(t, env, tp.topic, "public/default/"+name) },
			"subscription on %s", tp.topic)
	}
	publishBadThenGood(t, client, tops)
	checkGoodRecords(t, ks, stream, tops)

	sc := e2e.StatusClient(t, port)
	env.WaitFor(t, 30*time.Second, func() bool {
		st := e2e.FunctionStatus(t, sc)
		return st != nil && st.NumUserExceptions >= int64(len(tops))
	}, "%d user exceptions in functions status", len(tops))
	st := e2e.FunctionStatus(t, sc)
	for _, ex := range st.LatestUserExceptions {
		if !strings.Contains(ex.ExceptionString, "FULL_MESSAGE_IN_JSON_EXPAND_VALUE") {
			t.Errorf("exception does not say what failed: %q", ex.ExceptionString)
		}
	}
	if n := metricValue(t, mport, `kinesis_sink_records_failure_policy_total{kind="encode",policy="fail"}`); n < float64(len(tops)) {
		t.Errorf("failure policy metric %v, want at least %d", n, len(tops))
	}
	// Negatively acked, not acked: each bad record is still in its topic's
	// backlog.
	for _, tp := range tops {
		if b := env.Backlog(t, tp.topic, "public/default/"+name); b != 1 {
			t.Errorf("%s: backlog %d, want 1 (the bad record, not acked)", tp.name, b)
		}
	}
	if !in.Running() {
		t.Fatalf("instance exited: %v", in.Err)
	}
}

// metricValue reads one series from the instance's Prometheus endpoint (0
// when absent, or while the endpoint does not answer yet: callers poll it).
func metricValue(t *testing.T, port int, series string) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Logf("metrics endpoint: %v", err)
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
