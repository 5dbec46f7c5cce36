// Drives the NAR's KinesisGoSink against a fake child
// (testdata/nar_fakechild, put ahead of the NAR on the class path as the
// binary the class extracts) to check that its results reader neither
// blocks nor dies quietly, and that a silent child is noticed. The Pulsar
// context is a stand-in (dynamic proxies). Run in source-file mode:
//
//   FAKE_CHILD_MODE=MODE java -cp "FAKEDIR:NAR:$PULSAR_HOME/lib/*" nar_robust.java MODE
//
// publish: four records whose dead letters go to a topic whose producer
//   cannot be created (three) and to one whose creation never ends (one);
//   prints "RESULT acked N" (N of 4 within 10 s) and "RESULT creates TOPIC K".
// metric:  recordMetric throws an Error; prints "RESULT fatal MESSAGE" and
//   then "RESULT threw EXCEPTION" or "RESULT hung" for the next write.
// silent:  the child never speaks after READY; prints "RESULT fatal MS
//   MESSAGE" (ms after open) and "RESULT fail r" for the record it held.

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import io.github.pulsarkinesis.KinesisGoSink;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.ProducerBuilder;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.PulsarClientException;
import org.apache.pulsar.client.api.schema.GenericObject;
import org.apache.pulsar.functions.api.Record;
import org.apache.pulsar.io.core.SinkContext;

public class NarRobust {
    static final CountDownLatch fatal = new CountDownLatch(1);
    static volatile String fatalMessage;
    static final Map<String, AtomicInteger> creates = new ConcurrentHashMap<>();

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        ProducerBuilder<?>[] builder = new ProducerBuilder<?>[1];
        String[] topic = new String[1];
        builder[0] = proxy(ProducerBuilder.class, m -> switch (m) {
            case "createAsync" -> {
                creates.computeIfAbsent(topic[0], t -> new AtomicInteger()).incrementAndGet();
                yield topic[0].equals("dlt-hang") ? new CompletableFuture<>()
                        : CompletableFuture.failedFuture(new PulsarClientException.TopicDoesNotExistException("topic " + topic[0] + " does not exist"));
            }
            default -> null;
        }, (m, a) -> {
            if (m.equals("topic")) {
                topic[0] = (String) a[0];
            }
        }, true);
        PulsarClient client = proxy(PulsarClient.class, m -> m.equals("newProducer") ? builder[0] : null, null, false);
        SinkContext ctx = proxy(SinkContext.class, m -> switch (m) {
            case "getTenant" -> "public";
            case "getNamespace" -> "default";
            case "getSinkName" -> "nar-robust";
            case "getPulsarClient" -> client;
            default -> null;
        }, (m, a) -> {
            if (m.equals("fatal")) {
                fatalMessage = ((Throwable) a[0]).getMessage();
                fatal.countDown();
            }
            if (m.equals("recordMetric") && mode.equals("metric")) {
                throw new OutOfMemoryError("test: recordMetric threw an Error");
            }
        }, false);
        KinesisGoSink sink = new KinesisGoSink();
        sink.open(Map.of("awsKinesisStreamName", "unused"), ctx);
        long opened = System.nanoTime();
        switch (mode) {
            case "publish" -> {
                CountDownLatch acked = new CountDownLatch(4);
                for (String key : new String[] {"dlt-missing", "dlt-hang", "dlt-missing", "dlt-missing"}) {
                    sink.write(record(key, (m) -> {
                        if (m.equals("ack")) {
                            acked.countDown();
                        }
                    }));
                }
                acked.await(10, TimeUnit.SECONDS);
                System.out.println("RESULT acked " + (4 - acked.getCount()));
                Thread.sleep(1_000); // the child's PUBLISHED lines reach the log
                creates.forEach((t, n) -> System.out.println("RESULT creates " + t + " " + n));
            }
            case "metric" -> {
                sink.write(record("a", m -> {}));
                if (fatal.await(10, TimeUnit.SECONDS)) {
                    System.out.println("RESULT fatal " + fatalMessage);
                }
                Thread w = new Thread(() -> {
                    try {
                        sink.write(record("b", m -> {}));
                        System.out.println("RESULT wrote b");
                    } catch (Exception e) {
                        System.out.println("RESULT threw " + e);
                    }
                });
                w.start();
                w.join(15_000);
                if (w.isAlive()) {
                    System.out.println("RESULT hung");
                }
            }
            case "silent" -> {
                sink.write(record("r", m -> {
                    if (m.equals("fail") || m.equals("ack")) {
                        System.out.println("RESULT " + m + " r");
                    }
                }));
                if (fatal.await(60, TimeUnit.SECONDS)) {
                    System.out.println("RESULT fatal " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened) + " " + fatalMessage);
                }
            }
            default -> throw new IllegalArgumentException(mode);
        }
        sink.close();
        System.out.flush();
        System.exit(0);
    }

    interface Calls {
        void call(String method, Object[] args);
    }

    static Record<GenericObject> record(String key, java.util.function.Consumer<String> results) {
        MessageId mid = proxy(MessageId.class, m -> m.equals("toString") ? "1:2:-1" : null, null, false);
        Message<GenericObject> msg = proxy(Message.class, m -> switch (m) {
            case "getData" -> (key + " payload").getBytes(StandardCharsets.UTF_8);
            case "getTopicName" -> "persistent://public/default/nar-robust";
            case "hasKey" -> true;
            case "getKey" -> key;
            case "getMessageId" -> mid;
            default -> null;
        }, null, false);
        return proxy(Record.class, m -> m.equals("getMessage") ? Optional.of(msg) : null, (m, a) -> results.accept(m), false);
    }

    /** A T whose methods answer from answers (null: the type's zero, or itself with fluent), and report calls. */
    @SuppressWarnings("unchecked")
    static <T> T proxy(Class<?> type, Function<String, Object> answers, Calls calls, boolean fluent) {
        InvocationHandler h = (self, m, a) -> {
            if (calls != null) {
                calls.call(m.getName(), a);
            }
            Object v = answers.apply(m.getName());
            if (v != null) {
                return v;
            }
            if (m.getName().equals("hashCode")) {
                return System.identityHashCode(self);
            }
            if (m.getName().equals("equals")) {
                return self == a[0];
            }
            Class<?> r = m.getReturnType();
            if (fluent && r.isInstance(self)) {
                return self;
            } else if (r == boolean.class) {
                return false;
            } else if (r == int.class) {
                return 0;
            } else if (r == long.class) {
                return 0L;
            } else if (r == double.class) {
                return 0.0;
            } else if (r == Optional.class) {
                return Optional.empty();
            } else if (r == Map.class) {
                return Map.of();
            }
            return null;
        };
        return (T) Proxy.newProxyInstance(NarRobust.class.getClassLoader(), new Class<?>[] {type}, h);
    }
}
