package sink_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink/expand/expandtest"
)

// Pulsar's schema type numbers (PulsarApi.proto Schema.Type); pulsar-client-go
// names only some of them, and sends whatever number SchemaInfo.Type holds.
var schemaTypeNumbers = map[string]pulsar.SchemaType{
	"STRING": 1, "JSON": 2, "PROTOBUF": 3, "AVRO": 4, "BOOLEAN": 5, "INT8": 6, "INT16": 7, "INT32": 8,
	"INT64": 9, "FLOAT": 10, "DOUBLE": 11, "DATE": 12, "TIME": 13, "TIMESTAMP": 14, "KEY_VALUE": 15,
	"INSTANT": 16, "LOCAL_DATE": 17, "LOCAL_TIME": 18, "LOCAL_DATE_TIME": 19, "PROTOBUF_NATIVE": 20,
}

// producerSchema registers what a Java producer of that schema registers
// (KEY_VALUE carries both halves' definitions, length-prefixed, and their
// types in properties) and sends payloads as they are.
func producerSchema(s *expandtest.Schema) (pulsar.Schema, error) {
	switch s.Type {
	case "BYTES":
		return pulsar.NewBytesSchema(nil), nil
	case "KEY_VALUE":
		data := binary.BigEndian.AppendUint32(nil, uint32(len(s.Key.Def)))
		data = append(data, s.Key.Def...)
		data = binary.BigEndian.AppendUint32(data, uint32(len(s.Value.Def)))
		data = append(data, s.Value.Def...)
		props := map[string]string{
			"key.schema.type": s.Key.Type, "key.schema.name": "k", "key.schema.properties": "{}",
			"value.schema.type": s.Value.Type, "value.schema.name": "v", "value.schema.properties": "{}",
			"kv.encoding.type": s.Encoding,
		}
		return &rawSchema{pulsar.SchemaInfo{Name: "KeyValue", Type: pulsar.KeyValue, Schema: string(data), Properties: props}}, nil
	}
	n, ok := schemaTypeNumbers[s.Type]
	if !ok {
		return nil, fmt.Errorf("schema type %q has no Pulsar number here", s.Type)
	}
	return &rawSchema{pulsar.SchemaInfo{Name: strings.ToLower(s.Type), Type: n, Schema: s.Def}}, nil
}

// TestGoldenVectorsThroughTheRuntime publishes every golden vector of
// sink/expand that has an expected output (not the ones where the Java sink
// and we both refuse the record, nor those without a topic, which a real
// message always has) to a
// topic of its own with the vector's schema, runs them through the real
// runtime and a real standalone in FULL_MESSAGE_IN_JSON_EXPAND_VALUE, and
// requires the Kinesis records to equal the Java bytes, byte for byte, with
// only the topic name replaced (or equal to our pinned output where we
// knowingly differ). The runtime fetches each schema from the
// broker, so this also proves every schema type survives the broker's
// registry and our schema client. One sink runs per (jsonIncludeNonNulls,
// jsonFlatten) combination.
func TestGoldenVectorsThroughTheRuntime(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)

	type want struct {
		name  string
		bytes []byte
	}
	type group struct {
		nonNulls, flatten bool
	}
	topicsOf := map[group][]string{}
	wants := map[group][]want{}
	used := map[string]bool{} // schema types covered
	vectors, err := expandtest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		golden, err := expandtest.Expected(v.Name)
		if errors.Is(err, os.ErrNotExist) || v.Topic == nil || v.Schema == nil {
			continue
		} else if v.Key != nil && *v.Key == "" {
			// A present but empty key: pulsar-client-go neither sends one
			// (it leaves an empty key out) nor tells one from no key on
			// receipt, so such a record reads as keyless here (see the
			// differences from the Java sink in docs/how-it-works.md).
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		schema, err := producerSchema(v.Schema)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		payload, err := base64.StdEncoding.DecodeString(v.Payload)
		if err != nil {
			t.Fatalf("%s: payload: %v", v.Name, err)
		}
		topic := env.UniqueTopic(t, "vec-"+strings.ReplaceAll(v.Name, "_", "-"))
		msg := &pulsar.ProducerMessage{Value: payload}
		if v.Key != nil {
			msg.Key = *v.Key
		}
		if v.EventTime != nil {
			msg.EventTime = time.UnixMilli(*v.EventTime)
		}
		if len(v.Props) > 0 {
			msg.Properties = map[string]string{}
			for _, kv := range v.Props {
				msg.Properties[kv[0]] = kv[1]
			}
		}
		p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: schema})
		if err != nil {
			t.Fatalf("%s: producer with schema %s: %v", v.Name, v.Schema.Type, err)
		}
		_, err = p.Send(context.Background(), msg)
		p.Close()
		if err != nil {
			t.Fatalf("%s: send: %v", v.Name, err)
		}
		oldTopic, _ := json.Marshal(*v.Topic)
		newTopic, _ := json.Marshal(topic)
		exp := bytes.Replace(golden, append([]byte(`"topicName":`), oldTopic...), append([]byte(`"topicName":`), newTopic...), 1)
		if bytes.Equal(exp, golden) {
			t.Fatalf("%s: golden has no topicName %s", v.Name, oldTopic)
		}
		g := group{v.IncludeNonNulls, v.Flatten}
		topicsOf[g] = append(topicsOf[g], topic)
		wants[g] = append(wants[g], want{v.Name, exp})
		used[v.Schema.Type] = true
		if v.Schema.Type == "KEY_VALUE" {
			used["KEY_VALUE/"+v.Schema.Encoding] = true
		}
	}
	// Every type the runtime can hand the sink must be here, so that a
	// vector file that shrinks cannot quietly narrow this test.
	for _, typ := range []string{"STRING", "JSON", "AVRO", "PROTOBUF_NATIVE", "KEY_VALUE/INLINE", "KEY_VALUE/SEPARATED",
		"BOOLEAN", "INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP",
		"INSTANT", "LOCAL_DATE", "LOCAL_TIME", "LOCAL_DATE_TIME", "BYTES"} {
		if !used[typ] {
			t.Errorf("no golden vector of schema type %s", typ)
		}
	}

	groups := make([]group, 0, len(wants))
	for g := range wants {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return fmt.Sprint(groups[i]) < fmt.Sprint(groups[j]) })
	for _, g := range groups {
		t.Run(fmt.Sprintf("includeNonNulls=%v/flatten=%v", g.nonNulls, g.flatten), func(t *testing.T) {
			stream := ks.UniqueStream(t, "vectors")
			ks.CreateStream(t, stream, 1)
			// The messages were published before the subscription exists;
			// WorkerConf subscribes at the earliest position.
			rs := startSink(t, env, uniqueName(t, "vec"), topicsOf[g],
				sinkConfig(ks.Endpoint, stream, map[string]any{
					"messageFormat":       "FULL_MESSAGE_IN_JSON_EXPAND_VALUE",
					"jsonIncludeNonNulls": g.nonNulls,
					"jsonFlatten":         g.flatten,
				}))
			recs := ks.WaitForRecords(t, stream, len(wants[g]), 120*time.Second)
			if !rs.in.Running() {
				t.Fatalf("instance exited: %v\n%s", rs.in.Err, e2e.Tail(rs.in.Output(), 20))
			}
			got := map[string]int{}
			for _, r := range recs {
				got[string(r.Data)]++
			}
			for _, w := range wants[g] {
				if got[string(w.bytes)] == 0 {
					t.Errorf("%s: missing from Kinesis; want\n%s", w.name, w.bytes)
					continue
				}
				got[string(w.bytes)]--
			}
			for data, n := range got {
				if n > 0 {
					t.Errorf("unexpected record in Kinesis (x%d):\n%s", n, data)
				}
			}
			t.Logf("%d vectors published, %d records read back", len(wants[g]), len(recs))
		})
	}
}
