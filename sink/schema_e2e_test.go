package sink_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// rawSchema registers a schema with the broker but sends the payload bytes
// it is given as they are: pulsar-client-go has no KEY_VALUE schema, and
// this is how a test publishes exact KEY_VALUE payloads.
type rawSchema struct{ info pulsar.SchemaInfo }

func (s *rawSchema) Encode(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawSchema encodes []byte, not %T", v)
	}
	return b, nil
}
func (s *rawSchema) Decode([]byte, any) error          { return errors.New("not used") }
func (s *rawSchema) Validate([]byte) error             { return nil }
func (s *rawSchema) GetSchemaInfo() *pulsar.SchemaInfo { return &s.info }

const orderSchema = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}`

// TestSchemaTypesExpandedThroughTheRuntime covers the schema types not in
// TestEveryFormatThroughTheRuntime: a primitive (INT64), KEY_VALUE with the
// INLINE encoding (STRING key, AVRO value) and PROTOBUF_NATIVE. The schema
// of each record is fetched from the broker by the runtime.
func TestSchemaTypesExpandedThroughTheRuntime(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)
	stream := ks.UniqueStream(t, "schemas")
	ks.CreateStream(t, stream, 1)
	tInt := env.UniqueTopic(t, "sch-int64")
	tKV := env.UniqueTopic(t, "sch-kv")
	tPB := env.UniqueTopic(t, "sch-proto")
	tNB := env.UniqueTopic(t, "sch-nobatch")
	rs := startSink(t, env, uniqueName(t, "sch"), []string{tInt, tKV, tPB, tNB},
		sinkConfig(ks.Endpoint, stream, map[string]any{"messageFormat": "FULL_MESSAGE_IN_JSON_EXPAND_VALUE",
			"aggregationEnabled": false}))

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
	// Java's LongSchema (and the Java sink) use 8 big-endian bytes;
	// pulsar-client-go's Int64Schema writes little-endian
	// (apache/pulsar-client-go#1031), so publish the bytes a Java producer
	// would.
	send(tInt, &rawSchema{pulsar.SchemaInfo{Name: "INT64", Type: pulsar.INT64}},
		&pulsar.ProducerMessage{Value: binary.BigEndian.AppendUint64(nil, 42)})

	// KEY_VALUE, INLINE: [len][key][len][value]; key "k1" (STRING), value an
	// Avro Order.
	avroValue := []byte{0x0a} // id 5 as a zig-zag varint
	avroValue = append(avroValue, 0x0a)
	avroValue = append(avroValue, "apple"...) // item: length 5 (zig-zag 10), then bytes
	kvData := binary.BigEndian.AppendUint32(nil, 0)
	kvData = binary.BigEndian.AppendUint32(kvData, uint32(len(orderSchema)))
	kvData = append(kvData, orderSchema...)
	kvProps := map[string]string{
		"key.schema.type": "STRING", "key.schema.name": "String", "key.schema.properties": "{}",
		"value.schema.type": "AVRO", "value.schema.name": "Order", "value.schema.properties": "{}",
		"kv.encoding.type": "INLINE",
	}
	payload := binary.BigEndian.AppendUint32(nil, 2)
	payload = append(payload, "k1"...)
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(avroValue)))
	payload = append(payload, avroValue...)
	send(tKV, &rawSchema{pulsar.SchemaInfo{Name: "kv", Type: pulsar.KeyValue, Schema: string(kvData), Properties: kvProps}},
		&pulsar.ProducerMessage{Value: payload, Properties: map[string]string{"p": "1"}})

	send(tPB, pulsar.NewProtoNativeSchemaWithMessage(&timestamppb.Timestamp{}, nil),
		&pulsar.ProducerMessage{Value: &timestamppb.Timestamp{Seconds: 7, Nanos: 9}, Key: "pk"})

	// A non-batching pulsar-client-go producer sends no schema version (the
	// client writes it only into batch metadata); the topic's schema applies.
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: tNB, Schema: pulsar.NewStringSchema(nil), DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Value: "unbatched"}); err != nil {
		t.Fatal(err)
	}
	p.Close()

	recs := ks.WaitForRecords(t, stream, 4, 60*time.Second)
	got := map[string]bool{}
	for _, r := range recs {
		got[string(r.Data)] = true
	}
	for _, want := range []string{
		`{"topicName":"` + tInt + `","payload":42}`,
		// KEY_VALUE is written value first (the Java sink's HashMap order).
		`{"topicName":"` + tKV + `","payload":{"value":{"id":5,"item":"apple"},"key":"k1"},"properties":{"p":"1"}}`,
		`{"topicName":"` + tPB + `","key":"pk","payload":{"seconds":7,"nanos":9}}`,
		`{"topicName":"` + tNB + `","payload":"unbatched"}`,
	} {
		if !got[want] {
			t.Errorf("missing\n%s\nin\n%v", want, keys(got))
		}
	}
	if !rs.in.Running() {
		t.Fatalf("instance exited: %v", rs.in.Err)
	}
}
