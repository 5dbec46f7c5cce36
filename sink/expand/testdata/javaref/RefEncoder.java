// Reference encoder for FULL_MESSAGE_IN_JSON_EXPAND_VALUE (developer tool, not run by CI).
//
// It reads test vectors (vectors.jsonl), decodes each payload with the real Pulsar client schema
// classes (AutoConsumeSchema, as the Java runtime does for a Sink<GenericObject>), converts the
// value the way the Java Kinesis sink does (written here from the sink's documented behaviour:
// primitives as is, AVRO GenericRecord to a Jackson tree, JSON tree as is, KEY_VALUE as a HashMap)
// and serializes with the real Jackson ObjectMapper and json-flattener. Each vector yields
// <name>.json (the exact bytes) or <name>.java-error (the exception the Java path throws).
//
// Deliberate tolerance: KEY_VALUE halves that are not GenericObjects (primitive halves, null
// halves) are converted as values here; the Pulsar 4.0.x sink calls getNativeObject() on them.
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.wnameless.json.base.JacksonJsonValue;
import com.github.wnameless.json.flattener.JsonFlattener;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericFixed;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.schema.GenericObject;
import org.apache.pulsar.client.api.schema.KeyValueSchema;
import org.apache.pulsar.client.impl.schema.AutoConsumeSchema;
import org.apache.pulsar.client.impl.schema.KeyValueSchemaImpl;
import org.apache.pulsar.client.impl.schema.KeyValueSchemaInfo;
import org.apache.pulsar.common.schema.KeyValueEncodingType;
import org.apache.pulsar.common.schema.SchemaInfo;
import org.apache.pulsar.common.schema.SchemaType;

public class RefEncoder {
    public static class Rec {
        private String topicName;
        private String key;
        private Object payload;
        private Map<String, String> properties;
        private Long eventTime;
        public String getTopicName() { return topicName; }
        public String getKey() { return key; }
        public Object getPayload() { return payload; }
        public Map<String, String> getProperties() { return properties; }
        public Long getEventTime() { return eventTime; }
        void addProperty(String k, String v) { if (properties == null) properties = new HashMap<>(); properties.put(k, v); }
    }

    static final JsonNodeFactory F = JsonNodeFactory.withExactBigDecimals(true);

    static SchemaInfo info(JsonNode s) {
        String type = s.get("type").asText();
        if (type.equals("KEY_VALUE")) {
            return KeyValueSchemaInfo.encodeKeyValueSchemaInfo("kv", info(s.get("key")), info(s.get("value")),
                    KeyValueEncodingType.valueOf(s.get("encoding").asText()));
        }
        Map<String, String> props = new HashMap<>();
        if (s.has("props")) s.get("props").fields().forEachRemaining(e -> props.put(e.getKey(), e.getValue().asText()));
        byte[] def = s.has("def") ? s.get("def").asText().getBytes(StandardCharsets.UTF_8) : new byte[0];
        return SchemaInfo.builder().name("t").type(SchemaType.valueOf(type)).schema(def).properties(props).build();
    }

    static Object conv(Schema<?> schema, Object val, boolean flatten) {
        if (schema == null || schema.getSchemaInfo().getType().isPrimitive()) return val;
        switch (schema.getSchemaInfo().getType()) {
            case KEY_VALUE: {
                KeyValueSchema<?, ?> kvs = (KeyValueSchema<?, ?>) schema;
                org.apache.pulsar.common.schema.KeyValue<?, ?> kv = (org.apache.pulsar.common.schema.KeyValue<?, ?>) val;
                Object k = kv.getKey(), v = kv.getValue();
                Map<String, Object> m = new HashMap<>();
                m.put("key", conv(kvs.getKeySchema(), k instanceof GenericObject ? ((GenericObject) k).getNativeObject() : k, flatten));
                m.put("value", conv(kvs.getValueSchema(), v instanceof GenericObject ? ((GenericObject) v).getNativeObject() : v, flatten));
                return m;
            }
            case AVRO: return avroRecord((org.apache.avro.generic.GenericRecord) val, flatten);
            case JSON: return val;
            default: throw new UnsupportedOperationException("Unsupported schema type " + schema.getSchemaInfo().getType());
        }
    }

    static JsonNode avroRecord(org.apache.avro.generic.GenericRecord r, boolean b64) {
        if (r == null) return null;
        ObjectNode o = F.objectNode();
        for (org.apache.avro.Schema.Field f : r.getSchema().getFields()) o.set(f.name(), avro(f.schema(), r.get(f.name()), b64));
        return o;
    }

    static JsonNode avro(org.apache.avro.Schema s, Object v, boolean b64) {
        org.apache.avro.LogicalType lt = s.getLogicalType();
        if (lt != null) {
            switch (lt.getName()) {
                case "decimal":
                    if (!(v instanceof BigDecimal)) throw new IllegalArgumentException("Invalid type for Decimal, expected BigDecimal but was " + v.getClass());
                    return F.numberNode((BigDecimal) v);
                case "date": case "time-millis":
                    if (!(v instanceof Integer)) throw new IllegalArgumentException("Invalid type for " + lt.getName() + ", expected Integer but was " + v.getClass());
                    return F.numberNode((Integer) v);
                case "time-micros": case "timestamp-millis": case "timestamp-micros":
                    if (!(v instanceof Long)) throw new IllegalArgumentException("Invalid type for " + lt.getName() + ", expected Long but was " + v.getClass());
                    return F.numberNode((Long) v);
                case "uuid":
                    return F.textNode(v == null ? null : v.toString());
                default:
            }
        }
        if (v == null) return F.nullNode();
        switch (s.getType()) {
            case NULL: return F.nullNode();
            case INT: return F.numberNode((Integer) v);
            case LONG: return F.numberNode((Long) v);
            case DOUBLE: return F.numberNode((Double) v);
            case FLOAT: return F.numberNode((Float) v);
            case BOOLEAN: return F.booleanNode((Boolean) v);
            case BYTES: {
                ByteBuffer bb = (ByteBuffer) v;
                byte[] b = new byte[bb.remaining()];
                bb.duplicate().get(b);
                return b64 ? F.textNode(Base64.getEncoder().encodeToString(b)) : F.binaryNode(b);
            }
            case FIXED: {
                byte[] b = ((GenericFixed) v).bytes();
                return b64 ? F.textNode(Base64.getEncoder().encodeToString(b)) : F.binaryNode(b);
            }
            case ENUM: case STRING: return F.textNode(v.toString());
            case ARRAY: {
                ArrayNode a = F.arrayNode();
                Object[] items = v instanceof Collection ? ((Collection<?>) v).toArray() : (Object[]) v;
                for (Object e : items) a.add(avro(s.getElementType(), e, b64));
                return a;
            }
            case MAP: {
                ObjectNode o = F.objectNode();
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet())
                    o.set(e.getKey() == null ? null : e.getKey().toString(), avro(s.getValueType(), e.getValue(), b64));
                return o;
            }
            case RECORD: return avroRecord((org.apache.avro.generic.GenericRecord) v, b64);
            case UNION:
                for (org.apache.avro.Schema b : s.getTypes()) {
                    if (b.getType() == org.apache.avro.Schema.Type.NULL) continue;
                    return avro(b, v, b64);
                }
                return F.textNode(v.toString());
            default: throw new UnsupportedOperationException("Unknown AVRO schema type=" + s.getType());
        }
    }

    public static void main(String[] args) throws Exception {
        ObjectMapper in = new ObjectMapper();
        Path outDir = Paths.get(args[1]);
        Files.createDirectories(outDir);
        boolean verbose = args.length > 2;
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            JsonNode c = in.readTree(line);
            String name = c.get("name").asText();
            String result;
            boolean ok;
            try {
                result = encode(c);
                ok = true;
            } catch (Throwable t) {
                result = t.getClass().getName() + ": " + t.getMessage();
                ok = false;
            }
            Files.deleteIfExists(outDir.resolve(name + ".json"));
            Files.deleteIfExists(outDir.resolve(name + ".java-error"));
            if (ok) Files.write(outDir.resolve(name + ".json"), result.getBytes(StandardCharsets.UTF_8));
            else Files.write(outDir.resolve(name + ".java-error"), (result + "\n").getBytes(StandardCharsets.UTF_8));
            if (verbose) System.out.println(name + (ok ? " => " : " !! ") + result);
        }
    }

    static String encode(JsonNode c) throws Exception {
        boolean flatten = c.path("flatten").asBoolean(false);
        boolean nonNulls = c.path("includeNonNulls").asBoolean(true);
        JsonNode sj = c.get("schema");
        byte[] payload = Base64.getDecoder().decode(c.path("payload").asText(""));
        Schema<?> schema;
        SchemaType type;
        if (sj == null || sj.isNull()) { schema = Schema.BYTES; type = SchemaType.BYTES; }
        else { SchemaInfo si = info(sj); schema = AutoConsumeSchema.getSchema(si); type = si.getType(); }
        Object decoded;
        if (type == SchemaType.KEY_VALUE && ((KeyValueSchemaImpl<?, ?>) schema).getKeyValueEncodingType() == KeyValueEncodingType.SEPARATED) {
            byte[] kb = c.hasNonNull("keyBytes") ? Base64.getDecoder().decode(c.get("keyBytes").asText()) : null;
            decoded = ((KeyValueSchemaImpl<?, ?>) schema).decode(kb, payload, null);
        } else {
            decoded = schema.decode(payload);
        }
        GenericObject value = decoded == null ? null : decoded instanceof GenericObject ? (GenericObject) decoded
                : AutoConsumeSchema.wrapPrimitiveObject(decoded, type, null);
        Rec r = new Rec();
        if (value != null) r.payload = conv(schema, value.getNativeObject(), flatten);
        if (c.hasNonNull("key")) r.key = c.get("key").asText();
        if (c.hasNonNull("topic")) r.topicName = c.get("topic").asText();
        if (c.hasNonNull("eventTime")) r.eventTime = c.get("eventTime").asLong();
        if (c.has("props")) {
            // Pulsar's MessageImpl.getProperties(): the wire list collected with
            // Collectors.toMap(k, v, merge) (a HashMap filled by merge), then
            // re-put one by one by JsonRecord.addProperty.
            List<String[]> wire = new ArrayList<>();
            for (JsonNode p : c.get("props")) wire.add(new String[]{p.get(0).asText(), p.get(1).asText()});
            Map<String, String> msgProps = wire.stream().collect(
                    java.util.stream.Collectors.toMap(p -> p[0], p -> p[1], (a, b) -> b));
            msgProps.forEach(r::addProperty);
        }
        ObjectMapper m = new ObjectMapper();
        if (nonNulls) m.setSerializationInclusion(JsonInclude.Include.NON_NULL);
        String s;
        if (flatten) s = JsonFlattener.flatten(new JacksonJsonValue(m.convertValue(r, JsonNode.class)));
        else s = m.writeValueAsString(r);
        // The sink sends s.getBytes(UTF_8); round-trip so lone surrogates show as '?'.
        return new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    }
}
