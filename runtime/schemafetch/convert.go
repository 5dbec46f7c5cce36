package schemafetch

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// wireTypes maps the binary protocol's Schema.Type to the broker's
// SchemaType names. The numbers agree, the names do not (Bool/BOOLEAN,
// KeyValue/KEY_VALUE, LocalDateTime/LOCAL_DATE_TIME, ...). BYTES has no
// wire value: the broker reports a BYTES schema as None.
var wireTypes = map[wirepb.Schema_Type]record.SchemaType{
	wirepb.Schema_None:           record.SchemaNone,
	wirepb.Schema_String:         record.SchemaString,
	wirepb.Schema_Json:           record.SchemaJSON,
	wirepb.Schema_Protobuf:       record.SchemaProtobuf,
	wirepb.Schema_Avro:           record.SchemaAvro,
	wirepb.Schema_Bool:           record.SchemaBoolean,
	wirepb.Schema_Int8:           record.SchemaInt8,
	wirepb.Schema_Int16:          record.SchemaInt16,
	wirepb.Schema_Int32:          record.SchemaInt32,
	wirepb.Schema_Int64:          record.SchemaInt64,
	wirepb.Schema_Float:          record.SchemaFloat,
	wirepb.Schema_Double:         record.SchemaDouble,
	wirepb.Schema_Date:           record.SchemaDate,
	wirepb.Schema_Time:           record.SchemaTime,
	wirepb.Schema_Timestamp:      record.SchemaTimestamp,
	wirepb.Schema_KeyValue:       record.SchemaKeyValue,
	wirepb.Schema_Instant:        record.SchemaInstant,
	wirepb.Schema_LocalDate:      record.SchemaLocalDate,
	wirepb.Schema_LocalTime:      record.SchemaLocalTime,
	wirepb.Schema_LocalDateTime:  record.SchemaLocalDateTime,
	wirepb.Schema_ProtobufNative: record.SchemaProtobufNative,
}

// Property names of a KEY_VALUE schema, as the broker's KeyValueSchemaInfo
// writes them. The key.* and value.* entries describe the two components.
const (
	propKVEncoding   = "kv.encoding.type"
	propSchemaType   = ".schema.type"
	propSchemaName   = ".schema.name"
	propSchemaProps  = ".schema.properties"
	keyPrefix        = "key"
	valuePrefix      = "value"
	encodingInline   = string(record.KeyValueInline)
	encodingSeparate = string(record.KeyValueSeparated)
)

// versionString shows a schema version for errors: the broker's versions
// are 8-byte big-endian counters, shown as the number admins see.
func versionString(v []byte) string {
	switch len(v) {
	case 0:
		return "latest"
	case 8:
		return fmt.Sprintf("%d (0x%x)", int64(binary.BigEndian.Uint64(v)), v)
	default:
		return "0x" + hex.EncodeToString(v)
	}
}

// convertSchema turns the broker's answer into a record.Schema.
func convertSchema(w *wirepb.Schema, version []byte) (*record.Schema, error) {
	if w.Type == nil {
		// Go's proto2 decoder drops enum values it does not know into the
		// unknown fields, so a type newer than our .proto lands here too.
		return nil, errors.New("schema has no type, or a type number this client does not know (known: 0..20)")
	}
	typ, ok := wireTypes[w.GetType()]
	if !ok {
		return nil, fmt.Errorf("schema type %d is not a known type", int32(w.GetType()))
	}
	props := make(map[string]string, len(w.GetProperties()))
	for _, kv := range w.GetProperties() {
		props[kv.GetKey()] = kv.GetValue()
	}
	s := &record.Schema{
		Type:       typ,
		Name:       w.GetName(),
		Definition: w.GetSchemaData(),
		Properties: props,
		Version:    version,
	}
	if typ == record.SchemaKeyValue {
		if err := splitKeyValue(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// splitKeyValue fills Key, Value and KeyValueEncoding of a KEY_VALUE
// schema from its data ([4-byte BE key length][key][4-byte BE value
// length][value]; a length of -1 means no data) and its properties.
func splitKeyValue(s *record.Schema) error {
	rest := s.Definition
	next := func(part string) ([]byte, error) {
		if len(rest) < 4 {
			return nil, fmt.Errorf("KEY_VALUE schema data: %s length: %d bytes left, need 4", part, len(rest))
		}
		n := int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		switch {
		case n == -1:
			return nil, nil
		case n < 0 || int(n) > len(rest):
			return nil, fmt.Errorf("KEY_VALUE schema data: %s length %d, but %d bytes left", part, n, len(rest))
		}
		b := rest[:n]
		rest = rest[n:]
		return b, nil
	}
	keyData, err := next(keyPrefix)
	if err != nil {
		return err
	}
	valueData, err := next(valuePrefix)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("KEY_VALUE schema data: %d bytes after the value schema, want none", len(rest))
	}
	if s.Key, err = componentSchema(s, keyPrefix, keyData); err != nil {
		return err
	}
	if s.Value, err = componentSchema(s, valuePrefix, valueData); err != nil {
		return err
	}
	switch enc := s.Properties[propKVEncoding]; enc {
	case "", encodingInline:
		// The broker's default when the property is absent.
		s.KeyValueEncoding = record.KeyValueInline
	case encodingSeparate:
		s.KeyValueEncoding = record.KeyValueSeparated
	default:
		return fmt.Errorf("KEY_VALUE schema property %s=%q: want %s or %s", propKVEncoding, enc, encodingInline, encodingSeparate)
	}
	return nil
}

// componentSchema builds the key or value schema of a KEY_VALUE schema.
// It carries the parent's version, since components have none of their own.
func componentSchema(parent *record.Schema, prefix string, data []byte) (*record.Schema, error) {
	typ := parent.Properties[prefix+propSchemaType]
	if typ == "" {
		// What the broker assumes for a component without a type.
		typ = string(record.SchemaBytes)
	}
	props := map[string]string{}
	if raw := parent.Properties[prefix+propSchemaProps]; raw != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("KEY_VALUE schema property %s%s=%q: want a JSON object: %v", prefix, propSchemaProps, raw, err)
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				props[k] = str
				continue
			}
			b, _ := json.Marshal(v)
			props[k] = string(b)
		}
	}
	c := &record.Schema{
		Type:       record.SchemaType(typ),
		Name:       parent.Properties[prefix+propSchemaName],
		Definition: data,
		Properties: props,
		Version:    parent.Version,
	}
	if c.Type == record.SchemaKeyValue {
		// A nested pair keeps its own kv.* and key/value.* entries in the
		// component's properties.
		if err := splitKeyValue(c); err != nil {
			return nil, fmt.Errorf("%s component: %w", prefix, err)
		}
	}
	return c, nil
}

// FromInfo builds a record.Schema from a schema as Pulsar's Java client
// describes it (SchemaInfo: type name, name, data, properties) and the
// version a message carried; a KEY_VALUE schema is split into its key and
// value as for a schema fetched from the broker.
func FromInfo(typ record.SchemaType, name string, data []byte, props map[string]string, version []byte) (*record.Schema, error) {
	known := false
	for _, t := range wireTypes {
		known = known || t == typ
	}
	if !known && typ != record.SchemaBytes {
		return nil, fmt.Errorf("schema type %q is not a known type", typ)
	}
	if props == nil {
		props = map[string]string{}
	}
	s := &record.Schema{Type: typ, Name: name, Definition: data, Properties: props, Version: version}
	if typ == record.SchemaKeyValue {
		if err := splitKeyValue(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
