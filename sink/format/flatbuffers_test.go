package format

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	fbs "github.com/pulsar-kinesis/kinesis-sink/flatbuf/kinesisfbs"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// The FlatBuffers output is checked three independent ways: a hand-written
// walk over the binary format (vtables, field ids, sizes, alignment), the
// flatc-generated Go accessors, and flatc's own JSON decoder.

// fbMessage is the content of a Message, in a shape shared by the checks:
// lists are sorted by key (their order is the Java map order, covered by
// the golden and Java reference tests).
type fbMessage struct {
	EncryptionCtx *fbEncCtx  `json:"encryptionCtx,omitempty"`
	Properties    []fbKV     `json:"properties,omitempty"`
	Payload       fbByteList `json:"payload"`
}

type fbEncCtx struct {
	Keys                    []fbKey    `json:"keys"`
	Param                   fbByteList `json:"param"`
	Algo                    string     `json:"algo"`
	CompressionType         string     `json:"compressionType,omitempty"` // flatc omits the default NONE
	UncompressedMessageSize int32      `json:"uncompressedMessageSize,omitempty"`
	BatchSize               int32      `json:"batchSize,omitempty"`
	IsBatchMessage          bool       `json:"isBatchMessage,omitempty"`
}

type fbKey struct {
	Key      string     `json:"key"`
	Value    fbByteList `json:"value"`
	Metadata []fbKV     `json:"metadata,omitempty"`
}

type fbKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// fbByteList is a [byte] vector as flatc prints it: signed numbers.
type fbByteList []int8

func byteList(b []byte) fbByteList {
	out := fbByteList{}
	for _, c := range b {
		out = append(out, int8(c))
	}
	return out
}

func sortKVs(kvs []fbKV) []fbKV {
	slices.SortFunc(kvs, func(a, b fbKV) int { return cmp.Compare(a.Key, b.Key) })
	return kvs
}

func kvList(m map[string]string) []fbKV {
	var out []fbKV
	for _, p := range sortedPairs(m) {
		out = append(out, fbKV{p[0], p[1]})
	}
	return out
}

// expectedFB is what the FlatBuffers message of r must contain, from the
// filling rules of the Java sink.
func expectedFB(r *runtime.RecordData) fbMessage {
	m := fbMessage{Payload: byteList(r.Payload), Properties: kvList(r.Properties)}
	if enc := r.Encryption; enc != nil {
		c := &fbEncCtx{
			Keys:                    []fbKey{},
			Param:                   byteList(enc.Param),
			Algo:                    enc.Algorithm,
			UncompressedMessageSize: int32(enc.UncompressedSize),
			BatchSize:               1,
			IsBatchMessage:          enc.HasBatchSize,
		}
		if enc.HasBatchSize {
			c.BatchSize = int32(enc.BatchSize)
		}
		switch enc.CompressionType {
		case "LZ4", "ZLIB":
			c.CompressionType = enc.CompressionType
		}
		for name, k := range enc.Keys {
			c.Keys = append(c.Keys, fbKey{Key: name, Value: byteList(k.Value), Metadata: kvList(k.Metadata)})
		}
		slices.SortFunc(c.Keys, func(a, b fbKey) int { return cmp.Compare(a.Key, b.Key) })
		m.EncryptionCtx = c
	}
	return m
}

// fbWalker reads a buffer by the FlatBuffers binary format alone.
type fbWalker struct {
	t   *testing.T
	buf []byte
}

func (w fbWalker) u16(p int) int { return int(binary.LittleEndian.Uint16(w.buf[p:])) }
func (w fbWalker) u32(p int) int { return int(binary.LittleEndian.Uint32(w.buf[p:])) }
func (w fbWalker) i32(p int) int32 {
	return int32(binary.LittleEndian.Uint32(w.buf[p:]))
}

// fbField is how a field is stored inline in its table.
type fbField struct {
	name string
	size int // inline bytes: 4 for offsets and ints, 1 for bytes and bools
}

// table checks the table at pos against its declared fields (in
// declaration order, so field id = index) and returns the absolute
// position of each present field, or -1.
func (w fbWalker) table(pos int, decl []fbField) []int {
	w.t.Helper()
	if pos%4 != 0 {
		w.t.Fatalf("table at %d not 4-aligned", pos)
	}
	vt := pos - int(w.i32(pos))
	vtLen, objLen := w.u16(vt), w.u16(vt+2)
	if vtLen%2 != 0 || vtLen < 4 || (vtLen-4)/2 > len(decl) {
		w.t.Fatalf("table at %d: vtable length %d for %d declared fields", pos, vtLen, len(decl))
	}
	if vtLen > 4 && w.u16(vt+vtLen-2) == 0 {
		w.t.Errorf("table at %d: vtable has a trailing zero entry (writers trim them)", pos)
	}
	out := make([]int, len(decl))
	for id, f := range decl {
		out[id] = -1
		if 4+2*id >= vtLen {
			continue
		}
		off := w.u16(vt + 4 + 2*id)
		if off == 0 {
			continue
		}
		if off < 4 || off+f.size > objLen {
			w.t.Fatalf("table at %d: field %d (%s) at %d+%d outside object of %d bytes", pos, id, f.name, off, f.size, objLen)
		}
		if (pos+off)%f.size != 0 {
			w.t.Errorf("table at %d: field %s not aligned to %d", pos, f.name, f.size)
		}
		out[id] = pos + off
	}
	return out
}

// deref follows the uoffset stored at p.
func (w fbWalker) deref(p int) int { return p + w.u32(p) }

func (w fbWalker) vector(p int) (start, n int) {
	v := w.deref(p)
	if v%4 != 0 {
		w.t.Fatalf("vector at %d not 4-aligned", v)
	}
	return v + 4, w.u32(v)
}

func (w fbWalker) bytes(p int) fbByteList {
	s, n := w.vector(p)
	return byteList(w.buf[s : s+n])
}

func (w fbWalker) str(p int) string {
	s, n := w.vector(p)
	if w.buf[s+n] != 0 {
		w.t.Errorf("string at %d not zero-terminated", s)
	}
	return string(w.buf[s : s+n])
}

var (
	declMessage = []fbField{{"encryptionCtx", 4}, {"properties", 4}, {"payload", 4}}
	declKV      = []fbField{{"key", 4}, {"value", 4}}
	declKey     = []fbField{{"key", 4}, {"value", 4}, {"metadata", 4}}
	declCtx     = []fbField{{"keys", 4}, {"param", 4}, {"algo", 4}, {"compressionType", 1},
		{"uncompressedMessageSize", 4}, {"batchSize", 4}, {"isBatchMessage", 1}}
)

func (w fbWalker) kvs(p int) []fbKV {
	s, n := w.vector(p)
	var out []fbKV
	for i := range n {
		f := w.table(w.deref(s+4*i), declKV)
		if f[0] < 0 || f[1] < 0 {
			w.t.Fatalf("KeyValue without key or value")
		}
		out = append(out, fbKV{w.str(f[0]), w.str(f[1])})
	}
	return sortKVs(out)
}

func (w fbWalker) message() fbMessage {
	if len(w.buf)%4 != 0 {
		w.t.Errorf("buffer length %d not a multiple of 4", len(w.buf))
	}
	f := w.table(w.u32(0), declMessage)
	var m fbMessage
	if f[2] < 0 {
		w.t.Fatal("payload missing")
	}
	m.Payload = w.bytes(f[2])
	if f[1] >= 0 {
		m.Properties = w.kvs(f[1])
	}
	if f[0] >= 0 {
		cf := w.table(w.deref(f[0]), declCtx)
		c := &fbEncCtx{Keys: []fbKey{}}
		for _, id := range []int{0, 1, 2, 5} {
			if cf[id] < 0 {
				w.t.Errorf("encryptionCtx field %s missing", declCtx[id].name)
			}
		}
		s, n := w.vector(cf[0])
		for i := range n {
			kf := w.table(w.deref(s+4*i), declKey)
			k := fbKey{Key: w.str(kf[0]), Value: w.bytes(kf[1])}
			if kf[2] >= 0 {
				k.Metadata = w.kvs(kf[2])
				if len(k.Metadata) == 0 {
					w.t.Errorf("key %s: empty metadata vector written", k.Key)
				}
			}
			c.Keys = append(c.Keys, k)
		}
		slices.SortFunc(c.Keys, func(a, b fbKey) int { return cmp.Compare(a.Key, b.Key) })
		c.Param = w.bytes(cf[1])
		c.Algo = w.str(cf[2])
		if cf[3] >= 0 {
			c.CompressionType = fbs.EnumNamesCompressionType[fbs.CompressionType(w.buf[cf[3]])]
		}
		if cf[4] >= 0 {
			c.UncompressedMessageSize = w.i32(cf[4])
		}
		if cf[5] >= 0 {
			c.BatchSize = w.i32(cf[5])
		}
		if cf[6] >= 0 {
			c.IsBatchMessage = w.buf[cf[6]] != 0
		}
		m.EncryptionCtx = c
	}
	if len(m.Properties) == 0 && f[1] >= 0 {
		w.t.Error("empty properties vector written")
	}
	return m
}

func TestFlatBufferLayout(t *testing.T) {
	for _, c := range testCases() {
		got := fbWalker{t, encode(t, FullMessageInFB, c)}.message()
		if want := expectedFB(&c.rec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, jsonOf(got), jsonOf(want))
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestFlatBufferGeneratedAccessors reads the output with the Go code flatc
// generates from our schema.
func TestFlatBufferGeneratedAccessors(t *testing.T) {
	for _, c := range testCases() {
		buf := encode(t, FullMessageInFB, c)
		msg := fbs.GetRootAsMessage(buf, 0)
		got := fbMessage{Payload: int8s(msg.PayloadLength(), msg.Payload)}
		var kv fbs.KeyValue
		for i := range msg.PropertiesLength() {
			msg.Properties(&kv, i)
			got.Properties = append(got.Properties, fbKV{string(kv.Key()), string(kv.Value())})
		}
		sortKVs(got.Properties)
		if ctx := msg.EncryptionCtx(nil); ctx != nil {
			gc := &fbEncCtx{
				Keys:                    []fbKey{},
				Param:                   int8s(ctx.ParamLength(), ctx.Param),
				Algo:                    string(ctx.Algo()),
				UncompressedMessageSize: ctx.UncompressedMessageSize(),
				BatchSize:               ctx.BatchSize(),
				IsBatchMessage:          ctx.IsBatchMessage(),
			}
			if ct := ctx.CompressionType(); ct != fbs.CompressionTypeNONE {
				gc.CompressionType = ct.String()
			}
			var k fbs.EncryptionKey
			for i := range ctx.KeysLength() {
				ctx.Keys(&k, i)
				key := fbKey{Key: string(k.Key()), Value: int8s(k.ValueLength(), k.Value)}
				for j := range k.MetadataLength() {
					k.Metadata(&kv, j)
					key.Metadata = append(key.Metadata, fbKV{string(kv.Key()), string(kv.Value())})
				}
				sortKVs(key.Metadata)
				gc.Keys = append(gc.Keys, key)
			}
			slices.SortFunc(gc.Keys, func(a, b fbKey) int { return cmp.Compare(a.Key, b.Key) })
			got.EncryptionCtx = gc
		}
		if want := expectedFB(&c.rec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, jsonOf(got), jsonOf(want))
		}
	}
}

// int8s reads a [byte] vector through a generated element accessor (flatc
// generates no slice accessor for signed bytes).
func int8s(n int, at func(int) int8) fbByteList {
	out := fbByteList{}
	for i := range n {
		out = append(out, at(i))
	}
	return out
}

// TestFlatcDecode decodes every output with flatc against our schema and
// compares flatc's JSON with the expected content.
func TestFlatcDecode(t *testing.T) {
	flatc, err := exec.LookPath("flatc")
	if err != nil {
		t.Skip("flatc not installed (apt-get install flatbuffers-compiler)")
	}
	schema, err := filepath.Abs("../../flatbuf/kinesis_message.fbs")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, c := range testCases() {
		p := filepath.Join(dir, c.name+".bin")
		if err := os.WriteFile(p, encode(t, FullMessageInFB, c), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	args := append([]string{"--json", "--strict-json", "--raw-binary", "-o", dir, schema, "--"}, files...)
	if out, err := exec.Command(flatc, args...).CombinedOutput(); err != nil {
		t.Fatalf("flatc: %v\n%s", err, out)
	}
	for _, c := range testCases() {
		data, err := os.ReadFile(filepath.Join(dir, c.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var got fbMessage
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: flatc output %s: %v", c.name, data, err)
		}
		if got.Payload == nil {
			got.Payload = fbByteList{}
		}
		sortKVs(got.Properties)
		if got.EncryptionCtx != nil {
			if got.EncryptionCtx.Keys == nil {
				got.EncryptionCtx.Keys = []fbKey{}
			}
			slices.SortFunc(got.EncryptionCtx.Keys, func(a, b fbKey) int { return cmp.Compare(a.Key, b.Key) })
			for i := range got.EncryptionCtx.Keys {
				sortKVs(got.EncryptionCtx.Keys[i].Metadata)
			}
		}
		if want := expectedFB(&c.rec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nflatc %s\n want %s", c.name, data, jsonOf(want))
		}
	}
}
