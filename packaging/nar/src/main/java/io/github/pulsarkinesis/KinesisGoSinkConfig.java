// Generated from conf/conf.go by `go test ./conf -run TestNARConfigClass -update`; do not edit.
package io.github.pulsarkinesis;

import java.io.Serializable;
import java.util.Map;
import org.apache.pulsar.io.core.annotations.FieldDoc;

/**
 * The kinesis-go sink's configuration keys, for the worker to show (the sink reads the configuration as a map
 * and hands it to kinesis-sink, which checks it; conf/KEYS.md in the repository documents the same keys).
 * The Java Kinesis sink's keys come first, with its names, types and defaults.
 */
public class KinesisGoSinkConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    @FieldDoc(required = false, defaultValue = "",
            help = "Kinesis endpoint: a host name (as the Java sink/KPL take it), host:port, or an http:// or https:// URL with an optional port. Empty means the AWS endpoint of awsRegion. Without a scheme, https is used.")
    private String awsEndpoint;

    @FieldDoc(required = false, defaultValue = "",
            help = "Kinesis port, used when awsEndpoint has none (KPL kinesisPort). Empty means the scheme's default port. Allowed: 1–65535.")
    private Integer awsEndpointPort;

    @FieldDoc(required = false, defaultValue = "false",
            help = "Do not verify the TLS certificates of the Kinesis, STS and CloudWatch endpoints (KPL verifyCertificate=false). For local emulators only.")
    private boolean skipCertificateValidation;

    @FieldDoc(required = false, defaultValue = "",
            help = "AWS region, used to sign requests and to find the AWS endpoints. Either awsRegion, or both awsEndpoint and cloudwatchEndpoint, must be set.")
    private String awsRegion;

    @FieldDoc(required = false, defaultValue = "",
            help = "Target Kinesis stream. Required unless topicToStreamMap or streamNameProperty is set; then it is the stream for records those do not route.")
    private String awsKinesisStreamName;

    @FieldDoc(required = false, defaultValue = "",
            help = "Credential plugin class name. Empty means static keys taken from awsCredentialPluginParam. Accepted: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin (the default AWS credential chain: environment, shared files, EKS web identity, ECS and EC2 roles; param ignored, or {\"profile\":\"…\"}) and org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin (assume a role; param {\"roleArn\":\"…\",\"roleSessionName\":\"…\"}, optionally with \"externalId\", \"durationSeconds\" (900-43200), \"policy\", and base keys \"accessKey\"/\"secretKey\"/\"sessionToken\", else the default chain), each also under its older org.apache.pulsar.io.kinesis.* name, or the short names \"default\", \"sts\" and \"assumeRole\".")
    private String awsCredentialPluginName;

    @FieldDoc(required = false, sensitive = true, defaultValue = "",
            help = "Secret. JSON parameters of the credential plugin; with no plugin, the static keys {\"accessKey\":\"…\",\"secretKey\":\"…\"} with an optional \"sessionToken\". A function secret named awsCredentialPluginParam, when present, takes precedence over the config value (Pulsar's loadWithSecrets rule).")
    private String awsCredentialPluginParam;

    @FieldDoc(required = false, defaultValue = "",
            help = "STS endpoint used by the assume-role plugin, in the same forms as awsEndpoint. Empty means the AWS endpoint of the region.")
    private String awsStsEndpoint;

    @FieldDoc(required = false, defaultValue = "",
            help = "STS port, used when awsStsEndpoint has none. Allowed: 1–65535.")
    private Integer awsStsPort;

    @FieldDoc(required = false, defaultValue = "",
            help = "CloudWatch endpoint for the sink's CloudWatch metrics, in the same forms as awsEndpoint. Empty means the AWS endpoint of the region.")
    private String cloudwatchEndpoint;

    @FieldDoc(required = false, defaultValue = "ONLY_RAW_PAYLOAD",
            help = "How a Pulsar message becomes Kinesis record data: ONLY_RAW_PAYLOAD (the payload bytes), FULL_MESSAGE_IN_JSON (payload in base64, properties and encryption context as JSON), FULL_MESSAGE_IN_FB (the same as FlatBuffers) or FULL_MESSAGE_IN_JSON_EXPAND_VALUE (topic, key, the value decoded by its schema, properties and event time as JSON). The bytes are identical to the Java sink's. Allowed: ONLY_RAW_PAYLOAD, FULL_MESSAGE_IN_JSON, FULL_MESSAGE_IN_FB, FULL_MESSAGE_IN_JSON_EXPAND_VALUE.")
    private String messageFormat;

    @FieldDoc(required = false, defaultValue = "true",
            help = "FULL_MESSAGE_IN_JSON_EXPAND_VALUE only: leave out null fields.")
    private boolean jsonIncludeNonNulls;

    @FieldDoc(required = false, defaultValue = "false",
            help = "FULL_MESSAGE_IN_JSON_EXPAND_VALUE only: flatten nested objects into dotted keys (\"payload.a.b\").")
    private boolean jsonFlatten;

    @FieldDoc(required = false, defaultValue = "false",
            help = "FULL_MESSAGE_IN_JSON and FULL_MESSAGE_IN_JSON_EXPAND_VALUE: end each record with \"messageTopic\" and \"messageId\", the Pulsar topic (a partition's own name) and message id it came from, so that consumers can drop the duplicates at-least-once delivery leaves in Kinesis. Off by default: the bytes then equal the Java sink's.")
    private boolean jsonIncludeMessageId;

    @FieldDoc(required = false, defaultValue = "false",
            help = "Keep the order of records with the same partition key: at most one request per key (or shard) is in flight, and a failed record is retried in place, until it is written (recordTtl does not apply), before later records of its key are sent. Unlike the Java sink, other keys are not blocked.")
    private boolean retainOrdering;

    @FieldDoc(required = false, defaultValue = "100",
            help = "First delay before retrying a failed record, in milliseconds. Each retry doubles it, up to retryMaxDelayInMillis, with up to 10% jitter. Allowed: 1–9223372036854 milliseconds.")
    private long retryInitialDelayInMillis;

    @FieldDoc(required = false, defaultValue = "60000",
            help = "Cap of the retry delay, in milliseconds; at least retryInitialDelayInMillis. Allowed: 1–9223372036854 milliseconds.")
    private long retryMaxDelayInMillis;

    @FieldDoc(required = false, defaultValue = "true",
            help = "Pack several user records into one Kinesis record in the KPL aggregated format, as the Java sink does by default. Consumers must de-aggregate: the KCL does, Lambda functions use the KPL de-aggregation modules or aws-kinesis-agg; a plain GetRecords reader sees the aggregated blobs. Set false for such readers.")
    private boolean aggregationEnabled;

    @FieldDoc(required = false, defaultValue = "500",
            help = "Maximum Kinesis records per PutRecords request (the service allows 500). Allowed: 1–500.")
    private long collectionMaxCount;

    @FieldDoc(required = false, defaultValue = "5242880",
            help = "Maximum bytes of data plus partition keys per PutRecords request (the service allows 10 MiB). A record larger than this is sent alone. Allowed: 1–10485760 bytes.")
    private long collectionMaxSize;

    @FieldDoc(required = false, defaultValue = "6000",
            help = "Timeout for establishing a connection (TCP and TLS), in milliseconds. Allowed: 100–300000 milliseconds.")
    private long connectTimeout;

    @FieldDoc(required = false, defaultValue = "6000",
            help = "Timeout of one request, from sending it to reading the whole response, in milliseconds. A timed-out request may still have succeeded, so a retry may duplicate records. Allowed: 100–600000 milliseconds.")
    private long requestTimeout;

    @FieldDoc(required = false, defaultValue = "24",
            help = "Maximum PutRecords requests in flight at once (the Java sink's HTTP connections to Kinesis). Allowed: 1–256.")
    private long maxConnections;

    @FieldDoc(required = false, defaultValue = "1",
            help = "Minimum HTTP connections. Accepted and checked for compatibility (at most maxConnections); the Go HTTP client opens connections on demand. Allowed: 1–16.")
    private long minConnections;

    @FieldDoc(required = false, defaultValue = "150",
            help = "Per-shard send rate limit, as a percentage of the shard's write limits (1000 records/s and 1 MiB/s): records over it wait, in order, instead of being sent and throttled. Shards are predicted from the stream's shard map (ListShards); without one nothing is limited. 150 lets the sink saturate a shard; 100 keeps it under the shard's limits. Shared among the function's instances unless rateLimitScope says otherwise. Allowed: 1–9223372036854775807 percent.")
    private long rateLimit;

    @FieldDoc(required = false, defaultValue = "function",
            help = "Whose rate rateLimit bounds: \"function\" (the function's instances share it: each takes rateLimit divided by the parallelism, so N instances on one stream stay within the shards' limits together) or \"instance\" (each instance gets all of it, as with the KPL: N instances writing to one shard can send N times the limit and be throttled). \"function\" needs the parallelism the worker passes; Function Mesh passes 1 unless its showPreciseParallelism is set. Allowed: function, instance.")
    private String rateLimitScope;

    @FieldDoc(required = false, defaultValue = "true",
            help = "Whether Kinesis's answers may lower rateLimit for a shard: while the limit binds (the sink sends the shard at least half its rate, and at least 1% of the shard's own limits: a rateLimit that, divided among a function's instances, comes below about 1 is never cut), a throttled response cuts the shard's rate to the share of its records that got through, to between 0.7 and 0.9 of what it was (once per round trip), and it climbs back by 3% of rateLimit a second, more slowly near where it was throttled, so a saturated shard runs just under what Kinesis grants rather than having a share of every request refused and retried (about a third at rateLimit 150), and writers sharing a shard settle on shares of it. false: rateLimit is fixed, as in the Java sink.")
    private boolean adaptiveRateLimit;

    @FieldDoc(required = false, defaultValue = "30000",
            help = "How long the sink keeps trying to write a record, in milliseconds, counted from when it was received. Set it below the input's ack timeout (timeoutMs). When it expires, failurePolicy applies. Not applied with retainOrdering, where a record is retried until it is written (as in the Java sink), since one given up on would come back from Pulsar behind later records of its key; only non-retryable errors end it. Allowed: 1–9223372036854 milliseconds.")
    private long recordTtl;

    @FieldDoc(required = false, defaultValue = "5000",
            help = "Minimum time between two reads of the credential provider, in milliseconds (KPL credentialsRefreshDelay). Credentials that expire are refreshed before they do, whatever this says. Allowed: 1–300000 milliseconds.")
    private long credentialsRefreshDelay;

    @FieldDoc(required = false, defaultValue = "",
            help = "Path of the Java KPL native binary. Accepted for compatibility and ignored with a warning: this sink has no native daemon.")
    private String nativeExecutable;

    @FieldDoc(required = false, defaultValue = "",
            help = "KPL settings, as a map or a JSON object in a string. The keys with a meaning here are applied to the matching key of this table, in KPL's PascalCase or camelCase spelling: AggregationEnabled, AggregationMaxCount, AggregationMaxSize, CloudwatchEndpoint, CloudwatchPort, CollectionMaxCount, CollectionMaxSize, ConnectTimeout, CredentialsRefreshDelay, FailIfThrottled, KinesisEndpoint, KinesisPort, MaxConnections, MetricsGranularity, MetricsLevel, MetricsNamespace, MetricsUploadDelay, MinConnections, RateLimit, RecordMaxBufferedTime, RecordTtl, Region, RequestTimeout, StsEndpoint, StsPort, VerifyCertificate. A key also given at the top level is overridden by it; other keys are ignored with a warning.")
    private Map<String, String> extraKinesisProducerConfig;

    @FieldDoc(required = false, defaultValue = "",
            help = "CloudWatch port, used when cloudwatchEndpoint has none (KPL CloudwatchPort). Allowed: 1–65535.")
    private Integer cloudwatchPort;

    @FieldDoc(required = false, defaultValue = "100",
            help = "How long a record may wait in the buffer for a fuller request, in milliseconds (KPL RecordMaxBufferedTime). Records may be reordered by up to twice this. 0 sends as soon as a request slot is free. Allowed: 0–9223372036854 milliseconds.")
    private long recordMaxBufferedTimeInMillis;

    @FieldDoc(required = false, defaultValue = "51200",
            help = "Maximum size of one aggregated Kinesis record in bytes, including its partition key and aggregation overhead (KPL AggregationMaxSize). It is also capped by the stream's maximum record size (1 MiB unless raised). A user record larger than this is sent unaggregated. Allowed: 64–10485760 bytes.")
    private long aggregationMaxSize;

    @FieldDoc(required = false, defaultValue = "4294967295",
            help = "Maximum user records in one aggregated Kinesis record (KPL AggregationMaxCount). Allowed: 1–9223372036854775807.")
    private long aggregationMaxCount;

    @FieldDoc(required = false, defaultValue = "shard",
            help = "Which records may share an aggregated record: \"shard\" (records whose keys map to the same shard, from the stream's shard map, as the KPL does) or \"key\" (only records with the same partition key; fewer records per aggregate, but unaffected by resharding). Allowed: shard, key.")
    private String aggregationMode;

    @FieldDoc(required = false, defaultValue = "default",
            help = "Where the partition key comes from: \"default\" (the Java rule: message key, else topic name, else \"default\"), \"property\" (the message property partitionKeyProperty), \"field\" (the field partitionKeyField of the JSON value), \"random\" (a random key per record) or \"fixed\" (defaultPartitionKey). Keys longer than 256 characters are cut to 256 (the Java sink cuts to 255). Allowed: default, property, field, random, fixed.")
    private String partitionKeyMode;

    @FieldDoc(required = false, defaultValue = "",
            help = "partitionKeyMode \"property\": the message property holding the key.")
    private String partitionKeyProperty;

    @FieldDoc(required = false, defaultValue = "",
            help = "partitionKeyMode \"field\": dotted path of the field holding the key in the message value decoded as JSON (e.g. \"order.customerId\"). Numbers and booleans are used as their JSON text.")
    private String partitionKeyField;

    @FieldDoc(required = false, defaultValue = "",
            help = "The key of partitionKeyMode \"fixed\"; in modes \"property\" and \"field\", the key of records lacking the property or field (empty: the default rule). 1 to 256 characters.")
    private String defaultPartitionKey;

    @FieldDoc(required = false, defaultValue = "",
            help = "Message property holding a decimal explicit hash key (0 to 2^128-1) that overrides the partition key's hash to pick the shard. Empty: none.")
    private String explicitHashKeyProperty;

    @FieldDoc(required = false, defaultValue = "",
            help = "Message property naming the target stream of each record. Records without it go by topicToStreamMap, then to awsKinesisStreamName.")
    private String streamNameProperty;

    @FieldDoc(required = false, defaultValue = "",
            help = "Map from input topic to target stream, as a map or a JSON object in a string. Topics may be given as persistent://tenant/namespace/topic, tenant/namespace/topic or topic (public/default); a partitioned topic's partitions follow its entry. Unlisted topics go to awsKinesisStreamName.")
    private Map<String, String> topicToStreamMap;

    @FieldDoc(required = false, defaultValue = "fail",
            help = "What happens to a record that cannot be written (non-retryable error, or recordTtl exceeded): \"fail\" (negative ack, so Pulsar redelivers it, and its dead-letter policy applies), \"deadLetter\" (publish it to deadLetterTopic with the error in properties, then ack it) or \"failOnError\" (the instance exits non-zero, and the records not yet acked are redelivered after the restart). Allowed: fail, deadLetter, failOnError.")
    private String failurePolicy;

    @FieldDoc(required = false, defaultValue = "",
            help = "failurePolicy \"deadLetter\": the topic that receives failed records.")
    private String deadLetterTopic;

    @FieldDoc(required = false, defaultValue = "false",
            help = "Do not retry records throttled by Kinesis (ProvisionedThroughputExceededException): fail them at once, so failurePolicy applies (KPL FailIfThrottled).")
    private boolean failIfThrottled;

    @FieldDoc(required = false, defaultValue = "10000",
            help = "Maximum records held by the sink (buffered or in flight). When full, the sink stops taking records, which stops the Pulsar consumer. Allowed: 1–100000000.")
    private long maxBufferedRecords;

    @FieldDoc(required = false, defaultValue = "67108864",
            help = "Maximum bytes of record data held by the sink (buffered or in flight). A record larger than what is left is taken only when the buffer is empty. Allowed: 1048576–1099511627776 bytes.")
    private long maxBufferedBytes;

    @FieldDoc(required = false, defaultValue = "0",
            help = "Most data + partition key bytes of the PutRecords requests in flight at once; no request starts while they reach it. A request in flight is held as its records and again as its encoded body, so this bounds memory with large records. 0: a quarter of maxBufferedBytes (and at least collectionMaxSize). Allowed: 0–1099511627776 bytes.")
    private long maxInFlightBytes;

    @FieldDoc(required = false, defaultValue = "detailed",
            help = "CloudWatch metrics level, as in the KPL: \"none\" (no CloudWatch metrics, so no cloudwatch:PutMetricData permission is needed), \"summary\" or \"detailed\". The Prometheus metrics are always served. Allowed: none, summary, detailed.")
    private String metricsLevel;

    @FieldDoc(required = false, defaultValue = "shard",
            help = "CloudWatch metrics dimensions, as in the KPL: \"global\", \"stream\" or \"shard\". Allowed: global, stream, shard.")
    private String metricsGranularity;

    @FieldDoc(required = false, defaultValue = "KinesisProducerLibrary",
            help = "CloudWatch namespace of the metrics; must not start with \"AWS/\".")
    private String metricsNamespace;

    @FieldDoc(required = false, defaultValue = "60000",
            help = "Delay between two CloudWatch metrics uploads, in milliseconds. Allowed: 1–60000 milliseconds.")
    private long metricsUploadDelayInMillis;

    @FieldDoc(required = false, defaultValue = "",
            help = "The kinesis-go NAR only (pulsar-admin sinks create): host:port where its kinesis-sink child serves the kinesis_sink_* Prometheus families at /metrics, for example 127.0.0.1:9464. That is instance 0's address; instance N serves at the port plus N (9465 for instance 1), so that the instances on one host do not collide. Empty: not served. The Go function serves them on the instance's metrics port instead and ignores this.")
    private String sidecarMetricsAddress;
}
