package io.github.pulsarkinesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.pulsar.io.core.SinkContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KinesisGoSink against a child that misbehaves (FakeChild, run in place of kinesis-sink): it must never
 * hang the instance, leave the child running, or wait on Pulsar in its results reader.
 */
class KinesisGoSinkTest {
    @TempDir
    Path tmp;

    private final CompletableFuture<Throwable> fatal = new CompletableFuture<>();
    private final AtomicInteger clientCalls = new AtomicInteger();
    private Path report;

    /**
     * The sink, running FakeChild with scenario instead of the NAR's binary. The stand-in is a script whose
     * shebang line runs java itself: the sink unlinks its binary as soon as the child has started, and a
     * script that its interpreter opened by name only then would be gone before it was read.
     */
    private KinesisGoSink sink(String scenario) {
        report = tmp.resolve("report.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = Path.of("target", "test-classes").toAbsolutePath() + ":" + Path.of("target", "classes").toAbsolutePath();
        String shebang = "#!/usr/bin/env -S " + java + " -cp " + cp + " " + FakeChild.class.getName() + " " + scenario + " " + report;
        assertTrue(shebang.length() < 250, "the stand-in's shebang line is too long for the kernel: " + shebang);
        return new KinesisGoSink() {
            @Override
            Path extractBinary() throws IOException {
                Path p = Files.createTempFile(tmp, "kinesis-sink-", "");
                Files.writeString(p, shebang + "\n");
                assertTrue(p.toFile().setExecutable(true, true));
                return p;
            }
        };
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
                    case "getPulsarClient" -> {
                        clientCalls.incrementAndGet();
                        throw new IllegalStateException("the client is closed");
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
        KinesisGoSink s = sink("hang-before-ready");
        s.openTimeoutMs = 1_000;
        Exception e = assertThrows(IllegalStateException.class, () -> s.open(Map.of(), context()));
        assertEquals("kinesis-sink did not open within 1 s", e.getMessage());
        assertTrue(Files.readString(report).startsWith("hello version " + Frames.VERSION));
        s.close();
    }

    @Test
    void crashMidFrame() throws Exception {
        KinesisGoSink s = sink("crash-mid-frame");
        s.open(Map.of(), context());
        Throwable t = fatal.get(20, TimeUnit.SECONDS);
        // Its exit code and the frame it broke off: what an operator needs in the instance's log.
        assertTrue(t.getMessage().matches("kinesis-sink \\(pid \\d+\\) exited with code 1 \\(java.io.EOFException\\)"), t.getMessage());
        s.close();
    }

    @Test
    void hungAfterReady() throws Exception {
        KinesisGoSink s = sink("hang-after-ready");
        s.silenceLimitMs = 1_500;
        s.open(Map.of(), context());
        Throwable t = fatal.get(20, TimeUnit.SECONDS);
        assertTrue(t.getMessage().contains("sent nothing for") && t.getMessage().contains("stopped or hung"), t.getMessage());
        s.close();
    }

    @Test
    void stderrFlood() throws Exception {
        KinesisGoSink s = sink("stderr-flood");
        s.open(Map.of(), context());
        long t0 = System.nanoTime();
        s.close();
        assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) < 15, "close took too long");
        assertFalse(fatal.isDone(), () -> "fatal: " + fatal.join());
    }

    @Test
    void deadLetterProducerFails() throws Exception {
        KinesisGoSink s = sink("dead-letter");
        s.open(Map.of(), context());
        waitFor("two PUBLISHED answers", () -> {
            try {
                return Files.readString(report).contains("published 2");
            } catch (IOException e) {
                return false;
            }
        });
        String got = Files.readString(report);
        assertTrue(got.contains("published 1: java.lang.IllegalStateException: the client is closed")
                && got.contains("published 2: java.lang.IllegalStateException: the client is closed"), got);
        // The failed creation is remembered: the second dead letter is answered without asking again.
        assertEquals(1, clientCalls.get());
        assertFalse(fatal.isDone(), () -> "fatal: " + fatal.join());
        s.close();
    }
}
