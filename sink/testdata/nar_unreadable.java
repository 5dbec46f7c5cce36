// Drives the NAR's KinesisGoSink, and through it the real kinesis-sink
// child, with records the worker cannot be made to deliver on purpose: one
// whose reader schema cannot be fetched, which is what write() meets when
// the schema registry fails. Also a null value (getData() == null) and a
// chunked message's id. The Pulsar context is a stand-in (dynamic
// proxies); the dead-letter policy publishes through a real client. Run in
// source-file mode with the NAR on the class path:
//
//   java -cp "NAR:$PULSAR_HOME/lib/*" nar_unreadable.java SERVICE_URL TOPIC CONFIG_JSON
//
// It writes good-1, bad, tombstone, chunked, good-2 to one sink (only
// good-1 and bad under failOnError, which ends the sink), waits until each
// is acked or failed (or the sink failed, under failOnError), closes the
// sink and prints one line per outcome: "RESULT ack NAME", "RESULT fail
// NAME", "RESULT threw NAME EXCEPTION", "RESULT fatal MESSAGE". Exit 1 if
// not everything resolved within 60 s.

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import io.github.pulsarkinesis.KinesisGoSink;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.SchemaSerializationException;
import org.apache.pulsar.client.api.schema.GenericObject;
import org.apache.pulsar.functions.api.Record;
import org.apache.pulsar.io.core.SinkContext;

public class NarUnreadable {
    static final CountDownLatch fatal = new CountDownLatch(1);

    public static void main(String[] args) throws Exception {
        String url = args[0], topic = args[1];
        @SuppressWarnings("unchecked")
        Map<String, Object> config = (Map<String, Object>) new com.fasterxml.jackson.databind.ObjectMapper().readValue(args[2], Map.class);
        boolean failOnError = "failOnError".equals(config.get("failurePolicy"));
        try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build()) {
            SinkContext ctx = proxy(SinkContext.class, m -> switch (m) {
                case "getTenant" -> "public";
                case "getNamespace" -> "default";
                case "getSinkName" -> "nar-unreadable";
                case "getPulsarClient" -> client;
                default -> null;
            }, (m, a) -> {
                if (m.equals("fatal")) {
                    System.out.println("RESULT fatal " + ((Throwable) a[0]).getMessage());
                    fatal.countDown();
                }
            });
            KinesisGoSink sink = new KinesisGoSink();
            sink.open(config, ctx);

            List<String> names = failOnError ? List.of("good-1", "bad") : List.of("good-1", "bad", "tombstone", "chunked", "good-2");
            CountDownLatch resolved = new CountDownLatch(names.size());
            long entry = 7;
            for (String name : names) {
                Message<GenericObject> msg = message(topic, name, entry++);
                Record<GenericObject> rec = proxy(Record.class, m -> m.equals("getMessage") ? Optional.of(msg) : null, (m, a) -> {
                    if (m.equals("ack") || m.equals("fail")) {
                        System.out.println("RESULT " + m + " " + name);
                        resolved.countDown();
                    }
                });
                try {
                    sink.write(rec);
                } catch (Exception e) {
                    System.out.println("RESULT threw " + name + " " + e);
                    resolved.countDown();
                }
            }
            boolean done = resolved.await(60, TimeUnit.SECONDS);
            if (failOnError) {
                done &= fatal.await(60, TimeUnit.SECONDS);
            }
            sink.close();
            System.out.flush();
            System.exit(done ? 0 : 1);
        }
    }

    /** A message of the given kind, at ledger 5, the given entry, no partition, no batch. */
    static Message<GenericObject> message(String topic, String name, long entry) {
        String id = name.equals("chunked") ? "5:" + entry + ":-1;5:" + (entry + 2) + ":-1" : "5:" + entry + ":-1";
        MessageId mid = proxy(MessageId.class, m -> m.equals("toString") ? id : null, null);
        return proxy(Message.class, m -> switch (m) {
            case "getData" -> name.equals("tombstone") ? null : (name + " payload").getBytes(StandardCharsets.UTF_8);
            case "getTopicName" -> topic;
            case "hasKey" -> true;
            case "getKey" -> name;
            case "getProperties" -> Map.of("p", name);
            case "getPublishTime" -> 1700000000000L;
            case "getMessageId" -> mid;
            // A schema version whose schema cannot be fetched: getReaderSchema
            // throws as the client does when the registry fails.
            case "getSchemaVersion" -> name.equals("bad") ? new byte[] {0, 0, 0, 0, 0, 0, 0, 9} : null;
            case "getReaderSchema" -> {
                throw new SchemaSerializationException("schema version 9 of " + topic + ": the registry did not answer");
            }
            default -> null;
        }, null);
    }

    interface Calls {
        void call(String method, Object[] args);
    }

    /** A T whose methods answer from answers (null: the type's zero), and report calls to calls. */
    @SuppressWarnings("unchecked")
    static <T> T proxy(Class<?> type, Function<String, Object> answers, Calls calls) {
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
            if (r == boolean.class) {
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
        return (T) Proxy.newProxyInstance(NarUnreadable.class.getClassLoader(), new Class<?>[] {type}, h);
    }
}
