package expand

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// Primitive schemas. The Java sink hands the decoded Java object to
// Jackson as is, so each type is written as Jackson writes that class.

// bytesCodec: BYTES, NONE and no schema; byte[] becomes base64 text.
type bytesCodec struct{}

func (bytesCodec) emit(e *emitter, _ *Encoder, _ *record.Data, b []byte) error {
	e.binary(b)
	return nil
}

// stringCodec: STRING. The Java sink reads through AUTO_CONSUME, which
// decodes every STRING payload as UTF-8 whatever "__charset" the schema
// declares, so that property is ignored here too.
type stringCodec struct{}

func (stringCodec) emit(e *emitter, _ *Encoder, _ *record.Data, b []byte) error {
	e.textBytes(b)
	return nil
}

type primitiveCodec struct{ typ record.SchemaType }

// wireSize is the exact payload size Pulsar's schema accepts (0: at least
// minSize, trailing bytes ignored).
func primitiveSize(t record.SchemaType) (exact, minSize int) {
	switch t {
	case record.SchemaBoolean, record.SchemaInt8:
		return 1, 0
	case record.SchemaInt16:
		return 2, 0
	case record.SchemaInt32, record.SchemaFloat:
		return 4, 0
	case record.SchemaInstant:
		return 0, 12
	case record.SchemaLocalDateTime:
		return 0, 16
	}
	return 8, 0
}

func (p primitiveCodec) emit(e *emitter, _ *Encoder, _ *record.Data, b []byte) error {
	exact, minSize := primitiveSize(p.typ)
	if exact > 0 && len(b) != exact {
		return fmt.Errorf("payload has %d bytes, %s needs exactly %d", len(b), p.typ, exact)
	}
	if len(b) < minSize {
		return fmt.Errorf("payload has %d bytes, %s needs at least %d", len(b), p.typ, minSize)
	}
	be := binary.BigEndian
	switch p.typ {
	case record.SchemaBoolean:
		e.boolean(b[0] != 0)
	case record.SchemaInt8:
		e.int64(int64(int8(b[0])))
	case record.SchemaInt16:
		e.int64(int64(int16(be.Uint16(b))))
	case record.SchemaInt32:
		e.int64(int64(int32(be.Uint32(b))))
	case record.SchemaInt64:
		e.int64(int64(be.Uint64(b)))
	case record.SchemaFloat:
		e.double(float64(math.Float32frombits(be.Uint32(b))), 32)
	case record.SchemaDouble:
		e.double(math.Float64frombits(be.Uint64(b)), 64)
	case record.SchemaDate, record.SchemaTimestamp:
		// java.util.Date and java.sql.Timestamp: Jackson writes epoch millis.
		e.int64(int64(be.Uint64(b)))
	case record.SchemaTime:
		// java.sql.Time: Jackson writes Time.toString(), "HH:mm:ss" in the
		// JVM's default time zone; we assume UTC, as Pulsar images run.
		ms := int64(be.Uint64(b))
		sec := floorMod(floorDiv(ms, 1000), 86400)
		var tmp [8]byte
		t := append(tmp[:0], twoDigits(sec/3600)...)
		t = append(t, ':')
		t = append(t, twoDigits(sec/60%60)...)
		t = append(t, ':')
		t = append(t, twoDigits(sec%60)...)
		e.text(string(t))
	default:
		// INSTANT, LOCAL_DATE, LOCAL_TIME, LOCAL_DATE_TIME decode to java.time
		// objects, which the sink's plain ObjectMapper refuses to serialize
		// (InvalidDefinitionException: JSR-310 module missing), so the Java
		// sink fails these records. We write the ISO-8601 text of the
		// object's toString() instead.
		s, err := javaTimeText(p.typ, b)
		if err != nil {
			return err
		}
		e.text(s)
	}
	return nil
}

func twoDigits(v int64) []byte { return []byte{byte('0' + v/10), byte('0' + v%10)} }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// java.time limits (LocalDate.MIN/MAX, Instant.MIN/MAX).
const (
	minEpochDay    = -365243219162
	maxEpochDay    = 365241780471
	minInstantSec  = -31557014167219200
	maxInstantSec  = 31556889864403199
	nanosPerDay    = 86400 * 1_000_000_000
	nanosPerSecond = 1_000_000_000
)

func javaTimeText(t record.SchemaType, b []byte) (string, error) {
	be := binary.BigEndian
	var out []byte
	switch t {
	case record.SchemaLocalDate:
		day := int64(be.Uint64(b))
		if day < minEpochDay || day > maxEpochDay {
			return "", fmt.Errorf("epoch day %d is outside %d..%d", day, int64(minEpochDay), int64(maxEpochDay))
		}
		out = appendJavaDate(out, day)
	case record.SchemaLocalTime:
		nod := int64(be.Uint64(b))
		if nod < 0 || nod >= nanosPerDay {
			return "", fmt.Errorf("nano of day %d is outside 0..%d", nod, int64(nanosPerDay-1))
		}
		out = appendJavaLocalTime(out, nod)
	case record.SchemaLocalDateTime:
		day, nod := int64(be.Uint64(b)), int64(be.Uint64(b[8:]))
		if day < minEpochDay || day > maxEpochDay {
			return "", fmt.Errorf("epoch day %d is outside %d..%d", day, int64(minEpochDay), int64(maxEpochDay))
		}
		if nod < 0 || nod >= nanosPerDay {
			return "", fmt.Errorf("nano of day %d is outside 0..%d", nod, int64(nanosPerDay-1))
		}
		out = appendJavaDate(out, day)
		out = append(out, 'T')
		out = appendJavaLocalTime(out, nod)
	case record.SchemaInstant:
		sec, adj := int64(be.Uint64(b)), int64(int32(be.Uint32(b[8:])))
		// Instant.ofEpochSecond(sec, adj) normalises the nano adjustment.
		sec2 := sec + floorDiv(adj, nanosPerSecond)
		if (adj < 0 && sec2 > sec) || sec2 < minInstantSec || sec2 > maxInstantSec {
			return "", fmt.Errorf("instant %d s %d ns is outside Java's Instant range", sec, adj)
		}
		nano := floorMod(adj, nanosPerSecond)
		out = appendJavaDate(out, floorDiv(sec2, 86400))
		out = append(out, 'T')
		sod := floorMod(sec2, 86400)
		out = append(out, twoDigits(sod/3600)...)
		out = append(out, ':')
		out = append(out, twoDigits(sod/60%60)...)
		out = append(out, ':')
		out = append(out, twoDigits(sod%60)...)
		out = appendNanoGroups(out, nano)
		out = append(out, 'Z')
	}
	return string(out), nil
}

// appendJavaDate writes LocalDate.toString() for an epoch day.
func appendJavaDate(dst []byte, day int64) []byte {
	y, m, d := civilFromDays(day)
	switch {
	case y > 9999:
		dst = append(dst, '+')
		dst = strconv.AppendInt(dst, y, 10)
	case y >= 0:
		dst = appendPadded(dst, y, 4)
	case y > -1000:
		dst = append(dst, '-')
		dst = appendPadded(dst, -y, 4)
	default:
		dst = strconv.AppendInt(dst, y, 10)
	}
	dst = append(dst, '-')
	dst = append(dst, twoDigits(m)...)
	dst = append(dst, '-')
	return append(dst, twoDigits(d)...)
}

func appendPadded(dst []byte, v int64, width int) []byte {
	s := strconv.AppendInt(nil, v, 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendJavaLocalTime writes LocalTime.toString(): HH:mm, then :ss when
// seconds or nanos are set, then the nanos in 3, 6 or 9 digits.
func appendJavaLocalTime(dst []byte, nod int64) []byte {
	sec := nod / nanosPerSecond
	nano := nod % nanosPerSecond
	dst = append(dst, twoDigits(sec/3600)...)
	dst = append(dst, ':')
	dst = append(dst, twoDigits(sec/60%60)...)
	if sec%60 > 0 || nano > 0 {
		dst = append(dst, ':')
		dst = append(dst, twoDigits(sec%60)...)
		dst = appendNanoGroups(dst, nano)
	}
	return dst
}

func appendNanoGroups(dst []byte, nano int64) []byte {
	switch {
	case nano == 0:
		return dst
	case nano%1_000_000 == 0:
		return append(append(dst, '.'), strconv.AppendInt(nil, nano/1_000_000+1000, 10)[1:]...)
	case nano%1000 == 0:
		return append(append(dst, '.'), strconv.AppendInt(nil, nano/1000+1_000_000, 10)[1:]...)
	}
	return append(append(dst, '.'), strconv.AppendInt(nil, nano+1_000_000_000, 10)[1:]...)
}

// civilFromDays converts days since 1970-01-01 to the proleptic Gregorian
// (year, month, day), as java.time does, for the whole LocalDate range.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func sortStrings(s []string) { slices.Sort(s) }
