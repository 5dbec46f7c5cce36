package expand

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
)

// maxDepth is Jackson's default nesting limit (StreamReadConstraints and,
// since 2.16, StreamWriteConstraints): the Java sink cannot parse a JSON
// payload or write a nested record deeper than that. Flattening goes through
// ObjectMapper.convertValue, which does not count the JsonRecord level, so
// a 1000-deep JSON payload still flattens. (Deeper Avro records overflow the
// Java stack; we stop at the same 1000 levels.)
const (
	maxDepth     = 1000
	maxFlatDepth = maxDepth + 1
)

// maxOutput bounds one record's JSON. Kinesis takes at most 10 MiB per
// record, so a larger result is useless; the bound stops a small payload
// (a block of a million nulls, a number like 1e999999 when flattened) from
// making the encoder allocate without limit.
const maxOutput = 16 << 20

var (
	errTooDeep = errors.New("value nests deeper than 1000 levels (Jackson's limit)")
	errTooLong = errors.New("flattened number has more than 1048576 digits")
	errTooBig  = errors.New("encoded record exceeds 16 MiB (Kinesis takes at most 10 MiB)")
)

// emitter writes the converted record either as Jackson writes the
// JsonRecord bean (nested JSON), or as json-flattener prints the bean's tree
// (one "path":value pair per leaf). Decoders drive it with begin/name/end
// calls and scalar writes; it never needs the whole value tree in memory.
//
// Flattened output is collected as ",\"path\":value" pairs; the first comma
// becomes the opening brace at the end. Nested output keeps a comma counter
// per open container.
type emitter struct {
	buf    []byte
	start  int // where this record's JSON begins in buf
	flat   bool
	frames []frame
	path   []byte // flat: the key of the value being written, unescaped
	pairs  int    // flat: pairs written so far
	err    error  // first failure; writes after it are harmless garbage

	scratch []byte
	keyTmp  []byte
}

type frame struct {
	count   int // members or elements written
	pathLen int // flat: len(path) when the container began
	pairs   int // flat: pairs when the container began
}

func (e *emitter) reset(dst []byte, flat bool) {
	e.buf = dst
	e.start = len(dst)
	e.flat = flat
	e.frames = e.frames[:0]
	e.path = e.path[:0]
	e.pairs = 0
	e.err = nil
}

func (e *emitter) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *emitter) push() bool {
	if len(e.frames) >= maxDepth && (!e.flat || len(e.frames) >= maxFlatDepth) {
		e.fail(errTooDeep)
		return false
	}
	e.frames = append(e.frames, frame{pathLen: len(e.path), pairs: e.pairs})
	return true
}

func (e *emitter) top() *frame { return &e.frames[len(e.frames)-1] }

func (e *emitter) beginObject() {
	if !e.push() {
		return
	}
	if !e.flat {
		e.buf = append(e.buf, '{')
	}
}

func (e *emitter) endObject() { e.end('}', "{}") }
func (e *emitter) endArray()  { e.end(']', "[]") }

func (e *emitter) end(closer byte, empty string) {
	if len(e.frames) == 0 {
		return
	}
	f := e.frames[len(e.frames)-1]
	e.frames = e.frames[:len(e.frames)-1]
	if !e.flat {
		e.buf = append(e.buf, closer)
		return
	}
	e.path = e.path[:f.pathLen]
	if e.pairs == f.pairs {
		// json-flattener keeps an empty container as a {} or [] leaf.
		e.pair()
		e.buf = append(e.buf, empty...)
	}
}

func (e *emitter) beginArray() {
	if !e.push() {
		return
	}
	if !e.flat {
		e.buf = append(e.buf, '[')
	}
}

// name starts the member called k of the innermost object.
func (e *emitter) name(k string) {
	if len(e.frames) == 0 {
		return
	}
	e.checkSize()
	f := e.top()
	if !e.flat {
		if f.count > 0 {
			e.buf = append(e.buf, ',')
		}
		f.count++
		e.buf = appendJacksonString(e.buf, k)
		e.buf = append(e.buf, ':')
		return
	}
	f.count++
	e.path = e.path[:f.pathLen]
	if hasReserved(k) {
		// json-flattener quotes keys holding its separator or brackets as
		// ["key"], escaping the key here and the whole path again on output.
		e.path = append(e.path, '[', '"')
		e.path = appendFlattenerText(e.path, []byte(k))
		e.path = append(e.path, '"', ']')
		return
	}
	if len(e.path) > 0 {
		e.path = append(e.path, '.')
	}
	e.path = append(e.path, k...)
}

func hasReserved(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c == '.' || c == '[' || c == ']' {
			return true
		}
	}
	return false
}

// elem starts the next element of the innermost array.
func (e *emitter) elem() {
	if len(e.frames) == 0 {
		return
	}
	e.checkSize()
	f := e.top()
	if !e.flat {
		if f.count > 0 {
			e.buf = append(e.buf, ',')
		}
		f.count++
		return
	}
	e.path = e.path[:f.pathLen]
	e.path = append(e.path, '[')
	e.path = strconv.AppendInt(e.path, int64(f.count), 10)
	e.path = append(e.path, ']')
	f.count++
}

func (e *emitter) checkSize() {
	if len(e.buf)-e.start > maxOutput {
		e.fail(errTooBig)
	}
}

// pair starts a flattened leaf at the current path.
func (e *emitter) pair() {
	e.checkSize()
	e.pairs++
	e.buf = append(e.buf, ',', '"')
	e.buf = appendFlattenerText(e.buf, e.path)
	e.buf = append(e.buf, '"', ':')
}

func (e *emitter) leaf() {
	if e.flat {
		e.pair()
	}
}

func (e *emitter) null() {
	e.leaf()
	e.buf = append(e.buf, "null"...)
}

func (e *emitter) boolean(v bool) {
	e.leaf()
	e.buf = strconv.AppendBool(e.buf, v)
}

func (e *emitter) int64(v int64) {
	e.leaf()
	e.buf = strconv.AppendInt(e.buf, v, 10)
}

func (e *emitter) uint64(v uint64) {
	e.leaf()
	e.buf = strconv.AppendUint(e.buf, v, 10)
}

// bigInt writes an integer given as decimal text (BigIntegerNode).
func (e *emitter) bigInt(text []byte) {
	e.leaf()
	e.buf = append(e.buf, text...)
}

// double writes a DoubleNode (bitSize 64) or FloatNode (bitSize 32).
// Jackson quotes NaN and the infinities (QUOTE_NON_NUMERIC_NUMBERS is on by
// default). Flattening them makes the Java sink throw; we keep the quoted
// form instead.
func (e *emitter) double(v float64, bitSize int) {
	e.leaf()
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e.buf = append(e.buf, '"')
		e.buf = appendJavaDouble(e.buf, v, bitSize)
		e.buf = append(e.buf, '"')
		return
	}
	if !e.flat {
		e.buf = appendJavaDouble(e.buf, v, bitSize)
		return
	}
	e.flatNumber(flatDouble(v))
}

// decimal writes a DecimalNode. On the flattened path Jackson first
// re-reads the bean (ObjectMapper.convertValue), which strips trailing zeros.
func (e *emitter) decimal(d bigDec) {
	e.leaf()
	if !e.flat {
		e.buf = d.appendJava(e.buf)
		return
	}
	e.flatNumber(d.stripTrailingZeros())
}

func (e *emitter) flatNumber(d bigDec) {
	if e.err != nil {
		return
	}
	if int64(len(d.coef))-d.scale > maxOutput {
		e.fail(errTooBig)
		return
	}
	var err error
	e.buf, err = appendFlatNumber(e.buf, d)
	if err != nil {
		e.fail(err)
	}
}

// text writes a string that is already valid UTF-8.
func (e *emitter) text(s string) {
	if !e.flat {
		e.buf = appendJacksonString(e.buf, s)
		return
	}
	e.pair()
	e.buf = append(e.buf, '"')
	e.buf = appendFlattenerText(e.buf, []byte(s))
	e.buf = append(e.buf, '"')
}

// textBytes writes UTF-8 bytes as a string, decoding them as Java would.
func (e *emitter) textBytes(b []byte) {
	e.keyTmp = appendJavaUTF8(e.keyTmp[:0], b)
	if !e.flat {
		e.buf = appendJacksonString(e.buf, string(e.keyTmp))
		return
	}
	e.pair()
	e.buf = append(e.buf, '"')
	e.buf = appendFlattenerText(e.buf, e.keyTmp)
	e.buf = append(e.buf, '"')
}

// binary writes bytes as standard padded base64, as Jackson writes byte[]
// and BinaryNode. json-flattener would turn a BinaryNode into null; the Java
// sink converts Avro bytes to base64 text before flattening to avoid that,
// and we do the same for every binary value.
func (e *emitter) binary(b []byte) {
	e.leaf()
	e.buf = append(e.buf, '"')
	e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
	e.buf = append(e.buf, '"')
}

// mapMark records where the next map entry begins, for reorderMap.
func (e *emitter) mapMark(marks []int) []int { return append(marks, len(e.buf)) }

// reorderMap rewrites the entries of the innermost object, written in wire
// order starting at marks[i], into the given order (indices into marks;
// entries left out are dropped, which is how a duplicate key's earlier value
// disappears). Call it before endObject.
func (e *emitter) reorderMap(marks []int, order []int32) {
	if len(marks) == 0 || e.err != nil {
		return
	}
	region := marks[0]
	e.scratch = append(e.scratch[:0], e.buf[region:]...)
	span := func(i int32) []byte {
		s := marks[i] - region
		end := len(e.scratch)
		if int(i)+1 < len(marks) {
			end = marks[i+1] - region
		}
		b := e.scratch[s:end]
		if !e.flat && len(b) > 0 && b[0] == ',' {
			b = b[1:]
		}
		return b
	}
	e.buf = e.buf[:region]
	for j, i := range order {
		if !e.flat && j > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, span(i)...)
	}
}

// beginRoot and endRoot frame the JsonRecord object.
func (e *emitter) beginRoot() { e.beginObject() }

func (e *emitter) endRoot() {
	if !e.flat {
		e.endObject()
		return
	}
	e.frames = e.frames[:0]
	if e.pairs == 0 {
		e.buf = append(e.buf, '{', '}')
		return
	}
	e.buf[e.start] = '{'
	e.buf = append(e.buf, '}')
}
