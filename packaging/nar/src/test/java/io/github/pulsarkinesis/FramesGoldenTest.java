package io.github.pulsarkinesis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The sidecar protocol's golden frames (runtime/sidecar/testdata/frames), shared with the Go side's test:
 * the frames Java writes are built here by the sink's own code and must equal their golden bytes, which
 * the Go test decodes; the frames Go writes are golden bytes from the Go encoders, which this test reads
 * as the sink's results reader does. Run with -Dgolden.update=true to rewrite the Java side's goldens
 * after a deliberate change of the protocol (and change its version).
 */
class FramesGoldenTest {
    private static final Path DIR = Path.of(System.getProperty("golden.frames", "../../runtime/sidecar/testdata/frames"));
    private static final boolean UPDATE = Boolean.getBoolean("golden.update");

    static final byte[] SCHEMA_VERSION = {0, 0, 0, 0, 0, 0, 0, 5};

    // ---- Java -> Go ----

    @Test
    void hello() throws IOException {
        golden("hello", Frames.hello("{\"awsRegion\":\"eu-west-1\"}", Map.of("awsCredentialPluginParam", "{\"accessKey\":\"a\"}"),
                "public", "default", "kinesis", 1, 3, 20000, 134217728L));
    }

    @Test
    void schema() throws IOException {
        golden("schema", Frames.schema(1, "AVRO", "orders", "{\"type\":\"record\",\"name\":\"Order\",\"fields\":[]}".getBytes(StandardCharsets.UTF_8),
                Map.of("__alwaysAllowNull", "true"), SCHEMA_VERSION));
    }

    @Test
    void record() throws IOException {
        Frames.Builder b = Frames.record(Frames.RECORD, 1, "persistent://public/default/orders-partition-2", true, "customer-1",
                Map.of("trace", "t-1"), 1767225600000L, 1767225601000L, KinesisGoSink.IdParts.parse("17:4:2:3"), 1,
                SCHEMA_VERSION, null, "{\"id\":1}".getBytes(StandardCharsets.UTF_8)).finish();
        b.putU64(KinesisGoSink.SEQ_OFFSET, 42);
        golden("record", b);
    }

    /** A payload still encrypted: its encryption context before the payload, flag 8. */
    @Test
    void recordEncrypted() throws IOException {
        Frames.Encryption enc = new Frames.Encryption(
                Map.of("consumer-key", new Frames.Encryption.Key(new byte[] {9, 8, 7}, Map.of("version", "1"))),
                new byte[] {1, 2, 3, 4}, "RSA", "LZ4", 1024, 5);
        Frames.Builder b = Frames.record(Frames.RECORD, 0, "persistent://public/default/secret", false, "", null, 0L,
                1767225601000L, KinesisGoSink.IdParts.parse("17:6:-1:-1"), 0, null, enc, new byte[] {(byte) 0xde, (byte) 0xad}).finish();
        b.putU64(KinesisGoSink.SEQ_OFFSET, 45);
        golden("record-encrypted", b);

        // Not a batch (-1), no param, a key without metadata.
        Frames.Encryption bare = new Frames.Encryption(Map.of("k", new Frames.Encryption.Key(new byte[] {1}, null)), null,
                "RSA", "NONE", 2, -1);
        b = Frames.record(Frames.RECORD, 0, "persistent://public/default/secret", false, "", null, 0L,
                1767225601000L, KinesisGoSink.IdParts.parse("17:7:-1:-1"), 0, null, bare, new byte[] {1}).finish();
        b.putU64(KinesisGoSink.SEQ_OFFSET, 46);
        golden("record-encrypted-bare", b);
    }

    /** A chunked message with a null value: named by its last chunk, an empty payload, no key, no event time. */
    @Test
    void recordChunkedNullValue() throws IOException {
        Frames.Builder b = Frames.record(Frames.RECORD, 0, "persistent://public/default/orders", false, "", Map.of(), 0L,
                1767225601000L, KinesisGoSink.IdParts.parse("17:9:-1;17:12:-1"), 0, null, null, null).finish();
        b.putU64(KinesisGoSink.SEQ_OFFSET, 43);
        golden("record-chunked-null", b);
    }

    /** UNREADABLE: a field that could not be read (here the schema version) empty, the reason last. */
    @Test
    void unreadable() throws IOException {
        Frames.Builder b = Frames.record(Frames.UNREADABLE, 0, "persistent://public/default/orders", true, "k", null, 0L,
                1767225601000L, KinesisGoSink.IdParts.parse("17:5:-1:-1"), 2, null, null, new byte[] {1, 2, 3})
                .str("reader schema: unreachable").finish();
        b.putU64(KinesisGoSink.SEQ_OFFSET, 44);
        golden("unreadable", b);
    }

    @Test
    void messageIds() {
        assertEquals(new KinesisGoSink.IdParts(17, 4, 2, 3, false), KinesisGoSink.IdParts.parse("17:4:2:3"));
        assertEquals(new KinesisGoSink.IdParts(17, 4, -1, -1, false), KinesisGoSink.IdParts.parse("17:4:-1"));
        assertEquals(new KinesisGoSink.IdParts(17, 12, -1, -1, true), KinesisGoSink.IdParts.parse("17:9:-1;17:12:-1"));
        assertEquals(KinesisGoSink.IdParts.NONE, KinesisGoSink.IdParts.parse("not-an-id"));
    }

    @Test
    void published() throws IOException {
        golden("published", Frames.published(7, "topic persistent://public/default/dlq: not found"));
    }

    @Test
    void close() throws IOException {
        golden("close", Frames.close(20000));
    }

    // ---- Go -> Java ----

    @Test
    void ready() throws IOException {
        Frames.Frame f = read("ready", Frames.READY);
        assertEquals(Frames.VERSION, f.u32());
        end(f);
    }

    @Test
    void oneStringFrames() throws IOException {
        Frames.Frame f = read("open-failed", Frames.OPEN_FAILED);
        assertEquals("awsRegion: \"mars-1\" is not an AWS region", f.str());
        end(f);
        f = read("fatal", Frames.FATAL);
        assertEquals("failOnError: record persistent://public/default/orders 17:4:2:3 failed", f.str());
        end(f);
        f = read("closed", Frames.CLOSED);
        assertEquals("", f.str());
        end(f);
    }

    @Test
    void ackAndFail() throws IOException {
        Frames.Frame f = read("ack", Frames.ACK);
        assertEquals(42, f.u64());
        end(f);
        f = read("fail", Frames.FAIL);
        assertEquals(43, f.u64());
        assertEquals("ProvisionedThroughputExceededException: Rate exceeded", f.str());
        end(f);
    }

    @Test
    void publish() throws IOException {
        Frames.Frame f = read("publish", Frames.PUBLISH);
        assertEquals(7, f.u64());
        assertEquals("persistent://public/default/dlq", f.str());
        assertEquals("customer-1", f.str());
        assertEquals(Map.of("error", "oversize"), f.strMap());
        assertArrayEquals("{\"id\":1}".getBytes(StandardCharsets.UTF_8), f.bytes());
        end(f);
    }

    @Test
    void metricAndHeartbeat() throws IOException {
        Frames.Frame f = read("metric", Frames.METRIC);
        assertEquals("_kinesis_total_success_", f.str());
        assertEquals(1.5, f.f64());
        end(f);
        end(read("heartbeat", Frames.HEARTBEAT));
    }

    // ---- helpers ----

    private static void golden(String name, Frames.Builder b) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        b.writeFrame(out);
        byte[] got = out.toByteArray();
        Path file = DIR.resolve(name + ".frame");
        if (UPDATE) {
            Files.createDirectories(DIR);
            Files.write(file, got);
            return;
        }
        byte[] want = Files.readAllBytes(file);
        assertEquals(HexFormat.of().formatHex(want), HexFormat.of().formatHex(got), name + ": the frame differs from " + file);
    }

    private static Frames.Frame read(String name, byte type) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(Files.readAllBytes(DIR.resolve(name + ".frame"))));
        Frames.Frame f = Frames.Frame.read(in);
        assertEquals(type, f.type, name + ": frame type");
        assertNull(Frames.Frame.read(in), name + ": bytes after the frame");
        return f;
    }

    private static void end(Frames.Frame f) {
        assertEquals(0, f.remaining(), "bytes left in the frame's body");
    }
}
