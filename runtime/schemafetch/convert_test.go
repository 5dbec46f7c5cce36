package schemafetch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// The broker's SchemaType numbering, written out independently of the
// table under test: index = wire number.
var brokerTypeOrder = []string{
	"NONE", "STRING", "JSON", "PROTOBUF", "AVRO", "BOOLEAN", "INT8", "INT16",
	"INT32", "INT64", "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP",
	"KEY_VALUE", "INSTANT", "LOCAL_DATE", "LOCAL_TIME", "LOCAL_DATE_TIME",
	"PROTOBUF_NATIVE",
}

func TestWireTypeNames(t *testing.T) {
	if n := len(wirepb.Schema_Type_name); n != len(brokerTypeOrder) {
		t.Fatalf("the .proto has %d schema types, the broker %d", n, len(brokerTypeOrder))
	}
	for num, want := range brokerTypeOrder {
		// Empty component pair, so KEY_VALUE converts too.
		w := &wirepb.Schema{Type: wirepb.Schema_Type(num).Enum(), SchemaData: kvData(nil, nil, 0, 0)}
		s, err := convertSchema(w, []byte{1})
		if err != nil {
			t.Fatalf("type %d: %v", num, err)
		}
		if string(s.Type) != want {
			t.Errorf("type %d: got %s, want %s", num, s.Type, want)
		}
	}
}

// An enum value newer than our .proto must be an error, not NONE.
func TestUnknownWireType(t *testing.T) {
	b := protowire(t, &wirepb.Schema{Name: proto.String("x")})
	b = append(b, 0x20, 21) // field 4 (type), varint 21
	var w wirepb.Schema
	if err := proto.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if _, err := convertSchema(&w, nil); err == nil || !strings.Contains(err.Error(), "type") {
		t.Fatalf("got %v, want an error about the type", err)
	}
}

func protowire(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kvData(key, value []byte, keyLen, valueLen int32) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, keyLen)
	b.Write(key)
	_ = binary.Write(&b, binary.BigEndian, valueLen)
	b.Write(value)
	return b.Bytes()
}

func kvWire(data []byte, props map[string]string) *wirepb.Schema {
	w := &wirepb.Schema{
		Name:       proto.String("public/default/kv"),
		Type:       wirepb.Schema_KeyValue.Enum(),
		SchemaData: data,
	}
	for k, v := range props {
		w.Properties = append(w.Properties, &wirepb.KeyValue{Key: proto.String(k), Value: proto.String(v)})
	}
	return w
}

func TestKeyValueSplit(t *testing.T) {
	avro := []byte(`{"type":"record","name":"V","fields":[{"name":"a","type":"int"}]}`)
	props := map[string]string{
		"key.schema.type":         "STRING",
		"key.schema.name":         "String",
		"key.schema.properties":   "{}",
		"value.schema.type":       "AVRO",
		"value.schema.name":       "V",
		"value.schema.properties": `{"__alwaysAllowNull":"true","n":5}`,
		"kv.encoding.type":        "SEPARATED",
	}
	data := kvData(nil, avro, 0, int32(len(avro)))
	version := []byte{0, 0, 0, 0, 0, 0, 0, 7}
	s, err := convertSchema(kvWire(data, props), version)
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != record.SchemaKeyValue || s.KeyValueEncoding != record.KeyValueSeparated {
		t.Fatalf("type %s encoding %s", s.Type, s.KeyValueEncoding)
	}
	if !bytes.Equal(s.Definition, data) {
		t.Errorf("Definition is not the broker's encoded pair")
	}
	wantKey := &record.Schema{Type: "STRING", Name: "String", Definition: []byte{}, Properties: map[string]string{}, Version: version}
	if !reflect.DeepEqual(s.Key, wantKey) {
		t.Errorf("key: got %+v, want %+v", s.Key, wantKey)
	}
	wantValue := &record.Schema{Type: "AVRO", Name: "V", Definition: avro,
		Properties: map[string]string{"__alwaysAllowNull": "true", "n": "5"}, Version: version}
	if !reflect.DeepEqual(s.Value, wantValue) {
		t.Errorf("value: got %+v, want %+v", s.Value, wantValue)
	}
}

func TestKeyValueDefaultsAndNullLength(t *testing.T) {
	// No properties at all: the broker's defaults are BYTES components and
	// INLINE encoding; a length of -1 means no data.
	s, err := convertSchema(kvWire(kvData(nil, nil, -1, -1), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyValueEncoding != record.KeyValueInline || s.Key.Type != record.SchemaBytes ||
		s.Value.Type != record.SchemaBytes || s.Key.Definition != nil || s.Value.Definition != nil {
		t.Fatalf("got encoding %s key %+v value %+v", s.KeyValueEncoding, s.Key, s.Value)
	}
}

func TestKeyValueBadData(t *testing.T) {
	for name, tc := range map[string]struct {
		data  []byte
		props map[string]string
		want  string
	}{
		"short":          {[]byte{0, 0}, nil, "key length: 2 bytes left, need 4"},
		"key too long":   {kvData([]byte("ab"), nil, 9, 0), nil, "key length 9, but 6 bytes left"},
		"no value":       {kvData([]byte("ab"), nil, 2, 0)[:6], nil, "value length: 0 bytes left"},
		"trailing bytes": {append(kvData(nil, nil, 0, 0), 1), nil, "1 bytes after the value schema"},
		"bad encoding":   {kvData(nil, nil, 0, 0), map[string]string{"kv.encoding.type": "MIXED"}, `kv.encoding.type="MIXED"`},
		"bad props":      {kvData(nil, nil, 0, 0), map[string]string{"key.schema.properties": "[1]"}, "key.schema.properties"},
	} {
		_, err := convertSchema(kvWire(tc.data, tc.props), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, tc.want)
		}
	}
}

func TestBaseTopic(t *testing.T) {
	for in, want := range map[string]string{
		"orders":             "persistent://public/default/orders",
		"orders-partition-3": "persistent://public/default/orders",
		"acme/sales/orders":  "persistent://acme/sales/orders",
		"persistent://acme/sales/orders-partition-12":    "persistent://acme/sales/orders",
		"non-persistent://acme/sales/orders-partition-0": "non-persistent://acme/sales/orders",
		// Only a numeric suffix marks a partition.
		"persistent://acme/sales/orders-partition-x": "persistent://acme/sales/orders-partition-x",
	} {
		got, err := baseTopic(in)
		if err != nil || got != want {
			t.Errorf("baseTopic(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "sales/orders", "http://a/b/c", "persistent://a/b"} {
		if got, err := baseTopic(in); err == nil {
			t.Errorf("baseTopic(%q) = %q, want an error", in, got)
		}
	}
}

func TestParseServiceURL(t *testing.T) {
	for in, want := range map[string]struct {
		addrs []string
		tls   bool
	}{
		"pulsar://127.0.0.1:6650":                {[]string{"127.0.0.1:6650"}, false},
		"pulsar://a,b:7000,[::1]:7001/":          {[]string{"a:6650", "b:7000", "[::1]:7001"}, false},
		"pulsar+ssl://broker.example":            {[]string{"broker.example:6651"}, true},
		" pulsar+ssl://x:1 , y:2 ":               {[]string{"x:1", "y:2"}, true},
		"PULSAR://h":                             {[]string{"h:6650"}, false},
		"pulsar://[fe80::1]":                     {[]string{"[fe80::1]:6650"}, false},
		"pulsar://h1:6650,h2:6650/some/ignored/": {[]string{"h1:6650", "h2:6650"}, false},
	} {
		addrs, useTLS, err := parseServiceURL(in)
		if err != nil || !reflect.DeepEqual(addrs, want.addrs) || useTLS != want.tls {
			t.Errorf("parseServiceURL(%q) = %v %v %v; want %v %v", in, addrs, useTLS, err, want.addrs, want.tls)
		}
	}
	for _, in := range []string{"127.0.0.1:6650", "http://h:8080", "pulsar://", "pulsar://a,,b"} {
		if _, _, err := parseServiceURL(in); err == nil {
			t.Errorf("parseServiceURL(%q): want an error", in)
		}
	}
}

func TestFrames(t *testing.T) {
	cmd := &wirepb.BaseCommand{
		Type: wirepb.BaseCommand_GET_SCHEMA.Enum(),
		GetSchema: &wirepb.CommandGetSchema{
			RequestId: proto.Uint64(9), Topic: proto.String("persistent://a/b/c"), SchemaVersion: []byte{0, 1},
		},
	}
	frame, err := encodeFrame(cmd)
	if err != nil {
		t.Fatal(err)
	}
	body := protowire(t, cmd)
	if got, want := binary.BigEndian.Uint32(frame[0:4]), uint32(4+len(body)); got != want {
		t.Errorf("total size %d, want %d", got, want)
	}
	if got := binary.BigEndian.Uint32(frame[4:8]); got != uint32(len(body)) {
		t.Errorf("command size %d, want %d", got, len(body))
	}
	// A second frame carrying bytes after the command (as message frames
	// do) must be read past without disturbing the next one.
	withPayload := append([]byte(nil), frame...)
	binary.BigEndian.PutUint32(withPayload[0:4], binary.BigEndian.Uint32(frame[0:4])+3)
	withPayload = append(withPayload, 'x', 'y', 'z')
	r := bufio.NewReader(bytes.NewReader(append(withPayload, frame...)))
	for i := 0; i < 2; i++ {
		got, err := readFrame(r)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !proto.Equal(got, cmd) {
			t.Fatalf("frame %d: got %v", i, got)
		}
	}

	huge := []byte{0x7f, 0xff, 0xff, 0xff}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(huge))); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("oversized frame: got %v", err)
	}
	bad := []byte{0, 0, 0, 5, 0, 0, 0, 9, 1}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(bad))); err == nil || !strings.Contains(err.Error(), "command size 9") {
		t.Errorf("command larger than frame: got %v", err)
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[string]string{
		"":                                 "latest",
		"\x00\x00\x00\x00\x00\x00\x00\x03": "3 (0x0000000000000003)",
		"\x01\x02":                         "0x0102",
	} {
		if got := versionString([]byte(v)); got != want {
			t.Errorf("versionString(%x) = %q, want %q", v, got, want)
		}
	}
}
