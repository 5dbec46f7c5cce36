package expand

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pulsar-kinesis/kinesis-sink/internal/javamap"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// KEY_VALUE values. The Java sink builds a java.util.HashMap with "key" and
// "value", each converted by its own schema; HashMap iteration puts "value"
// (bucket 13 of 16) before "key" (bucket 14), and Include.NON_NULL drops a
// half that is a null reference (length -1 in the INLINE encoding, or no
// message key for SEPARATED). A JSON null inside a half is a value and
// stays.
//
// The Java sink (Pulsar 4.0.x Utils) calls getNativeObject() on both halves,
// which fails for primitive halves and null halves; we convert those by
// their schema (and treat a null half as above) instead.
type kvCodec struct {
	key, value         codec
	keyType, valueType record.SchemaType
	separated          bool
	order              [2]int // indices into {"key", "value"} in Java order
}

func compileKeyValue(s *record.Schema) (codec, error) {
	if s.Key == nil || s.Value == nil {
		return nil, errors.New("KEY_VALUE schema carries no key or value schema")
	}
	if s.Key.Type == record.SchemaKeyValue || s.Value.Type == record.SchemaKeyValue {
		return nil, errors.New("KEY_VALUE schema nests another KEY_VALUE schema")
	}
	k, err := compileSchema(s.Key)
	if err != nil {
		return nil, fmt.Errorf("key schema: %w", err)
	}
	v, err := compileSchema(s.Value)
	if err != nil {
		return nil, fmt.Errorf("value schema: %w", err)
	}
	c := &kvCodec{key: k, value: v, keyType: orBytes(s.Key.Type), valueType: orBytes(s.Value.Type),
		separated: s.KeyValueEncoding == record.KeyValueSeparated}
	names := javamap.StringKeys{"key", "value"}
	o := javamap.PutOrder(names, 2, -1, nil)
	c.order = [2]int{int(o[0]), int(o[1])}
	return c, nil
}

func orBytes(t record.SchemaType) record.SchemaType {
	if t == "" || t == record.SchemaNone {
		return record.SchemaBytes
	}
	return t
}

func (c *kvCodec) emit(e *emitter, enc *Encoder, r *record.Data, b []byte) error {
	var halves [2][]byte // key, value; nil means a null reference
	if c.separated {
		halves[1] = b
		if b == nil {
			halves[1] = []byte{}
		}
		if r.HasKey {
			// A SEPARATED key travels base64-encoded in the message key; a key
			// that is not base64 is used as its UTF-8 bytes, as Java does when
			// the partition key is not flagged as base64.
			if kb, err := base64.StdEncoding.DecodeString(r.Key); err == nil {
				halves[0] = kb
			} else {
				halves[0] = []byte(r.Key)
			}
		}
	} else {
		rest := b
		for i := range halves {
			if len(rest) < 4 {
				return &decodeError{part: "value", typ: record.SchemaKeyValue,
					err: fmt.Errorf("INLINE payload ends before the %s length", [2]string{"key", "value"}[i])}
			}
			n := int32(binary.BigEndian.Uint32(rest))
			rest = rest[4:]
			switch {
			case n == -1:
				continue
			case n < 0 || int64(n) > int64(len(rest)):
				return &decodeError{part: "value", typ: record.SchemaKeyValue,
					err: fmt.Errorf("INLINE %s length %d does not fit the %d remaining bytes", [2]string{"key", "value"}[i], n, len(rest))}
			}
			halves[i] = rest[:n:n]
			rest = rest[n:]
		}
	}
	names := [2]string{"key", "value"}
	codecs := [2]codec{c.key, c.value}
	types := [2]record.SchemaType{c.keyType, c.valueType}
	e.beginObject()
	for _, i := range c.order {
		if halves[i] == nil {
			if !enc.opts.IncludeNonNulls {
				e.name(names[i])
				e.null()
			}
			continue
		}
		e.name(names[i])
		if err := codecs[i].emit(e, enc, r, halves[i]); err != nil {
			var de *decodeError
			if errors.As(err, &de) {
				return err
			}
			return &decodeError{part: "KEY_VALUE " + names[i], typ: types[i], err: err}
		}
		if e.err != nil {
			return e.err
		}
	}
	e.endObject()
	return nil
}
