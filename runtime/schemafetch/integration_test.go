package schemafetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// pulsarEnv returns the dev broker's service and web URLs, skipping the
// test when they are not set (failing instead under KS_REQUIRE_SERVICES=1).
func pulsarEnv(t *testing.T) (serviceURL, webURL string) {
	t.Helper()
	serviceURL, webURL = os.Getenv("PULSAR_SERVICE_URL"), os.Getenv("PULSAR_WEB_URL")
	if serviceURL == "" || webURL == "" {
		if os.Getenv("KS_REQUIRE_SERVICES") == "1" {
			t.Fatal("PULSAR_SERVICE_URL and PULSAR_WEB_URL must be set (scripts/local-env.sh env)")
		}
		t.Skip("PULSAR_SERVICE_URL / PULSAR_WEB_URL not set")
	}
	return serviceURL, strings.TrimSuffix(webURL, "/")
}

// brokerHostPort is the dev broker as host:port, for the proxies.
func brokerHostPort(t *testing.T, serviceURL string) string {
	t.Helper()
	addrs, _, err := parseServiceURL(serviceURL)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

func uniqueTopic(t *testing.T, prefix string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("schemafetch-%s-%s", prefix, hex.EncodeToString(b[:]))
	_, web := pulsarEnv(t)
	t.Cleanup(func() {
		// Best effort: leave the shared broker as we found it.
		for _, path := range []string{"/partitions", ""} {
			req, _ := http.NewRequest(http.MethodDelete, web+"/admin/v2/persistent/public/default/"+name+path+"?force=true", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	})
	return name
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newPulsarClient(t *testing.T, serviceURL string) pulsar.Client {
	t.Helper()
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, OperationTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// publishOne sends one message with schema s to topic and reads it back
// with a plain (schema-less) consumer, returning the received message.
func publishOne(t *testing.T, client pulsar.Client, topic string, s pulsar.Schema, msg *pulsar.ProducerMessage) pulsar.Message {
	t.Helper()
	ctx := testCtx(t)
	cons, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            "schemafetch-test",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	defer cons.Close()
	prod, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: s})
	if err != nil {
		t.Fatalf("producer %s: %v", topic, err)
	}
	defer prod.Close()
	if _, err := prod.Send(ctx, msg); err != nil {
		t.Fatalf("send to %s: %v", topic, err)
	}
	m, err := cons.Receive(ctx)
	if err != nil {
		t.Fatalf("receive from %s: %v", topic, err)
	}
	_ = cons.Ack(m)
	if len(m.SchemaVersion()) == 0 {
		t.Fatalf("message on %s carries no schema version", topic)
	}
	return m
}

// adminSchema is the admin REST view of one schema version.
type adminSchema struct {
	Version    int64             `json:"version"`
	Type       string            `json:"type"`
	Data       string            `json:"data"`
	Properties map[string]string `json:"properties"`
}

func getAdminSchema(t *testing.T, web, topic string, version []byte) adminSchema {
	t.Helper()
	url := web + "/admin/v2/schemas/public/default/" + topic + "/schema"
	if version != nil {
		url += fmt.Sprintf("/%d", int64(binary.BigEndian.Uint64(version)))
	}
	var out adminSchema
	adminDo(t, http.MethodGet, url, nil, &out)
	return out
}

func adminDo(t *testing.T, method, url string, body any, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
}

// sameJSON compares two JSON texts by value (the broker re-serialises
// component schemas in its admin answers).
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("not JSON: %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("not JSON: %q: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func propsOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// kvSchema lets pulsar-client-go produce with a KEY_VALUE schema: the
// client has no KeyValue schema constructor, but it sends any Schema's
// SchemaInfo to the broker as is. Payloads are passed pre-encoded.
type kvSchema struct{ info pulsar.SchemaInfo }

func (s *kvSchema) Encode(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("kvSchema encodes []byte, not %T", v)
	}
	return b, nil
}
func (s *kvSchema) Decode(data []byte, v any) error   { return errors.New("not used") }
func (s *kvSchema) Validate([]byte) error             { return nil }
func (s *kvSchema) GetSchemaInfo() *pulsar.SchemaInfo { return &s.info }

const orderAvro = `{"type":"record","name":"Order","namespace":"test.schemafetch","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}`

type order struct {
	ID   int64  `json:"id" avro:"id"`
	Item string `json:"item" avro:"item"`
}

// TestGetSchemaTypes registers each kind of schema by producing with it,
// and checks what Get returns against what was registered and against the
// admin REST view of the same version.
func TestGetSchemaTypes(t *testing.T) {
	serviceURL, web := pulsarEnv(t)
	client := newPulsarClient(t, serviceURL)
	f := New(serviceURL, Options{})
	t.Cleanup(f.Close)

	kvData := make([]byte, 0, 8+len(orderAvro))
	kvData = binary.BigEndian.AppendUint32(kvData, 0) // STRING key: no schema data
	kvData = binary.BigEndian.AppendUint32(kvData, uint32(len(orderAvro)))
	kvData = append(kvData, orderAvro...)
	kvProps := map[string]string{
		"key.schema.type":         "STRING",
		"key.schema.name":         "String",
		"key.schema.properties":   `{"kp":"1"}`,
		"value.schema.type":       "AVRO",
		"value.schema.name":       "Order",
		"value.schema.properties": `{"__alwaysAllowNull":"true"}`,
		"kv.encoding.type":        "INLINE",
	}
	inlinePayload := binary.BigEndian.AppendUint32(nil, 3)
	inlinePayload = append(inlinePayload, "key"...)
	inlinePayload = binary.BigEndian.AppendUint32(inlinePayload, 0)

	protoSchema := pulsar.NewProtoNativeSchemaWithMessage(&timestamppb.Timestamp{}, map[string]string{"origin": "wkt"})

	cases := []struct {
		name     string
		schema   pulsar.Schema
		msg      *pulsar.ProducerMessage
		wantType record.SchemaType
	}{
		{"avro", pulsar.NewAvroSchema(orderAvro, map[string]string{"owner": "schemafetch-test"}),
			&pulsar.ProducerMessage{Value: &order{1, "apple"}}, record.SchemaAvro},
		{"json", pulsar.NewJSONSchema(orderAvro, nil),
			&pulsar.ProducerMessage{Value: &order{2, "pear"}}, record.SchemaJSON},
		{"string", pulsar.NewStringSchema(nil),
			&pulsar.ProducerMessage{Value: "hello"}, record.SchemaString},
		{"int64", pulsar.NewInt64Schema(nil),
			&pulsar.ProducerMessage{Value: int64(42)}, record.SchemaInt64},
		{"protobuf-native", protoSchema,
			&pulsar.ProducerMessage{Value: &timestamppb.Timestamp{Seconds: 7}}, record.SchemaProtobufNative},
		{"key-value", &kvSchema{pulsar.SchemaInfo{Name: "kv", Type: pulsar.KeyValue, Schema: string(kvData), Properties: kvProps}},
			&pulsar.ProducerMessage{Payload: inlinePayload}, record.SchemaKeyValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := uniqueTopic(t, tc.name)
			m := publishOne(t, client, topic, tc.schema, tc.msg)
			info := tc.schema.GetSchemaInfo()

			before := f.Requests()
			s, err := f.Get(testCtx(t), m.Topic(), m.SchemaVersion())
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Requests() - before; got != 1 {
				t.Errorf("first Get sent %d requests, want 1", got)
			}
			if s.Type != tc.wantType {
				t.Errorf("type %s, want %s", s.Type, tc.wantType)
			}
			if string(s.Definition) != info.Schema {
				t.Errorf("definition %q, want %q", s.Definition, info.Schema)
			}
			if !reflect.DeepEqual(s.Properties, propsOrEmpty(info.Properties)) {
				t.Errorf("properties %v, want %v", s.Properties, info.Properties)
			}
			if !bytes.Equal(s.Version, m.SchemaVersion()) {
				t.Errorf("version %x, want %x", s.Version, m.SchemaVersion())
			}

			admin := getAdminSchema(t, web, topic, m.SchemaVersion())
			if admin.Type != string(s.Type) {
				t.Errorf("admin type %s, Get type %s", admin.Type, s.Type)
			}
			if !reflect.DeepEqual(propsOrEmpty(admin.Properties), s.Properties) {
				t.Errorf("admin properties %v, Get properties %v", admin.Properties, s.Properties)
			}
			if tc.wantType == record.SchemaKeyValue {
				checkInlineKV(t, s, admin)
			} else if admin.Data != string(s.Definition) {
				t.Errorf("admin data %q, Get definition %q", admin.Data, s.Definition)
			}

			// Served from the cache: no request, the very same Schema.
			before = f.Requests()
			again, err := f.Get(testCtx(t), topic, m.SchemaVersion())
			if err != nil {
				t.Fatal(err)
			}
			if again != s || f.Requests() != before {
				t.Errorf("second Get: same=%v, requests +%d; want the cached Schema and no request", again == s, f.Requests()-before)
			}
		})
	}
}

func checkInlineKV(t *testing.T, s *record.Schema, admin adminSchema) {
	t.Helper()
	if s.KeyValueEncoding != record.KeyValueInline {
		t.Errorf("encoding %s, want INLINE", s.KeyValueEncoding)
	}
	if s.Key == nil || s.Value == nil {
		t.Fatalf("key %v value %v, want both", s.Key, s.Value)
	}
	if s.Key.Type != record.SchemaString || s.Key.Name != "String" || len(s.Key.Definition) != 0 ||
		!reflect.DeepEqual(s.Key.Properties, map[string]string{"kp": "1"}) {
		t.Errorf("key %+v", s.Key)
	}
	if s.Value.Type != record.SchemaAvro || s.Value.Name != "Order" || string(s.Value.Definition) != orderAvro ||
		!reflect.DeepEqual(s.Value.Properties, map[string]string{"__alwaysAllowNull": "true"}) {
		t.Errorf("value %+v", s.Value)
	}
	// The admin view shows the pair as {"key": <schema or "">, "value": ...}.
	var pair struct{ Key, Value json.RawMessage }
	if err := json.Unmarshal([]byte(admin.Data), &pair); err != nil {
		t.Fatalf("admin KEY_VALUE data %q: %v", admin.Data, err)
	}
	if string(pair.Key) != `""` {
		t.Errorf("admin key %s, want \"\" for a primitive key", pair.Key)
	}
	if !sameJSON(t, string(pair.Value), string(s.Value.Definition)) {
		t.Errorf("admin value %s, Get value %s", pair.Value, s.Value.Definition)
	}
}

// TestKeyValueRegisteredByAdmin registers a SEPARATED KEY_VALUE schema
// through the admin REST API (the other way a topic gets one) and fetches
// it by the version number the admin API reports, with no message at all.
func TestKeyValueRegisteredByAdmin(t *testing.T) {
	serviceURL, web := pulsarEnv(t)
	topic := uniqueTopic(t, "kv-admin")
	adminDo(t, http.MethodPut, web+"/admin/v2/persistent/public/default/"+topic, nil, nil)

	keyJSON := `{"type":"record","name":"K","fields":[{"name":"k","type":"string"}]}`
	props := map[string]string{
		"key.schema.type":         "JSON",
		"key.schema.name":         "K",
		"key.schema.properties":   `{"a":"b"}`,
		"value.schema.type":       "AVRO",
		"value.schema.name":       "Order",
		"value.schema.properties": `{}`,
		"kv.encoding.type":        "SEPARATED",
	}
	adminDo(t, http.MethodPost, web+"/admin/v2/schemas/public/default/"+topic+"/schema", map[string]any{
		"type":       "KEY_VALUE",
		"schema":     `{"key":` + keyJSON + `,"value":` + orderAvro + `}`,
		"properties": props,
	}, nil)
	latest := getAdminSchema(t, web, topic, nil)
	version := binary.BigEndian.AppendUint64(nil, uint64(latest.Version))

	f := New(serviceURL, Options{})
	t.Cleanup(f.Close)
	s, err := f.Get(testCtx(t), "persistent://public/default/"+topic, version)
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != record.SchemaKeyValue || s.KeyValueEncoding != record.KeyValueSeparated {
		t.Fatalf("type %s encoding %s, want KEY_VALUE SEPARATED", s.Type, s.KeyValueEncoding)
	}
	if !reflect.DeepEqual(s.Properties, props) {
		t.Errorf("properties %v, want %v", s.Properties, props)
	}
	if s.Key.Type != record.SchemaJSON || s.Key.Name != "K" || !sameJSON(t, string(s.Key.Definition), keyJSON) ||
		!reflect.DeepEqual(s.Key.Properties, map[string]string{"a": "b"}) {
		t.Errorf("key %+v", s.Key)
	}
	if s.Value.Type != record.SchemaAvro || !sameJSON(t, string(s.Value.Definition), orderAvro) ||
		len(s.Value.Properties) != 0 {
		t.Errorf("value %+v", s.Value)
	}
	// The encoded pair is [len][key][len][value] of the two definitions.
	want := binary.BigEndian.AppendUint32(nil, uint32(len(s.Key.Definition)))
	want = append(want, s.Key.Definition...)
	want = binary.BigEndian.AppendUint32(want, uint32(len(s.Value.Definition)))
	want = append(want, s.Value.Definition...)
	if !bytes.Equal(s.Definition, want) {
		t.Errorf("definition %q, want %q", s.Definition, want)
	}
	var pair struct{ Key, Value json.RawMessage }
	if err := json.Unmarshal([]byte(latest.Data), &pair); err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, string(pair.Key), string(s.Key.Definition)) || !sameJSON(t, string(pair.Value), string(s.Value.Definition)) {
		t.Errorf("admin pair %s / %s differs from Get's %s / %s", pair.Key, pair.Value, s.Key.Definition, s.Value.Definition)
	}

	// No version: the latest, then cached under the version it names.
	before := f.Requests()
	l, err := f.Get(testCtx(t), topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Version, version) || f.Requests() != before+1 {
		t.Errorf("latest: version %x (want %x), requests +%d (want 1)", l.Version, version, f.Requests()-before)
	}
}

func TestUnknownTopic(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	f := New(serviceURL, Options{})
	t.Cleanup(f.Close)
	var b [6]byte
	_, _ = rand.Read(b[:])
	topic := "persistent://public/default/schemafetch-no-such-topic-" + hex.EncodeToString(b[:])
	version := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	_, err := f.Get(testCtx(t), topic+"-partition-2", version)
	if err == nil {
		t.Fatal("Get of a topic without a schema succeeded")
	}
	if !IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}
	msg := err.Error()
	for _, want := range []string{topic, "version 0 (0x0000000000000000)", "TopicNotFound"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "-partition-2") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming the base topic", msg)
	}
	// Errors are not cached: the next Get asks again.
	before := f.Requests()
	if _, err := f.Get(testCtx(t), topic, version); err == nil || f.Requests() != before+1 {
		t.Errorf("second Get: err %v, requests +%d; want an error and one request", err, f.Requests()-before)
	}
}

func TestPartitionedTopic(t *testing.T) {
	serviceURL, web := pulsarEnv(t)
	topic := uniqueTopic(t, "partitioned")
	adminDo(t, http.MethodPut, web+"/admin/v2/persistent/public/default/"+topic+"/partitions", 3, nil)
	client := newPulsarClient(t, serviceURL)
	schema := pulsar.NewAvroSchema(orderAvro, nil)
	m := publishOne(t, client, topic, schema, &pulsar.ProducerMessage{Value: &order{3, "plum"}})
	if !strings.Contains(m.Topic(), "-partition-") {
		t.Fatalf("message topic %q is not a partition", m.Topic())
	}

	f := New(serviceURL, Options{})
	t.Cleanup(f.Close)
	s, err := f.Get(testCtx(t), m.Topic(), m.SchemaVersion())
	if err != nil {
		t.Fatal(err)
	}
	// The Go client registers its own normalised rendering of the schema.
	if s.Type != record.SchemaAvro || string(s.Definition) != schema.GetSchemaInfo().Schema {
		t.Errorf("got %s %q, want AVRO %q", s.Type, s.Definition, schema.GetSchemaInfo().Schema)
	}
	// Every partition and every spelling of the parent share one entry.
	before := f.Requests()
	for _, name := range []string{
		"persistent://public/default/" + topic + "-partition-0",
		topic + "-partition-2",
		"public/default/" + topic,
		topic,
	} {
		got, err := f.Get(testCtx(t), name, m.SchemaVersion())
		if err != nil || got != s {
			t.Errorf("Get(%s): same=%v err=%v", name, got == s, err)
		}
	}
	if f.Requests() != before {
		t.Errorf("partition and short names sent %d requests, want 0", f.Requests()-before)
	}
}

// TestConcurrentMisses: many callers missing the same key at once share
// one request, and different keys share one connection.
func TestConcurrentMisses(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	client := newPulsarClient(t, serviceURL)
	topicA, topicB := uniqueTopic(t, "conc-a"), uniqueTopic(t, "conc-b")
	ma := publishOne(t, client, topicA, pulsar.NewStringSchema(nil), &pulsar.ProducerMessage{Value: "a"})
	mb := publishOne(t, client, topicB, pulsar.NewInt64Schema(nil), &pulsar.ProducerMessage{Value: int64(1)})

	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	f := New("pulsar://"+p.addr(), Options{})
	t.Cleanup(f.Close)

	const callers = 16
	var wg sync.WaitGroup
	results := make([]*record.Schema, 2*callers)
	errs := make([]error, 2*callers)
	start := make(chan struct{})
	for i := 0; i < 2*callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			m := ma
			if i%2 == 1 {
				m = mb
			}
			results[i], errs[i] = f.Get(testCtx(t), m.Topic(), m.SchemaVersion())
		}(i)
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if results[i] != results[i%2] {
			t.Errorf("caller %d got a different Schema than caller %d", i, i%2)
		}
	}
	if results[0].Type != record.SchemaString || results[1].Type != record.SchemaInt64 {
		t.Errorf("types %s %s", results[0].Type, results[1].Type)
	}
	if got := f.Requests(); got != 2 {
		t.Errorf("%d requests for 2 keys, want 2", got)
	}
	if got := len(p.sent(wirepb.BaseCommand_GET_SCHEMA)); got != 2 {
		t.Errorf("broker saw %d GET_SCHEMA, want 2", got)
	}
	if got := p.accepted.Load(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// TestCloseEndsLookups: Get after Close fails with ErrClosed.
func TestClose(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	f := New(serviceURL, Options{})
	f.Close()
	if _, err := f.Get(testCtx(t), "x", []byte{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	f.Close() // idempotent
}
