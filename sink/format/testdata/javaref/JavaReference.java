// JavaReference produces what Apache Pulsar's Java Kinesis sink would send
// for the records described in an input file, using the same Java pieces the
// sink runs on: JDK HashMaps filled the way Pulsar's client fills them
// (Collectors.toMap), Gson's JsonObject.toString(), and flatbuffers-java
// with classes that flatc generates from our flatbuf/kinesis_message.fbs.
// It is our own re-statement of the sink's documented behaviour, used only
// by TestJavaReference to check the Go encoders and the golden files.
//
// Usage: java JavaReference <input.json> <outdir>
// Writes <outdir>/<name>.json and <outdir>/<name>.fb for every record, and
// <outdir>/orders.json with the iteration order of every order probe.
import com.google.flatbuffers.FlatBufferBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.pulsar.io.kinesis.fbs.CompressionType;
import org.apache.pulsar.io.kinesis.fbs.EncryptionCtx;
import org.apache.pulsar.io.kinesis.fbs.EncryptionKey;
import org.apache.pulsar.io.kinesis.fbs.KeyValue;
import org.apache.pulsar.io.kinesis.fbs.Message;

public class JavaReference {

    /** One data key as the client library holds it. */
    static final class Key {
        final byte[] value;
        final Map<String, String> metadata;

        Key(byte[] value, Map<String, String> metadata) {
            this.value = value;
            this.metadata = metadata;
        }
    }

    /** The client library's view of an encrypted message. */
    static final class Encryption {
        Map<String, Key> keys;
        byte[] param;
        String algorithm;
        String compressionType; // null when unset
        int uncompressedSize;
        Integer batchSize; // null when not a batch
    }

    public static void main(String[] args) throws Exception {
        JsonObject input;
        try (Reader in = Files.newBufferedReader(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            input = JsonParser.parseReader(in).getAsJsonObject();
        }
        Path out = Paths.get(args[1]);
        Files.createDirectories(out);

        for (JsonElement el : input.getAsJsonArray("records")) {
            JsonObject rec = el.getAsJsonObject();
            String name = rec.get("name").getAsString();
            byte[] payload = Base64.getDecoder().decode(rec.get("payload").getAsString());
            Map<String, String> props = propertiesMap(rec.getAsJsonArray("properties"));
            Encryption enc = rec.has("encryption") && !rec.get("encryption").isJsonNull()
                    ? encryption(rec.getAsJsonObject("encryption")) : null;

            Files.write(out.resolve(name + ".json"),
                    toJson(payload, props, enc).getBytes(StandardCharsets.UTF_8));
            Files.write(out.resolve(name + ".fb"), toFlatBuffer(payload, props, enc));
        }

        JsonArray orders = new JsonArray();
        for (JsonElement el : input.getAsJsonArray("orderProbes")) {
            JsonObject probe = el.getAsJsonObject();
            List<String[]> pairs = new ArrayList<>();
            for (JsonElement k : probe.getAsJsonArray("keys")) {
                pairs.add(new String[] {k.getAsString(), ""});
            }
            Map<String, String> m = "merge".equals(probe.get("kind").getAsString())
                    ? mergeMap(pairs) : putMap(pairs);
            JsonArray order = new JsonArray();
            m.keySet().forEach(order::add);
            orders.add(order);
        }
        Files.write(out.resolve("orders.json"), orders.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Message properties: three-argument toMap, later duplicates win. */
    static Map<String, String> mergeMap(List<String[]> pairs) {
        return pairs.stream().collect(Collectors.toMap(p -> p[0], p -> p[1], (older, newer) -> newer));
    }

    /** Encryption keys and metadata: two-argument toMap. */
    static Map<String, String> putMap(List<String[]> pairs) {
        return pairs.stream().collect(Collectors.toMap(p -> p[0], p -> p[1]));
    }

    static List<String[]> pairs(JsonArray arr) {
        List<String[]> pairs = new ArrayList<>();
        if (arr != null) {
            for (JsonElement p : arr) {
                JsonArray kv = p.getAsJsonArray();
                pairs.add(new String[] {kv.get(0).getAsString(), kv.get(1).getAsString()});
            }
        }
        return pairs;
    }

    static Map<String, String> propertiesMap(JsonArray arr) {
        return mergeMap(pairs(arr));
    }

    static Encryption encryption(JsonObject o) {
        Encryption e = new Encryption();
        List<Object[]> keys = new ArrayList<>();
        for (JsonElement k : o.getAsJsonArray("keys")) {
            JsonObject ko = k.getAsJsonObject();
            Key key = new Key(Base64.getDecoder().decode(ko.get("value").getAsString()),
                    putMap(pairs(ko.getAsJsonArray("metadata"))));
            keys.add(new Object[] {ko.get("name").getAsString(), key});
        }
        e.keys = keys.stream().collect(Collectors.toMap(k -> (String) k[0], k -> (Key) k[1]));
        e.param = Base64.getDecoder().decode(o.get("param").getAsString());
        e.algorithm = o.get("algorithm").getAsString();
        e.compressionType = o.get("compressionType").isJsonNull() ? null : o.get("compressionType").getAsString();
        e.uncompressedSize = o.get("uncompressedSize").getAsInt();
        e.batchSize = o.get("batchSize").isJsonNull() ? null : o.get("batchSize").getAsInt();
        return e;
    }

    static String toJson(byte[] payload, Map<String, String> props, Encryption enc) {
        Base64.Encoder b64 = Base64.getEncoder();
        JsonObject root = new JsonObject();
        root.addProperty("payloadBase64", b64.encodeToString(payload));
        JsonObject p = new JsonObject();
        props.forEach(p::addProperty);
        root.add("properties", p);
        if (enc != null) {
            JsonObject ctx = new JsonObject();
            JsonObject keys = new JsonObject();
            JsonObject meta = new JsonObject();
            enc.keys.forEach((name, key) -> {
                keys.addProperty(name, b64.encodeToString(key.value));
                if (!key.metadata.isEmpty()) {
                    JsonObject m = new JsonObject();
                    key.metadata.forEach(m::addProperty);
                    meta.add(name, m);
                }
            });
            ctx.add("keysMapBase64", keys);
            ctx.add("keysMetadataMap", meta);
            ctx.addProperty("encParamBase64", b64.encodeToString(enc.param));
            ctx.addProperty("algorithm", enc.algorithm);
            if (enc.compressionType != null) {
                ctx.addProperty("compressionType", enc.compressionType);
                ctx.addProperty("uncompressedMessageSize", enc.uncompressedSize);
            }
            if (enc.batchSize != null) {
                ctx.addProperty("batchSize", enc.batchSize);
            }
            root.add("encryptionCtx", ctx);
        }
        return root.toString();
    }

    /** A byte vector the way the sink's generated helpers write it. */
    static int byteVector(FlatBufferBuilder b, byte[] data) {
        b.startVector(1, data.length, 1);
        for (int i = data.length - 1; i >= 0; i--) {
            b.addByte(data[i]);
        }
        return b.endVector();
    }

    static int offsetVector(FlatBufferBuilder b, int[] offsets) {
        b.startVector(4, offsets.length, 4);
        for (int i = offsets.length - 1; i >= 0; i--) {
            b.addOffset(offsets[i]);
        }
        return b.endVector();
    }

    static int keyValues(FlatBufferBuilder b, Map<String, String> m) {
        int[] offs = new int[m.size()];
        int i = 0;
        for (Map.Entry<String, String> e : m.entrySet()) {
            int k = b.createString(e.getKey());
            int v = b.createString(e.getValue());
            offs[i++] = KeyValue.createKeyValue(b, k, v);
        }
        return offsetVector(b, offs);
    }

    static byte[] toFlatBuffer(byte[] payload, Map<String, String> props, Encryption enc) {
        FlatBufferBuilder b = new FlatBufferBuilder(0);
        int propsOff = props.isEmpty() ? -1 : keyValues(b, props);
        int encOff = -1;
        if (enc != null) {
            int[] keyOffs = new int[enc.keys.size()];
            int i = 0;
            for (Map.Entry<String, Key> e : enc.keys.entrySet()) {
                int name = b.createString(e.getKey());
                int value = byteVector(b, e.getValue().value);
                int meta = e.getValue().metadata.isEmpty() ? -1 : keyValues(b, e.getValue().metadata);
                EncryptionKey.startEncryptionKey(b);
                EncryptionKey.addKey(b, name);
                EncryptionKey.addValue(b, value);
                if (meta != -1) {
                    EncryptionKey.addMetadata(b, meta);
                }
                keyOffs[i++] = EncryptionKey.endEncryptionKey(b);
            }
            int keys = offsetVector(b, keyOffs);
            int param = byteVector(b, enc.param);
            int algo = b.createString(enc.algorithm);
            byte compression = CompressionType.NONE;
            if ("LZ4".equals(enc.compressionType)) {
                compression = CompressionType.LZ4;
            } else if ("ZLIB".equals(enc.compressionType)) {
                compression = CompressionType.ZLIB;
            }
            encOff = EncryptionCtx.createEncryptionCtx(b, keys, param, algo, compression, enc.uncompressedSize,
                    enc.batchSize != null ? enc.batchSize : 1, enc.batchSize != null);
        }
        int payloadOff = byteVector(b, payload);
        Message.startMessage(b);
        Message.addPayload(b, payloadOff);
        if (encOff != -1) {
            Message.addEncryptionCtx(b, encOff);
        }
        if (propsOff != -1) {
            Message.addProperties(b, propsOff);
        }
        b.finish(Message.endMessage(b));
        ByteBuffer bb = b.dataBuffer();
        byte[] bytes = new byte[bb.remaining()];
        bb.get(bytes);
        return bytes;
    }
}
