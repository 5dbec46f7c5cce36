package expand

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/internal/javamap"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// AVRO values. Pulsar decodes the payload with a plain GenericDatumReader
// over the writer schema (no logical-type conversions) and the sink's
// JsonConverter turns the GenericRecord into a Jackson tree:
//
//   - records keep schema field order; int and long become numbers, float
//     and double Java-formatted numbers, enum and string text (malformed
//     UTF-8 decoded Java's way), bytes and fixed base64;
//   - maps are java.util.HashMap: written in HashMap iteration order of the
//     Utf8 (or, with "avro.java.string":"String" on the map, String) keys;
//   - logical types date, time-*, timestamp-* and uuid write the underlying
//     int, long or string unchanged, exactly as without them;
//   - decimal: the converter expects a BigDecimal but the reader hands over
//     raw bytes, so the Java sink throws (IllegalArgumentException "Invalid
//     type for Decimal"). We write the exact decimal (BigDecimal.toString of
//     the unscaled two's-complement value and the schema scale) instead;
//   - a union value: Java converts it with the union's first non-null branch
//     and throws (ClassCastException) when the value belongs to another
//     branch; we convert it with the branch it was written with, which is
//     the same output whenever Java produces one;
//   - a top-level schema that is not a record makes Java throw
//     (ClassCastException); we convert the value like any nested one.
//
// Decoding follows Avro's binary encoding as Java's BinaryDecoder reads it
// (a boolean is true only for byte 1; ints longer than 5 bytes and longs
// longer than 10 are errors; bytes after the value are ignored), plus
// Pulsar's "__AVRO_READ_OFFSET__" schema property (bytes skipped first).

type avroKind uint8

const (
	avroNull avroKind = iota
	avroBoolean
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroBytes
	avroString
	avroRecord
	avroEnum
	avroArray
	avroMap
	avroUnion
	avroFixed
)

var avroPrimitives = map[string]avroKind{
	"null": avroNull, "boolean": avroBoolean, "int": avroInt, "long": avroLong,
	"float": avroFloat, "double": avroDouble, "bytes": avroBytes, "string": avroString,
}

type avroSchema struct {
	kind    avroKind
	name    string // full name of a named type
	fields  []avroField
	symbols []string
	items   *avroSchema // array items, map values
	types   []*avroSchema
	size    int // fixed

	decimal bool // a valid decimal logical type
	scale   int64
	// stringKeys: the map's keys are java.lang.String, not Utf8.
	stringKeys bool
	// zeroSize: a value can take no bytes at all (bounds empty-item blocks).
	zeroSize bool
}

type avroField struct {
	name string
	typ  *avroSchema
}

type avroCodec struct {
	root   *avroSchema
	offset int
}

func compileAvro(def []byte) (codec, error) {
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("schema definition is not JSON: %w", err)
	}
	p := avroParser{names: map[string]*avroSchema{}}
	root, err := p.parse(doc, "")
	if err != nil {
		return nil, err
	}
	computeZeroSize(root, map[*avroSchema]bool{})
	c := &avroCodec{root: root}
	if m, ok := doc.(map[string]any); ok {
		if v, ok := m["__AVRO_READ_OFFSET__"]; ok {
			n, err := strconv.Atoi(fmt.Sprint(v))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("__AVRO_READ_OFFSET__ %v is not a non-negative integer", v)
			}
			c.offset = n
		}
	}
	return c, nil
}

type avroParser struct {
	names map[string]*avroSchema
}

func (p *avroParser) parse(n any, space string) (*avroSchema, error) {
	switch v := n.(type) {
	case string:
		return p.named(v, space)
	case []any:
		u := &avroSchema{kind: avroUnion}
		for _, b := range v {
			t, err := p.parse(b, space)
			if err != nil {
				return nil, err
			}
			if t.kind == avroUnion {
				return nil, errors.New("a union may not contain a union")
			}
			u.types = append(u.types, t)
		}
		return u, nil
	case map[string]any:
		return p.object(v, space)
	}
	return nil, fmt.Errorf("schema element %v is not a string, array or object", n)
}

func (p *avroParser) named(name, space string) (*avroSchema, error) {
	if k, ok := avroPrimitives[name]; ok {
		return &avroSchema{kind: k}, nil
	}
	full := name
	if !strings.Contains(name, ".") && space != "" {
		full = space + "." + name
	}
	if t, ok := p.names[full]; ok {
		return t, nil
	}
	if t, ok := p.names[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("type %q is not defined", name)
}

func (p *avroParser) define(m map[string]any, space string, t *avroSchema) (string, error) {
	name, _ := m["name"].(string)
	if name == "" {
		return "", errors.New("a named type has no name")
	}
	ns := space
	if s, ok := m["namespace"].(string); ok {
		ns = s
	}
	full := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		ns = name[:i]
	} else if ns != "" {
		full = ns + "." + name
	}
	if _, dup := p.names[full]; dup {
		return "", fmt.Errorf("type %q is defined twice", full)
	}
	t.name = full
	p.names[full] = t
	return ns, nil
}

func (p *avroParser) object(m map[string]any, space string) (*avroSchema, error) {
	typ, ok := m["type"].(string)
	if !ok {
		if inner, has := m["type"]; has {
			return p.parse(inner, space)
		}
		return nil, errors.New("a schema object has no type")
	}
	switch typ {
	case "record", "error":
		t := &avroSchema{kind: avroRecord}
		ns, err := p.define(m, space, t)
		if err != nil {
			return nil, err
		}
		fields, ok := m["fields"].([]any)
		if !ok {
			return nil, fmt.Errorf("record %q has no fields array", t.name)
		}
		for _, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %q has a field that is not an object", t.name)
			}
			fname, _ := fm["name"].(string)
			ft, has := fm["type"]
			if !has {
				return nil, fmt.Errorf("field %q of record %q has no type", fname, t.name)
			}
			st, err := p.parse(ft, ns)
			if err != nil {
				return nil, fmt.Errorf("field %q of record %q: %w", fname, t.name, err)
			}
			t.fields = append(t.fields, avroField{name: fname, typ: st})
		}
		return t, nil
	case "enum":
		t := &avroSchema{kind: avroEnum}
		if _, err := p.define(m, space, t); err != nil {
			return nil, err
		}
		syms, _ := m["symbols"].([]any)
		for _, s := range syms {
			str, ok := s.(string)
			if !ok {
				return nil, fmt.Errorf("enum %q has a symbol that is not a string", t.name)
			}
			t.symbols = append(t.symbols, str)
		}
		return t, nil
	case "fixed":
		t := &avroSchema{kind: avroFixed}
		if _, err := p.define(m, space, t); err != nil {
			return nil, err
		}
		size, err := jsonNumberInt(m["size"])
		if err != nil || size < 0 || size > math.MaxInt32 {
			return nil, fmt.Errorf("fixed %q has an invalid size %v", t.name, m["size"])
		}
		t.size = int(size)
		t.decimal, t.scale = decimalLogical(m, avroFixed, t.size)
		return t, nil
	case "array", "map":
		t := &avroSchema{kind: avroArray}
		key := "items"
		if typ == "map" {
			t.kind, key = avroMap, "values"
			t.stringKeys = m["avro.java.string"] == "String"
		}
		inner, has := m[key]
		if !has {
			return nil, fmt.Errorf("%s has no %s", typ, key)
		}
		it, err := p.parse(inner, space)
		if err != nil {
			return nil, err
		}
		t.items = it
		return t, nil
	}
	if k, ok := avroPrimitives[typ]; ok {
		t := &avroSchema{kind: k}
		if k == avroBytes {
			t.decimal, t.scale = decimalLogical(m, avroBytes, 0)
		}
		return t, nil
	}
	return p.named(typ, space)
}

func jsonNumberInt(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, errors.New("not a number")
	}
	return n.Int64()
}

// decimalLogical applies Avro's rules for a valid decimal logical type
// (an invalid one is ignored, leaving plain bytes or fixed): precision is a
// positive int, scale a non-negative int (default 0) not above precision,
// and a fixed's precision fits its size.
func decimalLogical(m map[string]any, kind avroKind, size int) (bool, int64) {
	if m["logicalType"] != "decimal" {
		return false, 0
	}
	prec, err := jsonNumberInt(m["precision"])
	if err != nil || prec <= 0 || prec > math.MaxInt32 {
		return false, 0
	}
	scale := int64(0)
	if v, has := m["scale"]; has {
		if scale, err = jsonNumberInt(v); err != nil || scale > math.MaxInt32 {
			return false, 0
		}
	}
	if scale < 0 || scale > prec {
		return false, 0
	}
	if kind == avroFixed {
		maxPrec := int64(math.Floor(math.Log10(2) * float64(8*size-1)))
		if prec > maxPrec {
			return false, 0
		}
	}
	return true, scale
}

func computeZeroSize(t *avroSchema, seen map[*avroSchema]bool) bool {
	if seen[t] {
		return t.zeroSize
	}
	seen[t] = true
	switch t.kind {
	case avroNull:
		t.zeroSize = true
	case avroFixed:
		t.zeroSize = t.size == 0
	case avroRecord:
		t.zeroSize = true
		for _, f := range t.fields {
			if !computeZeroSize(f.typ, seen) {
				t.zeroSize = false
			}
		}
	case avroArray, avroMap:
		computeZeroSize(t.items, seen)
	case avroUnion:
		for _, b := range t.types {
			computeZeroSize(b, seen)
		}
	}
	return t.zeroSize
}

func (c *avroCodec) emit(e *emitter, _ *Encoder, _ *record.Data, b []byte) error {
	if c.offset > len(b) {
		return fmt.Errorf("payload has %d bytes, fewer than __AVRO_READ_OFFSET__ %d", len(b), c.offset)
	}
	d := avroDecoder{b: b, pos: c.offset, e: e}
	return d.value(c.root, c.root, 0)
}

// maxZeroSizeItems bounds collections of values that take no bytes (Java
// would build them up to Integer.MAX_VALUE; no such record fits Kinesis).
const maxZeroSizeItems = 1 << 20

type avroDecoder struct {
	b   []byte
	pos int
	e   *emitter
}

var errAvroEOF = errors.New("unexpected end of data")

func (d *avroDecoder) fail(what string, err error) error {
	return fmt.Errorf("%s at byte %d: %w", what, d.pos, err)
}

func (d *avroDecoder) readInt() (int32, error) {
	var n uint32
	for i := 0; ; i++ {
		if d.pos >= len(d.b) {
			return 0, errAvroEOF
		}
		c := d.b[d.pos]
		d.pos++
		n |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			break
		}
		if i == 4 {
			return 0, errors.New("invalid int encoding")
		}
	}
	return int32(n>>1) ^ -int32(n&1), nil
}

func (d *avroDecoder) readLong() (int64, error) {
	var n uint64
	for i := 0; ; i++ {
		if d.pos >= len(d.b) {
			return 0, errAvroEOF
		}
		c := d.b[d.pos]
		d.pos++
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			break
		}
		if i == 9 {
			return 0, errors.New("invalid long encoding")
		}
	}
	return int64(n>>1) ^ -int64(n&1), nil
}

func (d *avroDecoder) take(n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("malformed data: length is negative: %d", n)
	}
	if n > int64(len(d.b)-d.pos) {
		return nil, errAvroEOF
	}
	s := d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

func (d *avroDecoder) readBytes() ([]byte, error) {
	n, err := d.readLong()
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

// blockCount reads the next array or map block header (a negative count is
// followed by the block's byte size, which is skipped). Items that take at
// least one byte cannot outnumber the remaining bytes; items that can take
// none are capped.
func (d *avroDecoder) blockCount(zeroSize bool, total int64) (int64, error) {
	n, err := d.readLong()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, errors.New("invalid block count")
		}
		n = -n
		if _, err := d.readLong(); err != nil {
			return 0, err
		}
	}
	if !zeroSize && n > int64(len(d.b)-d.pos) {
		return 0, errAvroEOF
	}
	if zeroSize && total+n > maxZeroSizeItems {
		return 0, fmt.Errorf("more than %d items of a type that takes no bytes", maxZeroSizeItems)
	}
	return n, nil
}

// value decodes one value written with schema wire and converts it the way
// JsonConverter.toJson(as, value) does. as is wire itself except below a
// union: Java converts a union's value with the union's first non-null
// branch, whatever branch it was written with, so a value can be decoded
// with one schema and converted with another (see coerce).
func (d *avroDecoder) value(wire, as *avroSchema, depth int) error {
	e := d.e
	if depth > maxDepth {
		return errTooDeep
	}
	if as.kind == avroUnion && wire.kind != avroUnion {
		as = firstNonNull(as)
	}
	switch wire.kind {
	case avroNull:
		e.null()
	case avroBoolean:
		if d.pos >= len(d.b) {
			return d.fail("boolean", errAvroEOF)
		}
		v := d.b[d.pos] == 1
		d.pos++
		if d.coerceScalar(wire, as) {
			e.text(strconv.FormatBool(v))
		} else {
			e.boolean(v)
		}
	case avroInt, avroLong:
		var v int64
		if wire.kind == avroInt {
			i, err := d.readInt()
			if err != nil {
				return d.fail("int", err)
			}
			v = int64(i)
		} else {
			l, err := d.readLong()
			if err != nil {
				return d.fail("long", err)
			}
			v = l
		}
		if d.coerceScalar(wire, as) {
			e.text(strconv.FormatInt(v, 10))
		} else {
			e.int64(v)
		}
	case avroFloat, avroDouble:
		var v float64
		bits := 64
		if wire.kind == avroFloat {
			s, err := d.take(4)
			if err != nil {
				return d.fail("float", err)
			}
			v, bits = float64(math.Float32frombits(binary.LittleEndian.Uint32(s))), 32
		} else {
			s, err := d.take(8)
			if err != nil {
				return d.fail("double", err)
			}
			v = math.Float64frombits(binary.LittleEndian.Uint64(s))
		}
		if d.coerceScalar(wire, as) {
			e.text(string(appendJavaDouble(nil, v, bits)))
		} else {
			e.double(v, bits)
		}
	case avroBytes, avroFixed:
		var s []byte
		var err error
		if wire.kind == avroFixed {
			s, err = d.take(int64(wire.size))
		} else {
			s, err = d.readBytes()
		}
		if err != nil {
			return d.fail("bytes", err)
		}
		// The logical type that counts is the converting schema's.
		conv := as
		if conv.kind != avroBytes && conv.kind != avroFixed {
			conv = wire
		}
		if conv.decimal {
			e.decimal(bigDecFromTwosComplement(s, conv.scale))
		} else {
			e.binary(s)
		}
	case avroString, avroEnum:
		if wire.kind == avroEnum {
			i, err := d.readInt()
			if err != nil {
				return d.fail("enum", err)
			}
			if i < 0 || int(i) >= len(wire.symbols) {
				return d.fail("enum", fmt.Errorf("index %d outside the %d symbols of %s", i, len(wire.symbols), wire.name))
			}
			e.text(wire.symbols[i])
			break
		}
		s, err := d.readBytes()
		if err != nil {
			return d.fail("string", err)
		}
		e.textBytes(s)
	case avroUnion:
		i, err := d.readInt()
		if err != nil {
			return d.fail("union", err)
		}
		if i < 0 || int(i) >= len(wire.types) {
			return d.fail("union", fmt.Errorf("branch %d outside the %d branches", i, len(wire.types)))
		}
		b := wire.types[i]
		conv := b
		if as == wire {
			conv = firstNonNull(wire)
		} else if as.kind == avroUnion {
			conv = firstNonNull(as)
		} else {
			conv = as
		}
		return d.value(b, conv, depth)
	case avroRecord:
		// toJson(GenericRecord) walks the record's own schema.
		e.beginObject()
		for _, f := range wire.fields {
			e.name(f.name)
			if err := d.value(f.typ, f.typ, depth+1); err != nil {
				return fieldError(f.name, err)
			}
		}
		e.endObject()
	case avroArray:
		items := wire.items
		if as.kind == avroArray {
			items = as.items
		}
		e.beginArray()
		var total int64
		for {
			n, err := d.blockCount(wire.items.zeroSize, total)
			if err != nil {
				return d.fail("array", err)
			}
			if n == 0 {
				break
			}
			for range n {
				e.elem()
				if err := d.value(wire.items, items, depth+1); err != nil {
					return fmt.Errorf("[%d]: %w", total, err)
				}
				total++
			}
		}
		e.endArray()
	case avroMap:
		items := wire.items
		if as.kind == avroMap {
			items = as.items
		}
		return d.mapValue(wire, items, depth)
	}
	return e.err
}

// firstNonNull is the union branch Java converts every value of the union
// with (a union of only null converts nothing: its value is null).
func firstNonNull(u *avroSchema) *avroSchema {
	for _, t := range u.types {
		if t.kind != avroNull {
			return t
		}
	}
	return u.types[0]
}

// coerceScalar reports whether a boolean or number written with wire is
// converted as text because the converting schema is a string or enum
// (Java calls value.toString()). Any other mismatch makes Java throw
// ClassCastException; we then convert the value with its own schema.
func (d *avroDecoder) coerceScalar(wire, as *avroSchema) bool {
	return as != wire && (as.kind == avroString || as.kind == avroEnum)
}

func fieldError(name string, err error) error {
	return fmt.Errorf("%s: %w", name, err)
}

// mapValue writes a map in java.util.HashMap order: entries are written in
// wire order, then moved into the order Java iterates them.
func (d *avroDecoder) mapValue(t, values *avroSchema, depth int) error {
	e := d.e
	e.beginObject()
	var (
		marks   []int
		rawKeys [][]byte
		strKeys []string
		total   int64
		initCap = -1
	)
	for {
		n, err := d.blockCount(false, total)
		if err != nil {
			return d.fail("map", err)
		}
		if initCap < 0 {
			// GenericDatumReader sizes the HashMap by the first block.
			initCap = int(min(n, math.MaxInt32))
		}
		if n == 0 {
			break
		}
		for range n {
			k, err := d.readBytes()
			if err != nil {
				return d.fail("map key", err)
			}
			key := javaString(k)
			marks = e.mapMark(marks)
			rawKeys = append(rawKeys, k)
			strKeys = append(strKeys, key)
			e.name(key)
			if err := d.value(t.items, values, depth+1); err != nil {
				return fieldError(key, err)
			}
			total++
		}
	}
	// A repeated key keeps its first position and its last value.
	var uniq, last []int32
	if t.stringKeys {
		uniq, last = dedupe(strKeys)
	} else {
		raw := make([]string, len(rawKeys))
		for i, k := range rawKeys {
			raw[i] = string(k)
		}
		uniq, last = dedupe(raw)
	}
	var keys javamap.Keys
	if t.stringKeys {
		ks := make(javamap.StringKeys, len(uniq))
		for i, u := range uniq {
			ks[i] = strKeys[u]
		}
		keys = ks
	} else {
		ks := make(javamap.UTF8Keys, len(uniq))
		for i, u := range uniq {
			ks[i] = rawKeys[u]
		}
		keys = ks
	}
	order := javamap.PutOrder(keys, len(uniq), initCap, make([]int32, 0, len(uniq)))
	for i, o := range order {
		order[i] = last[uniq[o]]
	}
	e.reorderMap(marks, order)
	e.endObject()
	return e.err
}

// dedupe returns the first index of each distinct key in insertion order,
// and for every index the index of the last equal key.
func dedupe(keys []string) (uniq []int32, last []int32) {
	n := len(keys)
	last = make([]int32, n)
	uniq = make([]int32, 0, n)
	first := make(map[string]int32, n)
	for i, k := range keys {
		last[i] = int32(i)
		if f, dup := first[k]; dup {
			last[f] = int32(i)
			continue
		}
		first[k] = int32(i)
		uniq = append(uniq, int32(i))
	}
	return uniq, last
}

// bigDecFromTwosComplement is Avro's decimal: a big-endian two's-complement
// unscaled value and the schema's scale.
func bigDecFromTwosComplement(b []byte, scale int64) bigDec {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return bigDecFromUnscaled(u, scale)
}
