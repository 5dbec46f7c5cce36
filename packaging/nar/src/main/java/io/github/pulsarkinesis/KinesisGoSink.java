package io.github.pulsarkinesis;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.common.api.EncryptionContext;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.TypedMessageBuilder;
import org.apache.pulsar.client.api.schema.GenericObject;
import org.apache.pulsar.common.schema.SchemaInfo;
import org.apache.pulsar.common.schema.SchemaType;
import org.apache.pulsar.functions.api.Record;
import org.apache.pulsar.io.core.Sink;
import org.apache.pulsar.io.core.SinkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Pulsar IO sink whose engine is the Go kinesis-sink, run as a child
 * process (as Pulsar's Java Kinesis sink runs the KPL's native daemon). This
 * class only moves records: each one goes to the child with its schema and
 * raw payload, and is acked or failed when the child says Kinesis took it
 * or the configured failurePolicy handled it. Encoding, routing, batching,
 * rate limiting and retries are the child's, the same code as the Go
 * function. The protocol is docs/sidecar-protocol.md in the repository.
 */
public class KinesisGoSink implements Sink<GenericObject> {
    private static final Logger LOG = LoggerFactory.getLogger(KinesisGoSink.class);

    /** Keys read through SinkContext.getSecret, as the Java Kinesis sink reads its sensitive ones. */
    private static final String[] SECRET_KEYS = {"awsCredentialPluginParam"};

    private static final long OPEN_TIMEOUT_MS = 120_000;
    /**
     * How long close lets the child flush: not at all. Pulsar's Java instance
     * closes the source (its consumers) before the sink, so no ack sent from
     * close on reaches Pulsar: a record the child wrote now would be
     * redelivered and written again. CLOSE with 0 ends the child's work at
     * once; what it had not resolved is failed here and redelivered.
     */
    private static final long CLOSE_FLUSH_MS = 0;
    /** How long close waits for CLOSED: the child ends its requests in flight and sends its last frames. */
    private static final long CLOSE_WAIT_MS = 10_000;
    /**
     * The child sends HEARTBEAT every 5 s once open; this long without any
     * frame from it (stopped, hung, or its output blocked) fails the
     * instance. The watchdog looks once a second, so the bound is 31 s.
     */
    static final long SILENCE_LIMIT_MS = 30_000;
    /** How long a dead-letter producer that could not be created is reported as such before it is tried again. */
    private static final long PRODUCER_RETRY_MS = 30_000;
    private static final long DEFAULT_MAX_BUFFERED_BYTES = 64L << 20;

    /** OPEN_TIMEOUT_MS and SILENCE_LIMIT_MS, shorter in tests. */
    long openTimeoutMs = OPEN_TIMEOUT_MS;
    long silenceLimitMs = SILENCE_LIMIT_MS;

    private SinkContext ctx;
    private Path binary;
    private Process child;
    private OutputStream out;
    private DataInputStream in;
    private final Object outLock = new Object();
    private boolean dirty; // guarded by outLock: written and not flushed
    private Thread flusher;
    private Thread reader;
    private Thread logCopier;
    private Thread watchdog;
    /** Sends PUBLISHED answers, so that the results reader never writes to the child's stdin. */
    private ExecutorService answers;
    private volatile long lastHeard = System.nanoTime();

    /** An unresolved record and the bytes it holds in the window. */
    private record Pending(Record<GenericObject> record, long bytes) {}

    private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong seq = new AtomicLong();
    private Window window;
    private final Map<String, Integer> schemaIds = new HashMap<>(); // used by write's thread only
    private final CompletableFuture<String> opened = new CompletableFuture<>();
    private final CompletableFuture<String> closed = new CompletableFuture<>();
    /** Dead-letter producers by topic, created asynchronously; a failed creation stays here PRODUCER_RETRY_MS. */
    private record DeadLetterProducer(CompletableFuture<Producer<byte[]>> producer, long since) {}

    private final Map<String, DeadLetterProducer> producers = new ConcurrentHashMap<>();
    private volatile Throwable fatal;
    private volatile boolean closing;
    private final AtomicBoolean unreadableLogged = new AtomicBoolean();

    @Override
    public void open(Map<String, Object> config, SinkContext sinkContext) throws Exception {
        this.ctx = sinkContext;
        Map<String, String> secrets = new LinkedHashMap<>();
        for (String k : SECRET_KEYS) {
            String v = sinkContext.getSecret(k);
            if (v != null) {
                secrets.put(k, v);
            }
        }
        window = new Window(windowSize(config), windowBytes(config));
        Object metricsAddr = config == null ? null : config.get("sidecarMetricsAddress");
        String metrics = metricsAddr == null || metricsAddr.toString().isBlank() ? null
                : metricsAddress(metricsAddr.toString().trim(), sinkContext.getInstanceId());
        Path tmpDir = tempDirectory(config);
        binary = extractBinary(tmpDir);
        java.util.List<String> cmd = new ArrayList<>(java.util.List.of(binary.toString(), "sidecar"));
        if (metrics != null) {
            cmd.add("-metrics-addr");
            cmd.add(metrics);
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.PIPE);
        // No shutdown hook ends the child: the instance's own hook closes the
        // sink (CLOSE, a clean flush), and a JVM that dies closes the child's
        // stdin, on which it exits.
        try {
            child = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot run kinesis-sink from " + tmpDir + " (" + e.getMessage()
                    + "): a noexec mount? Set extraKinesisProducerConfig.tempDirectory to a directory it may run from", e);
        } finally {
            // The running child keeps its inode; unlinked now, the copy is
            // gone on every exit path, a SIGKILLed JVM's included, and a
            // restart in the same JVM (the thread runtime) adds none.
            deleteBinary();
        }
        try {
            start(config, sinkContext, secrets);
        } catch (Throwable t) {
            closing = true;
            stopChild();
            throw t;
        }
    }

    private void start(Map<String, Object> config, SinkContext sinkContext, Map<String, String> secrets) throws Exception {
        out = new BufferedOutputStream(child.getOutputStream(), 1 << 16);
        in = new DataInputStream(new BufferedInputStream(child.getInputStream(), 1 << 16));
        answers = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kinesis-sink-answers");
            t.setDaemon(true);
            return t;
        });
        logCopier = startDaemon("kinesis-sink-log", this::copyLog);
        reader = startDaemon("kinesis-sink-results", this::readResults);
        flusher = startDaemon("kinesis-sink-flush", this::flushLoop);
        watchdog = startDaemon("kinesis-sink-watchdog", this::watch);

        send(Frames.hello(Json.write(config == null ? Map.of() : config), secrets, sinkContext.getTenant(),
                sinkContext.getNamespace(), sinkContext.getSinkName(), sinkContext.getInstanceId(),
                sinkContext.getNumInstances(), window.maxRecords(), window.maxBytes()), true);
        String failure;
        try {
            failure = opened.get(openTimeoutMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            closing = true;
            stopChild();
            throw new IllegalStateException("kinesis-sink did not open within " + openTimeoutMs / 1000 + " s");
        }
        if (failure != null) {
            closing = true;
            stopChild();
            // The child's last lines say what was wrong: let them reach the
            // instance's log before the instance ends.
            logCopier.join(2_000);
            LOG.error("kinesis-sink did not open: {}", failure);
            throw new IllegalArgumentException(failure);
        }
        LOG.info("kinesis-sink {} open (pid {}); at most {} records, {} bytes unresolved", binary, child.pid(),
                window.maxRecords(), window.maxBytes());
    }

    @Override
    public void write(Record<GenericObject> record) throws Exception {
        checkFatal();
        Message<GenericObject> msg = record.getMessage().orElse(null);
        if (msg == null) {
            // Only records read from Pulsar have a raw payload to forward.
            record.fail();
            throw new IllegalStateException("record without a Pulsar message; kinesis-go sinks read Pulsar topics only");
        }
        // The frame is built before the window is taken, since its size is
        // what the window counts; its sequence is filled in after.
        Frames.Builder frame;
        try {
            frame = recordFrame(Frames.RECORD, schemaId(msg, record), msg, false).finish();
        } catch (RuntimeException e) {
            // Thrown from here, the exception would fail the instance and
            // the worker would restart it into the same message, for ever:
            // what cannot be read now cannot be read after a restart. The
            // record goes to the child's failure policy instead, as one
            // Kinesis refuses does, and comes back as ACK or FAIL.
            String why = oneLine(e);
            if (unreadableLogged.compareAndSet(false, true)) {
                LOG.warn("a record could not be read; it goes to the failure policy (the child logs each one): {}", why, e);
            } else {
                LOG.debug("a record could not be read", e);
            }
            frame = recordFrame(Frames.UNREADABLE, 0, msg, true).str(why).finish();
        }
        long bytes = frame.length();
        while (!window.tryAcquire(bytes, 100)) {
            checkFatal();
        }
        long s = seq.incrementAndGet();
        frame.putU64(SEQ_OFFSET, s);
        // Only the Record is kept until ACK or FAIL: the frame (and the
        // payload copy getData() made for it) is garbage once written. The
        // Record's message still holds its own payload until it is acked,
        // which is why the window counts bytes.
        pending.put(s, new Pending(record, bytes));
        try {
            send(frame, false);
        } catch (IOException e) {
            // The child is gone; the reader fails every pending record.
            checkFatal();
            throw e;
        }
    }

    @Override
    public void close() throws Exception {
        if (child == null) {
            return;
        }
        closing = true;
        if (child.isAlive() && fatal == null) {
            try {
                send(Frames.close(CLOSE_FLUSH_MS), true);
                String err = closed.get(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
                if (err != null && err.contains("still unresolved")) {
                    // Expected when records were in flight: they fail below and Pulsar redelivers them.
                    LOG.info("kinesis-sink closed without a flush: {}", err);
                } else if (err != null && !err.isEmpty()) {
                    LOG.warn("kinesis-sink closed with an error: {}", err);
                }
            } catch (Exception e) {
                LOG.warn("kinesis-sink did not close cleanly: {}", e.toString());
            }
        }
        // open failed (and ended it), it died, or it closed: nothing more to flush.
        stopChild();
        failPending("the sink closed before kinesis-sink resolved the record");
        LOG.info("kinesis-sink window: {}", window.describe());
    }

    /** Ends the child and everything of this instance's: every exit path comes here, so a restart leaks nothing. */
    private void stopChild() throws InterruptedException {
        child.destroy();
        if (!child.waitFor(5, TimeUnit.SECONDS)) {
            child.destroyForcibly();
            child.waitFor(5, TimeUnit.SECONDS);
        }
        deleteBinary();
        // The child's last lines say why it ended (a failOnError's reason,
        // say): with the child gone its stderr ends, so this is short.
        if (logCopier != null && Thread.currentThread() != logCopier) {
            logCopier.join(2_000);
        }
        for (Thread t : new Thread[] {flusher, watchdog}) {
            if (t != null) {
                t.interrupt();
            }
        }
        if (answers != null) {
            answers.shutdown();
        }
        for (DeadLetterProducer p : producers.values()) {
            p.producer().thenAccept(Producer::closeAsync);
        }
    }

    private void deleteBinary() {
        try {
            Files.deleteIfExists(binary);
        } catch (IOException e) {
            LOG.debug("deleting {}: {}", binary, e.toString());
        }
    }

    private void checkFatal() throws Exception {
        Throwable t = fatal;
        if (t != null) {
            throw t instanceof Exception e ? e : new IllegalStateException(t);
        }
    }

    /**
     * A RECORD (or UNREADABLE) frame's fields for a message, unfinished. With
     * lenient, a field whose getter throws goes empty rather than failing the
     * frame: the failure policy gets what could be read (a dead letter keeps
     * the payload when only the schema could not be read).
     */
    static Frames.Builder recordFrame(byte type, int schemaId, Message<?> msg, boolean lenient) {
        // A null value (a tombstone, or KEY_VALUE's null value) has no data:
        // sent empty, which is what the Go client gives the function path
        // for it, so both write the same record.
        byte[] payload = read(msg::getData, null, lenient);
        String topic = read(msg::getTopicName, "", lenient);
        boolean hasKey = read(msg::hasKey, false, lenient);
        String key = hasKey ? read(msg::getKey, "", lenient) : "";
        Map<String, String> props = read(msg::getProperties, null, lenient);
        long eventTime = read(msg::getEventTime, 0L, lenient);
        long publishTime = read(msg::getPublishTime, 0L, lenient);
        IdParts id = read(() -> IdParts.of(msg.getMessageId()), IdParts.NONE, lenient);
        int redeliveries = read(msg::getRedeliveryCount, 0, lenient);
        byte[] version = read(msg::getSchemaVersion, null, lenient);
        Frames.Encryption enc = read(() -> encryption(msg), null, lenient);
        return Frames.record(type, schemaId, topic, hasKey, key, props, eventTime, publishTime, id, redeliveries,
                version, enc, payload);
    }

    /** The message's encryption context when its payload is still encrypted, else null. */
    static Frames.Encryption encryption(Message<?> msg) {
        EncryptionContext ec = msg.getEncryptionCtx().orElse(null);
        if (ec == null || ec.getKeys() == null || ec.getKeys().isEmpty()) {
            return null;
        }
        Map<String, Frames.Encryption.Key> keys = new LinkedHashMap<>();
        ec.getKeys().forEach((name, k) -> keys.put(name, new Frames.Encryption.Key(k.getKeyValue(), k.getMetadata())));
        return new Frames.Encryption(keys, ec.getParam(), ec.getAlgorithm(),
                ec.getCompressionType() == null ? "NONE" : ec.getCompressionType().name(), ec.getUncompressedMessageSize(),
                ec.getBatchSize().orElse(-1));
    }

    /** Where a RECORD's sequence is: after the length and the type. */
    static final int SEQ_OFFSET = 5;

    private static <T> T read(Supplier<T> getter, T empty, boolean lenient) {
        if (!lenient) {
            return getter.get();
        }
        try {
            return getter.get();
        } catch (RuntimeException e) {
            return empty;
        }
    }

    private static String oneLine(Throwable t) {
        return t.toString().replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }

    /** Maps a message's schema to the child's schema id, sending SCHEMA the first time; 0: raw bytes. */
    private int schemaId(Message<GenericObject> msg, Record<GenericObject> record) throws IOException {
        byte[] version = msg.getSchemaVersion();
        if (version == null || version.length == 0) {
            return 0;
        }
        SchemaInfo info = msg.getReaderSchema().map(Schema::getSchemaInfo).orElse(null);
        if (info == null && record.getSchema() != null) {
            info = record.getSchema().getSchemaInfo();
        }
        if (info == null || info.getType() == SchemaType.BYTES || info.getType() == SchemaType.NONE
                || info.getType() == SchemaType.AUTO_CONSUME) {
            return 0;
        }
        byte[] data = info.getSchema() == null ? new byte[0] : info.getSchema();
        String key = info.getType().name() + '\0' + info.getName() + '\0' + HexFormat.of().formatHex(version)
                + '\0' + java.util.Arrays.hashCode(data) + '\0' + info.getProperties();
        Integer id = schemaIds.get(key);
        if (id != null) {
            return id;
        }
        id = schemaIds.size() + 1;
        send(Frames.schema(id, info.getType().name(), info.getName(), data, info.getProperties(), version), false);
        schemaIds.put(key, id);
        return id;
    }

    /**
     * Ledger, entry, partition and batch index of a message id, from its text:
     * "ledger:entry:partition[:batch]" (what MessageIdImpl and
     * BatchMessageIdImpl print; a topic message id prints its inner one), or
     * for a chunked message its first and its last chunk's, "first;last". The
     * API jar has no accessor for them (MessageIdAdv lives in pulsar-common,
     * which a connector cannot count on); -1 for what is not there.
     *
     * A chunked message is named by its last chunk, the position it is acked
     * at: the Go client's id of a chunked message answers LedgerID and
     * EntryID with the last chunk's (and -1 for the batch index, which the
     * child prints for FLAG_CHUNKED), and both ways into the sink must name
     * a message alike.
     */
    record IdParts(long ledger, long entry, long partition, long batch, boolean chunked) {
        static final IdParts NONE = new IdParts(-1, -1, -1, -1, false);

        static IdParts of(MessageId id) {
            return id == null ? NONE : parse(id.toString());
        }

        /** From a message id's text: "ledger:entry:partition[:batch]", or "first;last" for a chunked one. */
        static IdParts parse(String text) {
            int last = text.lastIndexOf(';');
            String[] parts = text.substring(last + 1).split(":");
            long[] v = {-1, -1, -1, -1};
            for (int i = 0; i < Math.min(parts.length, 4); i++) {
                try {
                    v[i] = Long.parseLong(parts[i].trim());
                } catch (NumberFormatException e) {
                    return NONE;
                }
            }
            return new IdParts(v[0], v[1], v[2], v[3], last >= 0);
        }
    }

    /**
     * sidecarMetricsAddress for one instance: the configured port plus the instance id, so that the instances of
     * a sink that share a host each serve their own (127.0.0.1:9464 is instance 0's, 9465 instance 1's); port 0
     * (any free port) stays 0. Instance 0 passes any address on as written (the child names what is wrong with
     * it); another instance needs a numeric port it can add to, or it would collide with instance 0.
     */
    static String metricsAddress(String configured, int instanceId) {
        if (instanceId == 0) {
            return configured;
        }
        int colon = configured.lastIndexOf(':');
        int port = -1;
        try {
            port = colon < 0 ? -1 : Integer.parseInt(configured.substring(colon + 1));
        } catch (NumberFormatException e) {
            // reported below
        }
        if (port == 0) {
            return configured;
        }
        if (port < 1 || port + instanceId > 65535) {
            throw new IllegalArgumentException("sink config \"sidecarMetricsAddress\" " + configured + ": instance "
                    + instanceId + " serves at its port plus " + instanceId + ", which needs a numeric port of at most "
                    + (65535 - instanceId) + " (or 0 for any free port)");
        }
        return configured.substring(0, colon + 1) + (port + instanceId);
    }

    /** A number from the config, capped; def when absent or not a number (the child reports a bad key). */
    private static long configLong(Map<String, Object> config, String key, long def, long cap) {
        Object v = config == null ? null : config.get(key);
        long n = def;
        if (v instanceof Number num) {
            n = num.longValue();
        } else if (v != null) {
            try {
                n = Long.parseLong(v.toString().trim());
            } catch (NumberFormatException e) {
                // the child reports the key
            }
        }
        return Math.max(1, Math.min(n, cap));
    }

    // What the child buffers, and as much again on the way to it, so that
    // the child's queue has the next records ready as its buffer frees up.
    private static int windowSize(Map<String, Object> config) {
        return (int) configLong(config, "maxBufferedRecords", 10_000, 10_000_000L) * 2;
    }

    private static long windowBytes(Map<String, Object> config) {
        return configLong(config, "maxBufferedBytes", DEFAULT_MAX_BUFFERED_BYTES, 1L << 40) * 2;
    }

    /** Writes a finished frame (its buffer as it is: a record's payload is copied once, into the frame). */
    private void send(Frames.Builder frame, boolean flush) throws IOException {
        synchronized (outLock) {
            frame.writeFrame(out);
            if (flush) {
                out.flush();
                dirty = false;
            } else if (!dirty) {
                dirty = true;
                LockSupport.unpark(flusher);
            }
        }
    }

    /**
     * Flushes records to the child shortly after they are written, so that a
     * burst goes in one write rather than one per record; the child lingers
     * far longer than this before a request anyway.
     */
    private void flushLoop() {
        while (!Thread.currentThread().isInterrupted()) {
            boolean d;
            synchronized (outLock) {
                d = dirty;
            }
            if (!d) {
                LockSupport.park(this);
                continue;
            }
            LockSupport.parkNanos(200_000);
            synchronized (outLock) {
                try {
                    out.flush();
                } catch (IOException e) {
                    return; // the reader reports the child's end
                }
                dirty = false;
            }
        }
    }

    /**
     * Reads the child's frames. Nothing here may block on Pulsar (acks and
     * fails are asynchronous in the instance, dead letters are published
     * asynchronously) or on the child's stdin (PUBLISHED answers go from
     * another thread): a stalled reader stalls every ack, and the watchdog
     * would take it for a hung child.
     */
    private void readResults() {
        String why = null;
        try {
            for (Frames.Frame f; (f = Frames.Frame.read(in)) != null; ) {
                lastHeard = System.nanoTime();
                switch (f.type) {
                    case Frames.ACK -> {
                        Pending p = pending.remove(f.u64());
                        if (p != null) {
                            window.release(p.bytes());
                            p.record().ack();
                        }
                    }
                    case Frames.FAIL -> {
                        Pending p = pending.remove(f.u64());
                        if (p != null) {
                            window.release(p.bytes());
                            p.record().fail();
                        }
                    }
                    case Frames.HEARTBEAT -> {
                        // lastHeard is all it is for
                    }
                    case Frames.PUBLISH -> publish(f.u64(), f.str(), f.str(), f.strMap(), f.bytes());
                    case Frames.METRIC -> ctx.recordMetric(f.str(), f.f64());
                    case Frames.READY -> {
                        int v = f.u32();
                        opened.complete(v == Frames.VERSION ? null
                                : "kinesis-sink speaks sidecar protocol version " + v + "; this NAR speaks "
                                        + Frames.VERSION);
                    }
                    case Frames.OPEN_FAILED -> opened.complete(f.str());
                    case Frames.FATAL -> fail(new IllegalStateException(f.str()), false);
                    case Frames.CLOSED -> closed.complete(f.str());
                    default -> throw new IOException(String.format("frame type 0x%02x from kinesis-sink: unknown", f.type));
                }
            }
        } catch (Throwable e) {
            // Any Throwable, an Error too (an OutOfMemoryError on a frame,
            // say): a reader that died quietly would leave write() waiting
            // for a window that never frees while the instance reports
            // itself running. The child is ended and the instance failed.
            why = e.toString();
            if (!(e instanceof IOException)) {
                LOG.error("kinesis-sink results reader failed", e);
                if (!closing) {
                    fail(new IllegalStateException("the kinesis-sink results reader failed: " + oneLine(e), e));
                }
            }
        }
        // The child's output ended: it exited, or it broke the protocol.
        int code;
        try {
            child.waitFor(5, TimeUnit.SECONDS);
            code = child.isAlive() ? -1 : child.exitValue();
        } catch (InterruptedException e) {
            code = -1;
        }
        String msg = "kinesis-sink (pid " + child.pid() + ") " + (code == -1 ? "stopped answering" : "exited with code " + code)
                + (why == null ? "" : " (" + why + ")");
        opened.complete(msg);
        closed.complete(msg);
        if (!closing) {
            fail(new IllegalStateException(msg));
        }
    }

    /** Fails the instance: every pending record goes back to Pulsar, and the worker restarts the instance. */
    private void fail(Throwable t) {
        fail(t, true);
    }

    /**
     * kill false: the child said FATAL and exits by itself; killed at
     * once, its last log lines (the reason) were seen to go missing from
     * the instance's log. close() ends it if it does not.
     */
    private void fail(Throwable t, boolean kill) {
        synchronized (this) {
            if (fatal != null) {
                return;
            }
            fatal = t;
        }
        LOG.error("kinesis-sink failed: {}", t.getMessage());
        // Ended first (SIGKILL ends a stopped child too), so that no result
        // of it can race the records failed back below.
        if (kill && child.isAlive()) {
            child.destroyForcibly();
        }
        failPending(t.getMessage());
        try {
            ctx.fatal(t);
        } catch (LinkageError | RuntimeException e) {
            // An older worker without fatal(): the next write throws instead.
            LOG.debug("SinkContext.fatal: {}", e.toString());
        }
    }

    private void failPending(String why) {
        int n = 0;
        for (Long s : new ArrayList<>(pending.keySet())) {
            Pending p = pending.remove(s);
            if (p != null) {
                n++;
                window.release(p.bytes());
                try {
                    p.record().fail();
                } catch (RuntimeException e) {
                    LOG.debug("failing a record: {}", e.toString());
                }
            }
        }
        if (n > 0) {
            LOG.warn("{} records failed back to Pulsar for redelivery: {}", n, why);
        }
    }

    /**
     * The child's dead-letter policy: publish through the instance's client
     * and answer PUBLISHED. Called on the results reader, so nothing here
     * waits: the producer is created asynchronously, a failed creation is
     * answered at once as the error for PRODUCER_RETRY_MS (a missing topic
     * would otherwise hold every ack behind it for the client's operation
     * timeout, again for each dead letter), and a full producer queue fails
     * the send rather than blocking.
     */
    private void publish(long id, String topic, String key, Map<String, String> props, byte[] payload) {
        CompletableFuture<?> f;
        try {
            f = producer(topic).thenCompose(p -> {
                TypedMessageBuilder<byte[]> b = p.newMessage().value(payload).properties(props);
                if (!key.isEmpty()) {
                    b = b.key(key);
                }
                return b.sendAsync();
            });
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenCompleteAsync((ok, err) -> {
            try {
                send(Frames.published(id, err == null ? "" : oneLine(unwrap(err))), true);
            } catch (IOException e) {
                LOG.debug("answering a publish: {}", e.toString());
            }
        }, answers);
    }

    private CompletableFuture<Producer<byte[]>> producer(String topic) {
        long now = System.nanoTime();
        DeadLetterProducer d = producers.compute(topic, (t, old) -> {
            if (old != null && !(old.producer().isCompletedExceptionally()
                    && now - old.since() > TimeUnit.MILLISECONDS.toNanos(PRODUCER_RETRY_MS))) {
                return old;
            }
            CompletableFuture<Producer<byte[]>> f;
            try {
                f = ctx.getPulsarClient().newProducer(Schema.BYTES).topic(t).blockIfQueueFull(false).createAsync();
            } catch (Exception e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.whenComplete((p, err) -> {
                if (err != null) {
                    LOG.warn("dead-letter producer for {} could not be created (dead letters to it fail for {} s): {}", t,
                            PRODUCER_RETRY_MS / 1000, oneLine(unwrap(err)));
                }
            });
            return new DeadLetterProducer(f, now);
        });
        return d.producer();
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /**
     * Fails the instance when the child has sent nothing for
     * SILENCE_LIMIT_MS once open: it heartbeats every 5 s, so silence means
     * it is stopped (SIGSTOP), hung, or cannot write; a child that is not
     * watched would hold the instance "running" with nothing moving.
     */
    private void watch() {
        for (long tick = 1; !Thread.currentThread().isInterrupted(); tick++) {
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                return;
            }
            if (tick % 10 == 0) {
                // What the window reached, when it rose: the worker may end
                // the instance's process without close() ever logging.
                String w = window.describeIfRisen();
                if (w != null) {
                    LOG.info("kinesis-sink window: {}", w);
                }
            }
            if (!opened.isDone() || closing || fatal != null) {
                lastHeard = System.nanoTime();
                continue;
            }
            long silent = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastHeard);
            if (silent > silenceLimitMs) {
                fail(new IllegalStateException("kinesis-sink (pid " + child.pid() + ") sent nothing for " + silent / 1000
                        + " s (it heartbeats every 5 s): stopped or hung; ending it"));
                return;
            }
        }
    }

    /** Copies the child's log lines into the instance's log. */
    private void copyLog() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getErrorStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.contains("level=ERROR")) {
                    LOG.error("[kinesis-sink] {}", line);
                } else if (line.contains("level=WARN")) {
                    LOG.warn("[kinesis-sink] {}", line);
                } else if (line.contains("level=DEBUG")) {
                    LOG.debug("[kinesis-sink] {}", line);
                } else {
                    LOG.info("[kinesis-sink] {}", line);
                }
            }
        } catch (IOException e) {
            LOG.debug("kinesis-sink log: {}", e.toString());
        }
    }

    private static Thread startDaemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Where the child's binary is copied to run: the KPL's tempDirectory (extraKinesisProducerConfig), where the
     * Java sink's KPL puts its native daemon for the same reason, else java.io.tmpdir. A /tmp mounted noexec is
     * the case for setting it.
     */
    private static final java.util.regex.Pattern TEMP_DIRECTORY =
            java.util.regex.Pattern.compile("\"(?i:tempDirectory)\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    static Path tempDirectory(Map<String, Object> config) {
        Object extra = config == null ? null : config.get("extraKinesisProducerConfig");
        String dir = null;
        if (extra instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (String.valueOf(e.getKey()).equalsIgnoreCase("tempDirectory") && e.getValue() != null) {
                    dir = e.getValue().toString();
                }
            }
        } else if (extra instanceof String json) {
            // The map may come as a JSON object in a string, as the child reads it too.
            java.util.regex.Matcher mt = TEMP_DIRECTORY.matcher(json);
            if (mt.find()) {
                dir = mt.group(1).replaceAll("\\\\(.)", "$1");
            }
        }
        if (dir == null || dir.isBlank()) {
            return Path.of(System.getProperty("java.io.tmpdir"));
        }
        return Path.of(dir.trim());
    }

    /**
     * The binary to run as the child: this machine's kinesis-sink, copied out of the NAR into dir (its files lose
     * their mode on extraction; tests run a stand-in).
     */
    Path extractBinary(Path dir) throws IOException {
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "");
        String platform = switch (arch) {
            case "amd64", "x86_64" -> "linux-amd64";
            case "aarch64", "arm64" -> "linux-arm64";
            default -> null;
        };
        if (!os.startsWith("Linux") || platform == null) {
            throw new IllegalStateException("the kinesis-go NAR carries kinesis-sink for linux/amd64 and linux/arm64; this is "
                    + os + "/" + arch);
        }
        String res = "/kinesis-sink/" + platform + "/kinesis-sink";
        try (InputStream is = KinesisGoSink.class.getResourceAsStream(res)) {
            if (is == null) {
                throw new IllegalStateException("the NAR has no " + res);
            }
            Files.createDirectories(dir);
            Path p = Files.createTempFile(dir, "kinesis-sink-", "");
            Files.copy(is, p, StandardCopyOption.REPLACE_EXISTING);
            if (!p.toFile().setExecutable(true, true)) {
                throw new IOException("cannot make " + p + " executable");
            }
            p.toFile().deleteOnExit();
            return p;
        }
    }
}
