package io.github.pulsarkinesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.pulsar.io.core.SinkContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KinesisGoSink against a child that misbehaves: sink/testdata/nar_fakechild, the stand-in the end-to-end
 * tests also run (make test-nar-java builds it; -Dfake.child names it), in place of kinesis-sink. It must never
 * hang the instance or leave the child running. (Dead letters against a real Pulsar client: the end-to-end
 * TestNARSinkReaderRobust.)
 */
class KinesisGoSinkTest {
    @TempDir
    Path tmp;

    private final CompletableFuture<Throwable> fatal = new CompletableFuture<>();

    /** The sink, running the fake child instead of the NAR's binary. */
    private KinesisGoSink sink() {
        Path fake = Path.of(System.getProperty("fake.child", "target/nar_fakechild"));
        assertTrue(Files.isExecutable(fake), fake + " is not built: run make test-nar-java");
        return new KinesisGoSink() {
            @Override
            Path extractBinary(Path dir) throws IOException {
                Path p = Files.createTempFile(tmp, "kinesis-sink-", "");
                Files.copy(fake, p, StandardCopyOption.REPLACE_EXISTING);
                assertTrue(p.toFile().setExecutable(true, true));
                return p;
            }
        };
    }

    private static Map<String, Object> mode(String mode) {
        return Map.of("fakeChildMode", mode);
    }

    private SinkContext context() {
        return (SinkContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {SinkContext.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "getTenant" -> "public";
                    case "getNamespace" -> "default";
                    case "getSinkName" -> "unit";
                    case "getInstanceId" -> 0;
                    case "getNumInstances" -> 1;
                    case "getSecret", "recordMetric" -> null;
                    case "fatal" -> {
                        fatal.complete((Throwable) args[0]);
                        yield null;
                    }
                    case "toString" -> "test context";
                    case "hashCode" -> 0;
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    @AfterEach
    void noChildLeft() throws InterruptedException {
        // Every path ends the child: none may outlive the test.
        waitFor("the child to end", () -> ProcessHandle.current().descendants().noneMatch(ProcessHandle::isAlive));
    }

    private static void waitFor(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited 20 s for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void hungBeforeReady() throws Exception {
        KinesisGoSink s = sink();
        s.openTimeoutMs = 1_000;
        Exception e = assertThrows(IllegalStateException.class, () -> s.open(mode("mute"), context()));
        assertEquals("kinesis-sink did not open within 1 s", e.getMessage());
        s.close();
    }

    @Test
    void crashMidFrame() throws Exception {
        KinesisGoSink s = sink();
        s.open(mode("crash"), context());
        Throwable t = fatal.get(20, TimeUnit.SECONDS);
        // Its exit code and the frame it broke off: what an operator needs in the instance's log.
        assertTrue(t.getMessage().matches("kinesis-sink \\(pid \\d+\\) exited with code 1 \\(java.io.EOFException\\)"), t.getMessage());
        s.close();
    }

    @Test
    void hungAfterReady() throws Exception {
        KinesisGoSink s = sink();
        s.silenceLimitMs = 1_500;
        s.open(mode("silent"), context());
        Throwable t = fatal.get(20, TimeUnit.SECONDS);
        assertTrue(t.getMessage().contains("sent nothing for") && t.getMessage().contains("stopped or hung"), t.getMessage());
        s.close();
    }

    @Test
    void stderrFlood() throws Exception {
        KinesisGoSink s = sink();
        s.open(mode("flood"), context());
        long t0 = System.nanoTime();
        s.close();
        assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) < 15, "close took too long");
        assertFalse(fatal.isDone(), () -> "fatal: " + fatal.join());
    }

    @Test
    void metricsAddressPerInstance() {
        assertEquals("127.0.0.1:9464", KinesisGoSink.metricsAddress("127.0.0.1:9464", 0));
        assertEquals("127.0.0.1:9466", KinesisGoSink.metricsAddress("127.0.0.1:9464", 2));
        assertEquals("[::1]:9465", KinesisGoSink.metricsAddress("[::1]:9464", 1));
        assertEquals(":9467", KinesisGoSink.metricsAddress(":9464", 3));
        assertEquals("127.0.0.1:0", KinesisGoSink.metricsAddress("127.0.0.1:0", 5));
        assertEquals("localhost:http", KinesisGoSink.metricsAddress("localhost:http", 0));
        // Another instance cannot add to such a port: it would collide with instance 0.
        for (String bad : new String[] {"localhost:http", "127.0.0.1:65535", "h:-1", "nocolon"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KinesisGoSink.metricsAddress(bad, 1));
            assertTrue(e.getMessage().startsWith("sink config \"sidecarMetricsAddress\" " + bad + ": instance 1"), e.getMessage());
        }
    }

    @Test
    void tempDirectory() {
        assertEquals(Path.of(System.getProperty("java.io.tmpdir")), KinesisGoSink.tempDirectory(Map.of()));
        assertEquals(Path.of("/var/lib/pulsar/tmp"),
                KinesisGoSink.tempDirectory(Map.of("extraKinesisProducerConfig", Map.of("TempDirectory", " /var/lib/pulsar/tmp "))));
        assertEquals(Path.of("/srv/kpl"), KinesisGoSink.tempDirectory(Map.of("extraKinesisProducerConfig", Map.of("tempDirectory", "/srv/kpl"))));
        assertEquals(Path.of("/srv/k\"pl"), KinesisGoSink.tempDirectory(
                Map.of("extraKinesisProducerConfig", "{\"RecordTtl\": \"30000\", \"TempDirectory\" : \"/srv/k\\\"pl\"}")));
        assertEquals(Path.of(System.getProperty("java.io.tmpdir")),
                KinesisGoSink.tempDirectory(Map.of("extraKinesisProducerConfig", Map.of("tempDirectory", " "))));
    }
}
