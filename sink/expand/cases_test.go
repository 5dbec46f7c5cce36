package expand

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// A golden case is one record and the options to encode it with. Its
// expected bytes live in testdata/golden: <name>.json when the Java sink
// (run by testdata/javaref) produces output, and <name>.go.json for our
// pinned output otherwise. divergence says why we write something where the
// Java sink throws (<name>.java-error); improves says why we knowingly
// write something else than the Java sink. wantErr marks records both sides
// must reject.
type goldenCase struct {
	name       string
	rec        runtime.RecordData
	opts       Options
	divergence string
	improves   string
	wantErr    string
}

const topicT = "persistent://public/default/t"

var eventT = time.UnixMilli(1648502845803)

func mkRecord(s *runtime.Schema, payload []byte) runtime.RecordData {
	return runtime.RecordData{
		Topic: topicT, Key: "k1", HasKey: true, Properties: map[string]string{"p": "v"},
		EventTime: eventT, Schema: s, Payload: payload, Partition: -1,
		MessageID: pulsar.NewMessageID(12, 3, -1, -1),
	}
}

func sch(t runtime.SchemaType, def string) *runtime.Schema {
	s := &runtime.Schema{Type: t, Name: topicT, Version: make([]byte, 8)}
	if def != "" {
		s.Definition = []byte(def)
	}
	return s
}

func kvSchema(enc runtime.KeyValueEncoding, k, v *runtime.Schema) *runtime.Schema {
	s := sch(runtime.SchemaKeyValue, "")
	s.Key, s.Value, s.KeyValueEncoding = k, v, enc
	return s
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func inlineKV(k, v []byte) []byte {
	kl, vl := uint32(len(k)), uint32(len(v))
	if k == nil {
		kl = math.MaxUint32
	}
	if v == nil {
		vl = math.MaxUint32
	}
	return cat(be32(kl), k, be32(vl), v)
}

// aw writes Avro binary by hand, for payloads whose exact layout matters
// (map entry order, block splits, malformed data); everything else is
// encoded with hamba/avro.
type aw []byte

func (w aw) long(v int64) aw {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		w = append(w, byte(u)|0x80)
		u >>= 7
	}
	return append(w, byte(u))
}
func (w aw) str(s string) aw   { return append(w.long(int64(len(s))), s...) }
func (w aw) raw(b ...byte) aw  { return append(w, b...) }
func (w aw) bytes(b []byte) aw { return append(w.long(int64(len(b))), b...) }
func (w aw) f32(f float32) aw  { return binary.LittleEndian.AppendUint32(w, math.Float32bits(f)) }
func (w aw) f64(f float64) aw  { return binary.LittleEndian.AppendUint64(w, math.Float64bits(f)) }
func (w aw) mapInts(kv ...any) aw {
	w = w.long(int64(len(kv) / 2))
	for i := 0; i < len(kv); i += 2 {
		w = w.str(kv[i].(string)).long(int64(kv[i+1].(int)))
	}
	return w.long(0)
}

func hambaEncode(t testing.TB, def string, v any) []byte {
	t.Helper()
	s, err := avro.ParseWithCache(def, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parse %s: %v", def, err)
	}
	b, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// The value and key schemas of Pulsar's UtilsTest, as SchemaBuilder writes
// them for AVRO: every field optional (a union with null first).
const utilsValueDef = `{"type":"record","name":"value","fields":[
 {"name":"c","type":["null","string"],"default":null},
 {"name":"d","type":["null","int"],"default":null},
 {"name":"e","type":["null",{"type":"record","name":"type1","fields":[
   {"name":"a","type":["null","string"],"default":null},
   {"name":"b","type":["null","boolean"],"default":null},
   {"name":"d","type":["null","double"],"default":null},
   {"name":"f","type":["null","float"],"default":null},
   {"name":"i","type":["null","int"],"default":null},
   {"name":"l","type":["null","long"],"default":null}]}],"default":null}]}`

const utilsKeyDef = `{"type":"record","name":"key","fields":[
 {"name":"a","type":["null","string"],"default":null},
 {"name":"b","type":["null","int"],"default":null}]}`

func u(typ string, v any) map[string]any { return map[string]any{typ: v} }

func utilsValue(t testing.TB) []byte {
	return hambaEncode(t, utilsValueDef, map[string]any{
		"c": u("string", "1"), "d": u("int", 1),
		"e": u("type1", map[string]any{
			"a": u("string", "a"), "b": u("boolean", true), "d": u("double", 1.0),
			"f": u("float", float32(1.0)), "i": u("int", 1), "l": u("long", int64(10)),
		}),
	})
}

func utilsKey(t testing.TB) []byte {
	return hambaEncode(t, utilsKeyDef, map[string]any{"a": u("string", "1"), "b": u("int", 1)})
}

// utilsRecord is the record of Pulsar's UtilsTest.
func utilsRecord(s *runtime.Schema, payload []byte) runtime.RecordData {
	r := mkRecord(s, payload)
	r.Topic, r.Key = "data-ks1.table1", "message-key"
	r.Properties = map[string]string{"prop-key": "prop-value"}
	return r
}

// collidingKeys returns 2^n distinct ASCII strings with one String.hashCode
// (and Utf8 hash): "Aa" and "BB" hash alike, so do all their concatenations.
func collidingKeys(n int) []string {
	keys := []string{""}
	for range n {
		var next []string
		for _, k := range keys {
			next = append(next, k+"Aa", k+"BB")
		}
		keys = next
	}
	return keys
}

const scalarsDef = `{"type":"record","name":"S","namespace":"ns","fields":[
 {"name":"n","type":"null"},
 {"name":"b","type":"boolean"},
 {"name":"i","type":"int"},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":"double"},
 {"name":"by","type":"bytes"},
 {"name":"s","type":"string"},
 {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
 {"name":"fx","type":{"type":"fixed","name":"F4","size":4}},
 {"name":"e2","type":"Color"},
 {"name":"fx2","type":"ns.F4"}]}`

func scalarsValue() map[string]any {
	return map[string]any{
		"n": nil, "b": true, "i": int32(math.MinInt32), "l": int64(math.MaxInt64),
		"f": float32(0.1), "d": 1e-7, "by": []byte{0, 1, 0xfe, 0xff}, "s": "x/y \"q\" \\ é\t",
		"e": "GREEN", "fx": [4]byte{'a', 'b', 0, 0xff}, "e2": "RED", "fx2": [4]byte{1, 2, 3, 4},
	}
}

const logicalDef = `{"type":"record","name":"L","fields":[
 {"name":"date","type":{"type":"int","logicalType":"date"}},
 {"name":"tmillis","type":{"type":"int","logicalType":"time-millis"}},
 {"name":"tmicros","type":{"type":"long","logicalType":"time-micros"}},
 {"name":"tsmillis","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"tsmicros","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"ltsmillis","type":{"type":"long","logicalType":"local-timestamp-millis"}},
 {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
 {"name":"dur","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}},
 {"name":"baddate","type":{"type":"long","logicalType":"date"}},
 {"name":"baddec","type":{"type":"bytes","logicalType":"decimal"}},
 {"name":"optdate","type":["null",{"type":"int","logicalType":"date"}]}]}`

const decimalDef = `{"type":"record","name":"D","fields":[
 {"name":"b","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"neg","type":{"type":"bytes","logicalType":"decimal","precision":30,"scale":4}},
 {"name":"small","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":12}},
 {"name":"zero","type":{"type":"bytes","logicalType":"decimal","precision":5,"scale":3}},
 {"name":"int","type":{"type":"bytes","logicalType":"decimal","precision":5}},
 {"name":"fx","type":{"type":"fixed","name":"Dec8","size":8,"logicalType":"decimal","precision":18,"scale":6}},
 {"name":"opt","type":["null",{"type":"bytes","logicalType":"decimal","precision":9,"scale":1}]}]}`

func decimalPayload() []byte {
	w := aw{}.
		bytes([]byte{0x04, 0xD2}).               // 12.34
		bytes([]byte{0xFF, 0x85, 0xEE}).         // unscaled -31250: -3.1250
		bytes([]byte{0x7B}).                     // 123e-12 -> 1.23E-10
		bytes([]byte{0x00}).                     // 0.000
		bytes([]byte{0x01, 0x00}).               // 256
		raw(0, 0, 0, 0, 0x49, 0x96, 0x02, 0xD2). // 1234.567890
		long(1).bytes([]byte{0x0F})              // 1.5
	return w
}

const arraysDef = `{"type":"record","name":"A","fields":[
 {"name":"empty","type":{"type":"array","items":"int"}},
 {"name":"ints","type":{"type":"array","items":"int"}},
 {"name":"nested","type":{"type":"array","items":{"type":"array","items":"string"}}},
 {"name":"recs","type":{"type":"array","items":{"type":"record","name":"P","fields":[{"name":"x","type":"int"},{"name":"y","type":["null","P"]}]}}},
 {"name":"floats","type":{"type":"array","items":"float"}},
 {"name":"nulls","type":{"type":"array","items":"null"}}]}`

func arraysPayload() []byte {
	w := aw{}.long(0). // empty
				long(2).long(1).long(-1).long(-1).long(6).long(99).long(0). // ints: block of 2, then a sized block of 1
				long(2).long(1).str("a").long(0).long(0).long(0).           // nested: [["a"],[]]
				long(1).long(7).long(1).long(8).long(0).long(0).            // recs: [{x:7,y:{x:8,y:null}}]
				long(3).f32(0.1).f32(1).f32(float32(math.Inf(-1))).long(0).
				long(3).long(0) // three nulls
	return w
}

func mapDef(values string, stringKeys bool) string {
	extra := ""
	if stringKeys {
		extra = `,"avro.java.string":"String"`
	}
	return `{"type":"record","name":"M","fields":[{"name":"m","type":{"type":"map","values":` + values + extra + `}}]}`
}

var probeKeys = []any{"é", 1, "zeta", 2, "alpha", 3, "Aa", 4, "BB", 5, "key", 6, "value", 7, "ü", 8, "\U0001F600", 9, "a\xffb", 10}

func protoDescriptor(t testing.TB) (protoreflect.MessageDescriptor, string) {
	t.Helper()
	s := proto.String
	i32 := proto.Int32
	lbl := func(l descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto_Label { return &l }
	typ := func(t descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto_Type { return &t }
	opt, rep := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	field := func(name string, num int32, l descriptorpb.FieldDescriptorProto_Label, ty descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: s(name), Number: i32(num), Label: lbl(l), Type: typ(ty), JsonName: s(name)}
		if typeName != "" {
			f.TypeName = s(typeName)
		}
		return f
	}
	T := descriptorpb.FieldDescriptorProto_Type(0)
	_ = T
	fd := &descriptorpb.FileDescriptorProto{
		Name: s("test/all.proto"), Package: s("test"), Syntax: s("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: s("Kind"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: s("KIND_UNSPECIFIED"), Number: i32(0)}, {Name: s("KIND_A"), Number: i32(1)}}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: s("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
				field("v", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("w", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
			}},
			{Name: s("All"), Field: []*descriptorpb.FieldDescriptorProto{
				field("b", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
				field("i32", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
				field("s32", 3, opt, descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""),
				field("sf32", 4, opt, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, ""),
				field("i64", 5, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				field("u32", 6, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""),
				field("u64", 7, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT64, ""),
				field("f64x", 8, opt, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""),
				field("fl", 9, opt, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""),
				field("db", 10, opt, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
				field("str", 11, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("by", 12, opt, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
				field("kind", 13, opt, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".test.Kind"),
				field("inner", 14, opt, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".test.Inner"),
				field("unset", 15, opt, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".test.Inner"),
				field("reps", 16, rep, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
				field("inners", 17, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".test.Inner"),
				field("m", 18, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".test.All.MEntry"),
				func() *descriptorpb.FieldDescriptorProto {
					f := field("opt", 19, opt, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")
					f.OneofIndex, f.Proto3Optional = i32(1), proto.Bool(true)
					return f
				}(),
				func() *descriptorpb.FieldDescriptorProto {
					f := field("one_s", 20, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")
					f.OneofIndex = i32(0)
					return f
				}(),
				func() *descriptorpb.FieldDescriptorProto {
					f := field("one_i", 21, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, "")
					f.OneofIndex = i32(0)
					return f
				}(),
				field("unknown_enum", 22, opt, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".test.Kind"),
				field("with.dot", 23, opt, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
			},
				OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: s("choice")}, {Name: s("_opt")}},
				NestedType: []*descriptorpb.DescriptorProto{{Name: s("MEntry"),
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
					Field: []*descriptorpb.FieldDescriptorProto{
						field("key", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
						field("value", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
					}}},
			},
		},
	}
	// "with.dot" is not a valid proto field name for protoc, but descriptors
	// allow any; it exercises the flattener's quoting.
	fd.MessageType[1].Field[len(fd.MessageType[1].Field)-1].Name = s("with_dot")
	file, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatalf("descriptor: %v", err)
	}
	set, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fd}})
	if err != nil {
		t.Fatal(err)
	}
	def, _ := json.Marshal(map[string]string{
		"fileDescriptorSet":      base64.StdEncoding.EncodeToString(set),
		"rootMessageTypeName":    "test.All",
		"rootFileDescriptorName": "test/all.proto",
	})
	return file.Messages().ByName("All"), string(def)
}

func protoPayload(t testing.TB, md protoreflect.MessageDescriptor, fill bool) []byte {
	m := dynamicpb.NewMessage(md)
	if fill {
		f := md.Fields()
		set := func(name string, v protoreflect.Value) { m.Set(f.ByName(protoreflect.Name(name)), v) }
		set("b", protoreflect.ValueOfBool(true))
		set("i32", protoreflect.ValueOfInt32(-7))
		set("s32", protoreflect.ValueOfInt32(math.MinInt32))
		set("sf32", protoreflect.ValueOfInt32(42))
		set("i64", protoreflect.ValueOfInt64(math.MinInt64))
		set("u32", protoreflect.ValueOfUint32(math.MaxUint32))
		set("u64", protoreflect.ValueOfUint64(math.MaxUint64))
		set("f64x", protoreflect.ValueOfUint64(1<<63))
		set("fl", protoreflect.ValueOfFloat32(0.1))
		set("db", protoreflect.ValueOfFloat64(1e21))
		set("str", protoreflect.ValueOfString("héllo \"x\""))
		set("by", protoreflect.ValueOfBytes([]byte{0, 0xff}))
		set("kind", protoreflect.ValueOfEnum(1))
		inner := dynamicpb.NewMessage(f.ByName("inner").Message())
		inner.Set(inner.Descriptor().Fields().ByName("v"), protoreflect.ValueOfString("in"))
		set("inner", protoreflect.ValueOfMessage(inner))
		l := m.Mutable(f.ByName("reps")).List()
		l.Append(protoreflect.ValueOfInt32(3))
		l.Append(protoreflect.ValueOfInt32(1))
		il := m.Mutable(f.ByName("inners")).List()
		il.Append(protoreflect.ValueOfMessage(inner))
		mp := m.Mutable(f.ByName("m")).Map()
		for _, k := range []string{"zeta", "alpha", "a.b"} {
			mp.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfInt64(int64(len(k))))
		}
		set("opt", protoreflect.ValueOfInt32(0))
		set("one_i", protoreflect.ValueOfInt64(5))
		set("unknown_enum", protoreflect.ValueOfEnum(9))
		set("with_dot", protoreflect.ValueOfInt32(1))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nested(depth int, leaf string) string {
	return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat("}", depth)
}

func goldenCases(t testing.TB) []goldenCase {
	var cs []goldenCase
	add := func(name string, r runtime.RecordData, opts Options) *goldenCase {
		cs = append(cs, goldenCase{name: name, rec: r, opts: opts})
		return &cs[len(cs)-1]
	}
	def := DefaultOptions()
	flat := Options{IncludeNonNulls: true, Flatten: true}
	keep := Options{}
	keepFlat := Options{Flatten: true}

	// --- The examples of Pulsar's UtilsTest (the reference's §3.4).
	avroV := sch(runtime.SchemaAvro, utilsValueDef)
	add("ref_avro", utilsRecord(avroV, utilsValue(t)), def)
	add("ref_avro_flat", utilsRecord(avroV, utilsValue(t)), flat)
	// A JSON producer writes the doubles as 1.0; Pulsar's reader turns them
	// into BigDecimal 1 (UtilsTest builds its JSON record in memory instead).
	jsonV := sch(runtime.SchemaJSON, utilsValueDef)
	jsonText := []byte(`{"c":"1","d":1,"e":{"a":"a","b":true,"d":1.0,"f":1.0,"i":1,"l":10}}`)
	add("ref_json", utilsRecord(jsonV, jsonText), def)
	kv := kvSchema(runtime.KeyValueInline, sch(runtime.SchemaAvro, utilsKeyDef), avroV)
	add("ref_kv", utilsRecord(kv, inlineKV(utilsKey(t), utilsValue(t))), def)
	add("ref_kv_flat", utilsRecord(kv, inlineKV(utilsKey(t), utilsValue(t))), flat)
	add("ref_string", utilsRecord(sch(runtime.SchemaString, ""), []byte("message-value")), def)

	// --- No schema and primitives.
	raw := []byte{0, 1, 0xfe, 0xff, 'a'}
	add("prim_none", mkRecord(nil, raw), def)
	add("prim_none_flat", mkRecord(nil, raw), flat).improves = "json-flattener turns byte[] into null (data loss); we keep base64"
	add("prim_bytes", mkRecord(sch(runtime.SchemaBytes, ""), raw), def)
	add("prim_bytes_empty", mkRecord(sch(runtime.SchemaBytes, ""), nil), def)
	add("prim_bytes_flat", mkRecord(sch(runtime.SchemaBytes, ""), raw), flat).improves = "json-flattener turns byte[] into null (data loss); we keep base64"
	str := []byte("héllo \"q\" \\ / \t\n\r\b\f \x01\x1f\x7f \u2028 \U0001F600")
	add("prim_string", mkRecord(sch(runtime.SchemaString, ""), str), def)
	add("prim_string_flat", mkRecord(sch(runtime.SchemaString, ""), str), flat)
	add("prim_string_empty", mkRecord(sch(runtime.SchemaString, ""), nil), def)
	bad := []byte("a\xe2\x82A\xed\xa0\x80B\xe0\x80\x80C\xf0\x90\x80D\xf4\x90\x80\x80E\xc0\xafF\xff\xf5G\xed\xa0H\xf0\x9f\x98")
	add("prim_string_badutf8", mkRecord(sch(runtime.SchemaString, ""), bad), def)
	add("prim_string_badutf8_2", mkRecord(sch(runtime.SchemaString, ""), []byte("\xe2\x82")), def)
	add("prim_string_badutf8_3", mkRecord(sch(runtime.SchemaString, ""), []byte("\xf0\x9f\x98\x41\xf0\x9f")), def)
	add("prim_string_badutf8_4", mkRecord(sch(runtime.SchemaString, ""), []byte("\xc3\xe9\xf0\x9f\x98\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf")), def)
	for i, b := range []byte{1, 0, 2} {
		add([]string{"prim_bool_true", "prim_bool_false", "prim_bool_two"}[i], mkRecord(sch(runtime.SchemaBoolean, ""), []byte{b}), def)
	}
	add("prim_int8", mkRecord(sch(runtime.SchemaInt8, ""), []byte{0x80}), def)
	add("prim_int16", mkRecord(sch(runtime.SchemaInt16, ""), []byte{0x80, 0}), def)
	add("prim_int32", mkRecord(sch(runtime.SchemaInt32, ""), be32(0x80000000)), def)
	add("prim_int64", mkRecord(sch(runtime.SchemaInt64, ""), be64(math.MaxInt64)), def)
	add("prim_int64_flat", mkRecord(sch(runtime.SchemaInt64, ""), be64(1<<63)), flat)
	add("prim_int32_short", mkRecord(sch(runtime.SchemaInt32, ""), []byte{1, 2, 3}), def).wantErr = "needs exactly 4"
	add("prim_bool_long", mkRecord(sch(runtime.SchemaBoolean, ""), []byte{1, 1}), def).wantErr = "needs exactly 1"
	floats := []float32{1, 0.1, 1e10, 1e-5, float32(math.Copysign(0, -1)), 1e7, 9999999, 0.001, 1.2345679e8, math.MaxFloat32,
		math.SmallestNonzeroFloat32, 1.17549435e-38, 3e-45, 123456.7, 1e-3, 9.999999e-4, 16777216}
	for i, f := range floats {
		if i == 4 {
			f = float32(math.Copysign(0, -1))
		}
		add(fmt.Sprintf("prim_float_%02d", i), mkRecord(sch(runtime.SchemaFloat, ""), be32(math.Float32bits(f))), def)
		add(fmt.Sprintf("prim_float_%02d_flat", i), mkRecord(sch(runtime.SchemaFloat, ""), be32(math.Float32bits(f))), flat)
	}
	doubles := []float64{1, 0.1, 1e10, 1e-5, math.Copysign(0, -1), 1e7, 9999999, 0.001, 123456789.125,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 2 * math.SmallestNonzeroFloat64, 2.2250738585072014e-308,
		0.1 + 0.2, 1e23, 2e-3, 1e21, 1e-7, 12345678.9, 1.0e-4, 9007199254740993, 5e-324 * 3}
	for i, d := range doubles {
		add(fmt.Sprintf("prim_double_%02d", i), mkRecord(sch(runtime.SchemaDouble, ""), be64(math.Float64bits(d))), def)
		add(fmt.Sprintf("prim_double_%02d_flat", i), mkRecord(sch(runtime.SchemaDouble, ""), be64(math.Float64bits(d))), flat)
	}
	for i, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		add(fmt.Sprintf("prim_double_special_%d", i), mkRecord(sch(runtime.SchemaDouble, ""), be64(math.Float64bits(d))), def)
		add(fmt.Sprintf("prim_float_special_%d", i), mkRecord(sch(runtime.SchemaFloat, ""), be32(math.Float32bits(float32(d)))), def)
		add(fmt.Sprintf("prim_double_special_%d_flat", i), mkRecord(sch(runtime.SchemaDouble, ""), be64(math.Float64bits(d))), flat).divergence =
			"json-flattener cannot make a BigDecimal of NaN/Infinity (NumberFormatException); we keep the quoted text"
	}
	add("prim_date", mkRecord(sch(runtime.SchemaDate, ""), be64(1648502845803)), def)
	add("prim_date_flat", mkRecord(sch(runtime.SchemaDate, ""), be64(1648502845803)), flat)
	add("prim_timestamp", mkRecord(sch(runtime.SchemaTimestamp, ""), be64(uint64(1<<64-1000))), def)
	add("prim_time", mkRecord(sch(runtime.SchemaTime, ""), be64(45296789)), def)
	add("prim_time_neg", mkRecord(sch(runtime.SchemaTime, ""), be64(uint64(1<<64-1))), def)
	add("prim_time_days", mkRecord(sch(runtime.SchemaTime, ""), be64(86400000*3+5000)), flat)
	const jsr310 = "Jackson without the JSR-310 module cannot write java.time values; we write their ISO-8601 toString()"
	add("prim_instant", mkRecord(sch(runtime.SchemaInstant, ""), cat(be64(1648502845), be32(803000000))), def).divergence = jsr310
	add("prim_instant_neg", mkRecord(sch(runtime.SchemaInstant, ""), cat(be64(uint64(1<<64-1)), be32(1))), def).divergence = jsr310
	add("prim_instant_nanos", mkRecord(sch(runtime.SchemaInstant, ""), cat(be64(0), be32(1500), []byte{9})), def).divergence = jsr310
	add("prim_instant_adj", mkRecord(sch(runtime.SchemaInstant, ""), cat(be64(10), be32(uint32(1<<32-1)))), def).divergence = jsr310
	add("prim_instant_far", mkRecord(sch(runtime.SchemaInstant, ""), cat(be64(253402300800), be32(0))), def).divergence = jsr310
	add("prim_instant_range", mkRecord(sch(runtime.SchemaInstant, ""), cat(be64(1<<62), be32(0))), def).wantErr = "outside Java's Instant range"
	add("prim_instant_short", mkRecord(sch(runtime.SchemaInstant, ""), be64(1)), def).wantErr = "at least 12"
	add("prim_local_date", mkRecord(sch(runtime.SchemaLocalDate, ""), be64(19079)), def).divergence = jsr310
	add("prim_local_date_old", mkRecord(sch(runtime.SchemaLocalDate, ""), be64(uint64(1<<64-800000))), def).divergence = jsr310
	add("prim_local_date_future", mkRecord(sch(runtime.SchemaLocalDate, ""), be64(3000000)), def).divergence = jsr310
	add("prim_local_date_bce", mkRecord(sch(runtime.SchemaLocalDate, ""), be64(uint64(1<<64-4000000))), def).divergence = jsr310
	add("prim_local_date_range", mkRecord(sch(runtime.SchemaLocalDate, ""), be64(1<<50)), def).wantErr = "outside"
	add("prim_local_time", mkRecord(sch(runtime.SchemaLocalTime, ""), be64(45240000000000)), def).divergence = jsr310
	add("prim_local_time_nanos", mkRecord(sch(runtime.SchemaLocalTime, ""), be64(45296000000001)), def).divergence = jsr310
	add("prim_local_time_micros", mkRecord(sch(runtime.SchemaLocalTime, ""), be64(45296123456000)), flat).divergence = jsr310
	add("prim_local_time_range", mkRecord(sch(runtime.SchemaLocalTime, ""), be64(86400*1e9)), def).wantErr = "outside"
	add("prim_local_date_time", mkRecord(sch(runtime.SchemaLocalDateTime, ""), cat(be64(19079), be64(45296789000000))), def).divergence = jsr310
	add("prim_local_date_time_midnight", mkRecord(sch(runtime.SchemaLocalDateTime, ""), cat(be64(0), be64(0))), def).divergence = jsr310

	// --- Record fields present or absent.
	bare := mkRecord(sch(runtime.SchemaString, ""), []byte("x"))
	bare.Topic, bare.Key, bare.HasKey, bare.Properties, bare.EventTime = "", "", false, nil, time.Time{}
	add("rec_nulls_kept", bare, keep)
	add("rec_nulls_kept_flat", bare, keepFlat)
	add("rec_nulls_dropped", bare, def)
	add("rec_nulls_dropped_flat", bare, flat)
	emptyKey := mkRecord(sch(runtime.SchemaString, ""), []byte("x"))
	emptyKey.Key = ""
	emptyKey.Properties = map[string]string{}
	add("rec_key_empty", emptyKey, def)
	add("rec_key_empty_keep", emptyKey, keep)
	many := mkRecord(sch(runtime.SchemaString, ""), []byte("x"))
	many.Properties = map[string]string{"zeta": "1", "alpha": "2", "Aa": "3", "BB": "4", "prop-key": "v", "é": "x",
		"a.b": "dot", "q\"uote": "\\", "k1": "", "k2": "2", "k3": "3", "k17": "17", "empty": "", "\U0001F600": "emoji"}
	add("rec_props_many", many, def)
	add("rec_props_many_flat", many, flat)
	collide := mkRecord(sch(runtime.SchemaString, ""), []byte("x"))
	collide.Properties = map[string]string{}
	for i, k := range collidingKeys(4) {
		collide.Properties[k] = fmt.Sprint(i)
	}
	add("rec_props_collide", collide, def)
	collide5 := mkRecord(sch(runtime.SchemaString, ""), []byte("x"))
	collide5.Properties = map[string]string{}
	for i, k := range collidingKeys(6) {
		collide5.Properties[k] = fmt.Sprint(i)
	}
	for i := range 40 {
		collide5.Properties[fmt.Sprintf("p%d", i)] = "x"
	}
	add("rec_props_collide_many", collide5, def)

	// --- AVRO.
	scalars := sch(runtime.SchemaAvro, scalarsDef)
	add("avro_scalars", mkRecord(scalars, hambaEncode(t, scalarsDef, scalarsValue())), def)
	add("avro_scalars_flat", mkRecord(scalars, hambaEncode(t, scalarsDef, scalarsValue())), flat)
	add("avro_scalars_keep", mkRecord(scalars, hambaEncode(t, scalarsDef, scalarsValue())), keep)
	boolDef := `{"type":"record","name":"B","fields":[{"name":"a","type":"boolean"},{"name":"b","type":"boolean"},{"name":"c","type":"boolean"}]}`
	add("avro_bool_bytes", mkRecord(sch(runtime.SchemaAvro, boolDef), []byte{1, 0, 2}), def)
	strDef := `{"type":"record","name":"S","fields":[{"name":"s","type":"string"},{"name":"t","type":"string"}]}`
	add("avro_strings", mkRecord(sch(runtime.SchemaAvro, strDef), aw{}.str(string(str)).str(string(bad))), def)
	add("avro_strings_flat", mkRecord(sch(runtime.SchemaAvro, strDef), aw{}.str(string(str)).str(string(bad))), flat)
	arrays := sch(runtime.SchemaAvro, arraysDef)
	add("avro_arrays", mkRecord(arrays, arraysPayload()), def)
	add("avro_arrays_flat", mkRecord(arrays, arraysPayload()), flat).divergence =
		"json-flattener cannot make a BigDecimal of -Infinity (NumberFormatException); we keep the quoted text"
	intMap := sch(runtime.SchemaAvro, mapDef(`"int"`, false))
	strMap := sch(runtime.SchemaAvro, mapDef(`"int"`, true))
	add("avro_map_order", mkRecord(intMap, aw{}.mapInts(probeKeys...)), def)
	add("avro_map_order_flat", mkRecord(intMap, aw{}.mapInts(probeKeys...)), flat)
	add("avro_map_stringkeys", mkRecord(strMap, aw{}.mapInts(probeKeys...)), def)
	rev := make([]any, 0, len(probeKeys))
	for i := len(probeKeys) - 2; i >= 0; i -= 2 {
		rev = append(rev, probeKeys[i], probeKeys[i+1])
	}
	add("avro_map_order_rev", mkRecord(intMap, aw{}.mapInts(rev...)), def)
	add("avro_map_empty", mkRecord(intMap, aw{}.long(0)), def)
	add("avro_map_empty_flat", mkRecord(intMap, aw{}.long(0)), flat)
	multi := aw{}.long(2).str("k5").long(5).str("k1").long(1)
	multi = multi.long(-10).long(99)
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "k2"} {
		multi = multi.str(k).long(int64(len(k)))
	}
	add("avro_map_blocks", mkRecord(intMap, multi.long(0)), def)
	add("avro_map_dupkeys", mkRecord(intMap, aw{}.mapInts("x", 1, "y", 2, "x", 3, "Aa", 4, "BB", 5, "Aa", 6)), def)
	add("avro_map_dupkeys_flat", mkRecord(intMap, aw{}.mapInts("x", 1, "y", 2, "x", 3)), flat)
	var coll []any
	for i, k := range collidingKeys(4) {
		coll = append(coll, k, i)
	}
	add("avro_map_collide", mkRecord(intMap, aw{}.mapInts(coll...)), def)
	add("avro_map_collide_stringkeys", mkRecord(strMap, aw{}.mapInts(coll...)), def)
	var coll5 []any
	for i, k := range collidingKeys(5) {
		coll5 = append(coll5, k, i)
	}
	for i := range 60 {
		coll5 = append(coll5, fmt.Sprintf("n%02d", i), i)
	}
	add("avro_map_collide_big", mkRecord(intMap, aw{}.mapInts(coll5...)), def)
	var big []any
	for i := range 200 {
		big = append(big, fmt.Sprintf("key-%d", (i*7919)%1000), i)
	}
	add("avro_map_big", mkRecord(intMap, aw{}.mapInts(big...)), def)
	nestedMapDef := `{"type":"record","name":"N","fields":[{"name":"m","type":{"type":"map","values":{"type":"map","values":["null","string","int"]}}}]}`
	nm := aw{}.long(3).
		str("a.b").long(2).str("x[0]").long(1).str("v").str("q\"\\").long(0).long(0).
		str("plain").long(1).str("e").long(2).long(7).long(0).
		str("empty").long(0).
		long(0)
	add("avro_map_nested", mkRecord(sch(runtime.SchemaAvro, nestedMapDef), nm), def)
	add("avro_map_nested_flat", mkRecord(sch(runtime.SchemaAvro, nestedMapDef), nm), flat)
	unionDef := `{"type":"record","name":"U","fields":[
 {"name":"n1","type":["null","string"]},{"name":"n2","type":["null","string"]},
 {"name":"r","type":["null",{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}]},
 {"name":"sn","type":["string","null"]},
 {"name":"multi","type":["null","int","string"]},
 {"name":"arr","type":["null",{"type":"array","items":"R"}]}]}`
	add("avro_unions", mkRecord(sch(runtime.SchemaAvro, unionDef),
		aw{}.long(0).long(1).str("s").long(1).long(5).long(1).long(1).long(1).long(1).long(2).long(3).long(4).long(0)), def)
	add("avro_unions_flat", mkRecord(sch(runtime.SchemaAvro, unionDef),
		aw{}.long(0).long(1).str("s").long(1).long(5).long(1).long(1).long(1).long(1).long(2).long(3).long(4).long(0)), flat)
	add("avro_union_second_branch", mkRecord(sch(runtime.SchemaAvro, unionDef),
		aw{}.long(0).long(0).long(0).long(0).str("x").long(2).str("text").long(0)), def).divergence =
		"Java converts a union value with the first non-null branch (int) and fails on a string (ClassCastException); we use the written branch"
	nestDef := `{"type":"record","name":"O","fields":[{"name":"a","type":{"type":"record","name":"I1","fields":[
 {"name":"b","type":{"type":"record","name":"I2","fields":[{"name":"c","type":"string"},{"name":"e","type":{"type":"record","name":"Empty","fields":[]}}]}},
 {"name":"e2","type":"Empty"}]}}]}`
	add("avro_nested", mkRecord(sch(runtime.SchemaAvro, nestDef), aw{}.str("deep")), def)
	add("avro_nested_flat", mkRecord(sch(runtime.SchemaAvro, nestDef), aw{}.str("deep")), flat)
	listDef := `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`
	add("avro_recursive", mkRecord(sch(runtime.SchemaAvro, listDef), aw{}.long(1).long(1).long(2).long(1).long(3).long(0)), def)
	add("avro_recursive_flat", mkRecord(sch(runtime.SchemaAvro, listDef), aw{}.long(1).long(1).long(2).long(1).long(3).long(0)), flat)
	deep := aw{}
	for range 2000 {
		deep = deep.long(1).long(1)
	}
	deep = deep.long(1).long(0)
	add("avro_recursive_too_deep", mkRecord(sch(runtime.SchemaAvro, listDef), deep), def).wantErr = "deeper than 1000"
	add("avro_recursive_deep_flat", mkRecord(sch(runtime.SchemaAvro, listDef), deep), flat).wantErr = "deeper than 1000"
	logical := aw{}.long(19079).long(45296789).long(45296789123).long(1648502845803).long(1648502845803123).long(1648502845803).
		str("6ba7b810-9dad-11d1-80b4-00c04fd430c8").raw(1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0).long(-5).bytes([]byte{1, 2}).long(1).long(-1)
	add("avro_logical", mkRecord(sch(runtime.SchemaAvro, logicalDef), logical), def)
	add("avro_logical_flat", mkRecord(sch(runtime.SchemaAvro, logicalDef), logical), flat)
	const decDiv = "Java's converter expects BigDecimal but Pulsar's reader yields bytes (IllegalArgumentException); we write the exact decimal"
	add("avro_decimal", mkRecord(sch(runtime.SchemaAvro, decimalDef), decimalPayload()), def).divergence = decDiv
	add("avro_decimal_flat", mkRecord(sch(runtime.SchemaAvro, decimalDef), decimalPayload()), flat).divergence = decDiv
	specialDef := `{"type":"record","name":"F","fields":[{"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"n","type":"double"}]}`
	special := aw{}.f32(float32(math.Inf(1))).f64(math.Inf(-1)).f64(math.NaN())
	add("avro_float_special", mkRecord(sch(runtime.SchemaAvro, specialDef), special), def)
	add("avro_float_special_flat", mkRecord(sch(runtime.SchemaAvro, specialDef), special), flat).divergence =
		"json-flattener cannot make a BigDecimal of NaN/Infinity (NumberFormatException); we keep the quoted text"
	offsetDef := `{"type":"record","name":"O","__AVRO_READ_OFFSET__":3,"fields":[{"name":"s","type":"string"}]}`
	add("avro_offset", mkRecord(sch(runtime.SchemaAvro, offsetDef), cat([]byte{9, 9, 9}, aw{}.str("after"))), def)
	add("avro_trailing", mkRecord(sch(runtime.SchemaAvro, strDef), aw{}.str("a").str("b").raw(1, 2, 3)), def)
	add("avro_toplevel_string", mkRecord(sch(runtime.SchemaAvro, `"string"`), aw{}.str("top")), def).divergence =
		"Pulsar's generic reader requires a record (ClassCastException); we convert any Avro value"
	add("avro_truncated", mkRecord(sch(runtime.SchemaAvro, scalarsDef), hambaEncode(t, scalarsDef, scalarsValue())[:20]), def).wantErr = "unexpected end of data"
	add("avro_bad_enum", mkRecord(sch(runtime.SchemaAvro, `{"type":"record","name":"E","fields":[{"name":"e","type":{"type":"enum","name":"C","symbols":["A"]}}]}`), aw{}.long(3)), def).wantErr = "outside the 1 symbols"
	add("avro_bad_union", mkRecord(sch(runtime.SchemaAvro, unionDef), aw{}.long(7)), def).wantErr = "outside the 2 branches"
	add("avro_neg_length", mkRecord(sch(runtime.SchemaAvro, strDef), aw{}.long(-3)), def).wantErr = "length is negative"
	add("avro_bad_long", mkRecord(sch(runtime.SchemaAvro, `{"type":"record","name":"L","fields":[{"name":"l","type":"long"}]}`),
		aw{}.raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), def).wantErr = "invalid long encoding"
	add("avro_bad_schema", mkRecord(sch(runtime.SchemaAvro, `{"type":"record","name":"R","fields":[{"name":"x","type":"Missing"}]}`), nil), def).wantErr = `type "Missing" is not defined`

	// --- JSON.
	js := sch(runtime.SchemaJSON, `{"type":"record","name":"J","fields":[]}`)
	jsonCase := func(name, text string, opts Options) *goldenCase {
		return add(name, mkRecord(js, []byte(text)), opts)
	}
	numbers := `{"i":1,"neg":-5,"z":-0,"big":12345678901234567890,"f":1.10,"e":1e2,"h":100.0,"zero":0.000,"nz":-0.0,` +
		`"small":1.5e-7,"tiny":1e-400,"huge":1E+400,"p":123456789.5,"q":1.0,"l":2147483648,"m":-9223372036854775809,` +
		`"x":0.1,"y":12345678.9e-20,"w":1.0E-7,"v":0.0000001,"big2":1e21}`
	jsonCase("json_numbers", numbers, def)
	jsonCase("json_numbers_flat", numbers, flat)
	strs := `{"s":"\u001f\u007f\u0080 \/ \b\f\n\r\t \ud83d\ude00 \ud800 \udc00x \uD83D é \"q\" \\","u":"\uFFFF\u0000"}`
	jsonCase("json_strings", strs, def)
	jsonCase("json_strings_flat", strs, flat)
	jsonCase("json_dups", `{"a":1,"b":2,"a":{"c":3},"b":[1]}`, def)
	reserved := `{"x.y":{"z[0]":1,"q":[{"r":null},[],{}],"e":{}},"m":"a\"b","":1,"sl\\ash":{"":{"k":"v"}},"br]":[[1,[2]]],"t\tab":"v\nw"}`
	jsonCase("json_reserved", reserved, def)
	jsonCase("json_reserved_flat", reserved, flat)
	jsonCase("json_reserved_flat_keep", reserved, keepFlat)
	jsonCase("json_array", `[1,"a",null,true,false,{"k":[]}]`, def)
	jsonCase("json_array_flat", `[1,"a",null,true,false,{"k":[]}]`, flat)
	jsonCase("json_string", `"s"`, def)
	jsonCase("json_number_space", "123 abc", def)
	jsonCase("json_number_eof", "-0.5e1", flat)
	jsonCase("json_null", "null", def)
	jsonCase("json_null_flat", "null", flat)
	jsonCase("json_empty", "", def)
	jsonCase("json_blank", " \n\t", flat)
	jsonCase("json_trailing", `{"a":1} xyz`, def)
	jsonCase("json_trailing2", `{"a":1}}`, def)
	jsonCase("json_literal_trailing", "true x", def)
	jsonCase("json_literal_dollar", "true$", def)
	jsonCase("json_ws", " \r\n\t{ \"a\" :\t[ 1 , 2 ] } ", def)
	jsonCase("json_deep_ok", strings.Repeat("[", 998)+strings.Repeat("]", 998), def)
	jsonCase("json_deep_obj", nested(998, "1"), flat)
	jsonCase("json_deep_1000", strings.Repeat("[", 1000)+strings.Repeat("]", 1000), def).wantErr = "deeper than 1000"
	jsonCase("json_deep_1000_flat", strings.Repeat("[", 1000)+strings.Repeat("]", 1000), flat)
	add("json_badutf8", mkRecord(js, []byte("{\"\xff\":\"\xe2\x82\",\"b\":\"\xed\xa0\x80\"}")), def)
	for i, text := range []string{"123abc", "\ufeff{}", "[1,]", "{'a':1}", "NaN", "01", "\"a\x01b\"", "truex",
		"{\"a\":1,}", "[1 2]", "-", "1.", ".5", "+1", "1e", "\"\\x\"", "\"\\u12G4\"", "[", "{\"a\"", "nul",
		strings.Repeat("[", 1001) + strings.Repeat("]", 1001), strings.Repeat("1", 1001), "1e99999999999"} {
		jsonCase(fmt.Sprintf("json_bad_%02d", i), text, def).wantErr = "invalid JSON"
	}

	// --- PROTOBUF_NATIVE: the Java sink rejects the type.
	const protoDiv = "the Java sink throws UnsupportedOperationException for PROTOBUF_NATIVE; we convert it (see protobuf.go)"
	md, pdef := protoDescriptor(t)
	ps := sch(runtime.SchemaProtobufNative, pdef)
	add("proto_all", mkRecord(ps, protoPayload(t, md, true)), def).divergence = protoDiv
	add("proto_all_flat", mkRecord(ps, protoPayload(t, md, true)), flat).divergence = protoDiv
	add("proto_defaults", mkRecord(ps, protoPayload(t, md, false)), def).divergence = protoDiv
	add("proto_bad", mkRecord(ps, []byte{0x0a, 0xff}), def).wantErr = "PROTOBUF_NATIVE value does not decode"

	// --- KEY_VALUE.
	strS, intS := sch(runtime.SchemaString, ""), sch(runtime.SchemaInt32, "")
	add("kv_inline_prims", mkRecord(kvSchema(runtime.KeyValueInline, strS, intS), inlineKV([]byte("kk"), be32(7))), def)
	add("kv_inline_prims_flat", mkRecord(kvSchema(runtime.KeyValueInline, strS, intS), inlineKV([]byte("kk"), be32(7))), flat)
	add("kv_inline_empty_key", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), inlineKV([]byte{}, []byte("v"))), def)
	add("kv_inline_nullkey", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), inlineKV(nil, []byte("v"))), def)
	add("kv_inline_nullkey_keep", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), inlineKV(nil, []byte("v"))), keep)
	add("kv_inline_nulls_flat_keep", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), inlineKV(nil, nil)), keepFlat)
	add("kv_inline_trailing", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), cat(inlineKV([]byte("k"), []byte("v")), []byte("junk"))), def)
	jsonKV := kvSchema(runtime.KeyValueInline, js, js)
	add("kv_inline_json_null", mkRecord(jsonKV, inlineKV([]byte(`{"id":1.50}`), []byte("null"))), def)
	add("kv_inline_json_null_flat", mkRecord(jsonKV, inlineKV([]byte(`{"id":1.50}`), []byte("null"))), flat)
	sep := kvSchema(runtime.KeyValueSeparated, sch(runtime.SchemaAvro, utilsKeyDef), js)
	sepRec := mkRecord(sep, []byte(`{"v":[1,2]}`))
	sepRec.Key = base64.StdEncoding.EncodeToString(utilsKey(t))
	add("kv_separated", sepRec, def)
	add("kv_separated_flat", sepRec, flat)
	noKey := sepRec
	noKey.Key, noKey.HasKey = "", false
	add("kv_separated_nokey", noKey, def)
	add("kv_separated_nokey_keep", noKey, keep)
	bytesKV := kvSchema(runtime.KeyValueSeparated, sch(runtime.SchemaBytes, ""), sch(runtime.SchemaBytes, ""))
	bk := mkRecord(bytesKV, []byte{1, 2, 3})
	bk.Key = "not base64!"
	add("kv_separated_rawkey", bk, def)
	add("kv_inline_bad_len", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), cat(be32(10), []byte("abc"))), def).wantErr = "does not fit"
	add("kv_inline_short", mkRecord(kvSchema(runtime.KeyValueInline, strS, strS), []byte{0, 0}), def).wantErr = "ends before the key length"
	add("kv_inline_bad_value", mkRecord(kvSchema(runtime.KeyValueInline, strS, intS), inlineKV([]byte("k"), []byte{1})), def).wantErr = "INT32 KEY_VALUE value does not decode"
	return cs
}
