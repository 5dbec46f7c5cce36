package record

// SchemaType names a Pulsar schema type exactly as the broker reports it
// (the names of org.apache.pulsar.common.schema.SchemaType).
type SchemaType string

// The schema types a record can carry. A message published without a schema
// (or with BYTES) has a nil *Schema.
const (
	SchemaNone           SchemaType = "NONE"
	SchemaString         SchemaType = "STRING"
	SchemaJSON           SchemaType = "JSON"
	SchemaProtobuf       SchemaType = "PROTOBUF"
	SchemaAvro           SchemaType = "AVRO"
	SchemaBoolean        SchemaType = "BOOLEAN"
	SchemaInt8           SchemaType = "INT8"
	SchemaInt16          SchemaType = "INT16"
	SchemaInt32          SchemaType = "INT32"
	SchemaInt64          SchemaType = "INT64"
	SchemaFloat          SchemaType = "FLOAT"
	SchemaDouble         SchemaType = "DOUBLE"
	SchemaDate           SchemaType = "DATE"
	SchemaTime           SchemaType = "TIME"
	SchemaTimestamp      SchemaType = "TIMESTAMP"
	SchemaKeyValue       SchemaType = "KEY_VALUE"
	SchemaInstant        SchemaType = "INSTANT"
	SchemaLocalDate      SchemaType = "LOCAL_DATE"
	SchemaLocalTime      SchemaType = "LOCAL_TIME"
	SchemaLocalDateTime  SchemaType = "LOCAL_DATE_TIME"
	SchemaProtobufNative SchemaType = "PROTOBUF_NATIVE"
	SchemaBytes          SchemaType = "BYTES"
	SchemaAutoConsume    SchemaType = "AUTO_CONSUME"
)

// KeyValueEncoding says where a KEY_VALUE record keeps its key.
type KeyValueEncoding string

const (
	// KeyValueInline: the payload holds [4-byte BE key length][key][4-byte BE value length][value].
	KeyValueInline KeyValueEncoding = "INLINE"
	// KeyValueSeparated: the payload holds only the value; the key is the
	// message key, base64-encoded by the producer.
	KeyValueSeparated KeyValueEncoding = "SEPARATED"
)

// Schema is a topic schema version as stored by the broker. It is immutable
// and shared by every record of that version (fetched once, then cached).
type Schema struct {
	Type SchemaType
	// Name is the schema name the broker reports (often the topic name).
	Name string
	// Definition is the raw schema data: the AVRO/JSON schema text, the
	// PROTOBUF_NATIVE descriptor JSON, empty for primitives. For KEY_VALUE it
	// is the broker's encoded pair; use Key/Value instead.
	Definition []byte
	Properties map[string]string
	// Version is the schema version bytes the message carried.
	Version []byte

	// For KEY_VALUE only: the two component schemas and the encoding.
	Key, Value       *Schema
	KeyValueEncoding KeyValueEncoding
}
