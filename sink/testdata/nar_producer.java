// A Java producer for the NAR tests: pulsar-client-go cannot publish a null
// value (it never sets the message metadata's null_value, nor
// null_partition_key), which is what a Java producer's value(null) sends and
// what Java consumers then read as getData() == null. Run in source-file mode
// against the Pulsar distribution's client:
//
//   java -cp "$PULSAR_HOME/lib/*" nar_producer.java SERVICE_URL TOPIC string|string-nulls|kv N [CHUNKED_BYTES]
//
// Message i (0 <= i < N), in one batch-enabled producer:
//   string:       Schema.STRING, key "k-i", value "s-i";
//   string-nulls: the same, but the value is null when i % 3 == 2 (the Java
//                 instance of every Pulsar IO sink fails on such a record
//                 before the sink sees it: docs/deployment.md);
//   kv:           KEY_VALUE SEPARATED STRING/STRING, key null when
//                 i % 4 == 3, else "k-i"; value null when i % 3 == 2, else
//                 "v-i".
// With CHUNKED_BYTES, one more message (key "chunked", a value of that many
// bytes) from a second producer with chunking on and 1 KiB chunks.
// It prints one line per message: its index (or "chunked") and its id.

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.common.schema.KeyValue;
import org.apache.pulsar.common.schema.KeyValueEncodingType;

public class NarProducer {
    public static void main(String[] args) throws Exception {
        String url = args[0], topic = args[1], kind = args[2];
        int n = Integer.parseInt(args[3]);
        int chunked = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build()) {
            List<CompletableFuture<MessageId>> sent = new ArrayList<>();
            if (kind.equals("string") || kind.equals("string-nulls")) {
                boolean nulls = kind.equals("string-nulls");
                try (Producer<String> p = client.newProducer(Schema.STRING).topic(topic)
                        .batchingMaxPublishDelay(20, TimeUnit.MILLISECONDS).create()) {
                    for (int i = 0; i < n; i++) {
                        sent.add(p.newMessage().key("k-" + i).value(nulls && i % 3 == 2 ? null : "s-" + i).sendAsync());
                    }
                    p.flush();
                    print(sent);
                }
                if (chunked > 0) {
                    try (Producer<String> p = client.newProducer(Schema.STRING).topic(topic)
                            .enableBatching(false).enableChunking(true).chunkMaxMessageSize(1024).create()) {
                        MessageId id = p.newMessage().key("chunked").value("c".repeat(chunked)).send();
                        System.out.println("chunked\t" + id);
                    }
                }
            } else if (kind.equals("kv")) {
                Schema<KeyValue<String, String>> schema =
                        Schema.KeyValue(Schema.STRING, Schema.STRING, KeyValueEncodingType.SEPARATED);
                try (Producer<KeyValue<String, String>> p = client.newProducer(schema).topic(topic)
                        .batchingMaxPublishDelay(20, TimeUnit.MILLISECONDS).create()) {
                    for (int i = 0; i < n; i++) {
                        String k = i % 4 == 3 ? null : "k-" + i;
                        String v = i % 3 == 2 ? null : "v-" + i;
                        sent.add(p.newMessage().value(new KeyValue<>(k, v)).sendAsync());
                    }
                    p.flush();
                    print(sent);
                }
            } else {
                throw new IllegalArgumentException("kind " + kind + ": want string, string-nulls or kv");
            }
        }
    }

    private static void print(List<CompletableFuture<MessageId>> sent) throws Exception {
        for (int i = 0; i < sent.size(); i++) {
            System.out.println(i + "\t" + sent.get(i).get(30, TimeUnit.SECONDS));
        }
    }
}
