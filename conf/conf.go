package conf

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// MessageFormat is how a Pulsar message becomes the data of a Kinesis record.
// The four values and their byte layouts are those of the Java sink.
type MessageFormat string

const (
	OnlyRawPayload               MessageFormat = "ONLY_RAW_PAYLOAD"
	FullMessageInJSON            MessageFormat = "FULL_MESSAGE_IN_JSON"
	FullMessageInFB              MessageFormat = "FULL_MESSAGE_IN_FB"
	FullMessageInJSONExpandValue MessageFormat = "FULL_MESSAGE_IN_JSON_EXPAND_VALUE"
)

// AggregationMode says which user records may share one KPL aggregated record.
type AggregationMode string

const (
	// AggregateByShard packs records whose keys hash into the same shard (as
	// the KPL does), steering the aggregate with an explicit hash key.
	AggregateByShard AggregationMode = "shard"
	// AggregateByKey packs only records with the same partition key; immune
	// to stale shard maps, since KCL cannot drop a sub-record for being on
	// the wrong shard.
	AggregateByKey AggregationMode = "key"
)

// RateLimitScope says whose send rate rateLimit bounds.
type RateLimitScope string

const (
	// RateLimitPerFunction divides rateLimit among the function's
	// instances (its parallelism), so that together they send at most
	// rateLimit percent of each shard's limits.
	RateLimitPerFunction RateLimitScope = "function"
	// RateLimitPerInstance gives every instance the whole rateLimit, as the
	// KPL does: N instances writing to one shard send up to N times it.
	RateLimitPerInstance RateLimitScope = "instance"
)

// PartitionKeyMode says where a record's Kinesis partition key comes from.
type PartitionKeyMode string

const (
	// PartitionKeyModeDefault is the Java rule: message key, else topic
	// name, else "default".
	PartitionKeyModeDefault  PartitionKeyMode = "default"
	PartitionKeyModeProperty PartitionKeyMode = "property"
	PartitionKeyModeField    PartitionKeyMode = "field"
	PartitionKeyModeRandom   PartitionKeyMode = "random"
	PartitionKeyModeFixed    PartitionKeyMode = "fixed"
)

// FailurePolicy says what happens to a record the sink gives up on.
type FailurePolicy string

const (
	FailurePolicyFail        FailurePolicy = "fail"
	FailurePolicyDeadLetter  FailurePolicy = "deadLetter"
	FailurePolicyFailOnError FailurePolicy = "failOnError"
)

// MetricsLevel is the KPL-style CloudWatch metrics level.
type MetricsLevel string

const (
	MetricsNone     MetricsLevel = "none"
	MetricsSummary  MetricsLevel = "summary"
	MetricsDetailed MetricsLevel = "detailed"
)

// MetricsGranularity is the KPL-style CloudWatch dimension granularity.
type MetricsGranularity string

const (
	GranularityGlobal MetricsGranularity = "global"
	GranularityStream MetricsGranularity = "stream"
	GranularityShard  MetricsGranularity = "shard"
)

// Config is the Kinesis sink configuration: the function's userConfig after
// loading (FromMap) and validation. JSON names, types and defaults of the
// first group are those of Apache Pulsar's Java Kinesis sink, so a config
// written for it loads unchanged.
//
// The doc comment of each field is the user documentation of its key: KEYS.md
// is generated from these comments (go test ./conf -run TestKeysDoc -update).
type Config struct {
	// Kinesis endpoint: a host name (as the Java sink/KPL take it), host:port,
	// or an http:// or https:// URL with an optional port. Empty means the AWS
	// endpoint of awsRegion. Without a scheme, https is used.
	AWSEndpoint string `json:"awsEndpoint"`
	// Kinesis port, used when awsEndpoint has none (KPL kinesisPort). Empty
	// means the scheme's default port.
	AWSEndpointPort *int `json:"awsEndpointPort"`
	// Do not verify the TLS certificates of the Kinesis, STS and CloudWatch
	// endpoints (KPL verifyCertificate=false). For local emulators only.
	SkipCertificateValidation bool `json:"skipCertificateValidation"`
	// AWS region, used to sign requests and to find the AWS endpoints.
	// Either awsRegion, or both awsEndpoint and cloudwatchEndpoint, must be
	// set.
	AWSRegion string `json:"awsRegion"`
	// Target Kinesis stream. Required unless topicToStreamMap or
	// streamNameProperty is set; then it is the stream for records those do
	// not route.
	AWSKinesisStreamName string `json:"awsKinesisStreamName"`
	// Credential plugin class name. Empty means static keys taken from
	// awsCredentialPluginParam. Accepted: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin
	// (the default AWS credential chain: environment, shared files, EKS web
	// identity, ECS and EC2 roles; param ignored, or {"profile":"…"}) and
	// org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin (assume a role;
	// param {"roleArn":"…","roleSessionName":"…"}, optionally with
	// "externalId", "durationSeconds" (900-43200), "policy", and base keys
	// "accessKey"/"secretKey"/"sessionToken", else the default chain), each
	// also under its older org.apache.pulsar.io.kinesis.* name, or the short
	// names "default", "sts" and "assumeRole".
	AWSCredentialPluginName string `json:"awsCredentialPluginName"`
	// Secret. JSON parameters of the credential plugin; with no plugin, the
	// static keys {"accessKey":"…","secretKey":"…"} with an optional
	// "sessionToken". A function secret named awsCredentialPluginParam, when
	// present, takes precedence over the config value (Pulsar's
	// loadWithSecrets rule).
	AWSCredentialPluginParam Secret `json:"awsCredentialPluginParam"`
	// STS endpoint used by the assume-role plugin, in the same forms as
	// awsEndpoint. Empty means the AWS endpoint of the region.
	AWSStsEndpoint string `json:"awsStsEndpoint"`
	// STS port, used when awsStsEndpoint has none.
	AWSStsPort *int `json:"awsStsPort"`
	// CloudWatch endpoint for the sink's CloudWatch metrics, in the same forms
	// as awsEndpoint. Empty means the AWS endpoint of the region.
	CloudwatchEndpoint string `json:"cloudwatchEndpoint"`
	// How a Pulsar message becomes Kinesis record data: ONLY_RAW_PAYLOAD (the
	// payload bytes), FULL_MESSAGE_IN_JSON (payload in base64, properties and
	// encryption context as JSON), FULL_MESSAGE_IN_FB (the same as
	// FlatBuffers) or FULL_MESSAGE_IN_JSON_EXPAND_VALUE (topic, key, the value
	// decoded by its schema, properties and event time as JSON). The bytes are
	// identical to the Java sink's.
	MessageFormat MessageFormat `json:"messageFormat"`
	// FULL_MESSAGE_IN_JSON_EXPAND_VALUE only: leave out null fields.
	JSONIncludeNonNulls bool `json:"jsonIncludeNonNulls"`
	// FULL_MESSAGE_IN_JSON_EXPAND_VALUE only: flatten nested objects into
	// dotted keys ("payload.a.b").
	JSONFlatten bool `json:"jsonFlatten"`
	// FULL_MESSAGE_IN_JSON and FULL_MESSAGE_IN_JSON_EXPAND_VALUE: end each
	// record with "messageTopic" and "messageId", the Pulsar topic (a
	// partition's own name) and message id it came from, so that consumers
	// can drop the duplicates at-least-once delivery leaves in Kinesis. Off
	// by default: the bytes then equal the Java sink's.
	JSONIncludeMessageID bool `json:"jsonIncludeMessageId"`
	// Keep the order of records with the same partition key: at most one
	// request per key (or shard) is in flight, and a failed record is retried
	// in place, until it is written (recordTtl does not apply), before later
	// records of its key are sent. Unlike the Java sink, other keys are not
	// blocked.
	RetainOrdering bool `json:"retainOrdering"`
	// First delay before retrying a failed record, in milliseconds. Each
	// retry doubles it, up to retryMaxDelayInMillis, with up to 10% jitter.
	RetryInitialDelayInMillis int64 `json:"retryInitialDelayInMillis"`
	// Cap of the retry delay, in milliseconds; at least
	// retryInitialDelayInMillis.
	RetryMaxDelayInMillis int64 `json:"retryMaxDelayInMillis"`
	// Pack several user records into one Kinesis record in the KPL
	// aggregated format, as the Java sink does by default. Consumers must
	// de-aggregate: the KCL does, Lambda functions use the KPL
	// de-aggregation modules or aws-kinesis-agg; a plain GetRecords reader
	// sees the aggregated blobs. Set false for such readers.
	AggregationEnabled bool `json:"aggregationEnabled"`
	// Maximum Kinesis records per PutRecords request (the service allows 500).
	CollectionMaxCount int `json:"collectionMaxCount"`
	// Maximum bytes of data plus partition keys per PutRecords request (the
	// service allows 10 MiB). A record larger than this is sent alone.
	CollectionMaxSize int64 `json:"collectionMaxSize"`
	// Timeout for establishing a connection (TCP and TLS), in milliseconds.
	ConnectTimeout int64 `json:"connectTimeout"`
	// Timeout of one request, from sending it to reading the whole response,
	// in milliseconds. A timed-out request may still have succeeded, so a
	// retry may duplicate records.
	RequestTimeout int64 `json:"requestTimeout"`
	// Maximum PutRecords requests in flight at once (the Java sink's HTTP
	// connections to Kinesis).
	MaxConnections int `json:"maxConnections"`
	// Minimum HTTP connections. Accepted and checked for compatibility (at
	// most maxConnections); the Go HTTP client opens connections on demand.
	MinConnections int `json:"minConnections"`
	// Per-shard send rate limit, as a percentage of the shard's write limits
	// (1000 records/s and 1 MiB/s): records over it wait, in order, instead
	// of being sent and throttled. Shards are predicted from the stream's
	// shard map (ListShards); without one nothing is limited. 150 lets the
	// sink saturate a shard; 100 keeps it under the shard's limits. Shared
	// among the function's instances unless rateLimitScope says otherwise.
	RateLimit int64 `json:"rateLimit"`
	// Whose rate rateLimit bounds: "function" (the function's instances
	// share it: each takes rateLimit divided by the parallelism, so N
	// instances on one stream stay within the shards' limits together) or
	// "instance" (each instance gets all of it, as with the KPL: N instances
	// writing to one shard can send N times the limit and be throttled).
	// "function" needs the parallelism the worker passes; Function Mesh
	// passes 1 unless its showPreciseParallelism is set.
	RateLimitScope RateLimitScope `json:"rateLimitScope"`
	// Whether Kinesis's answers may lower rateLimit for a shard: while the
	// limit binds (the sink sends the shard at least half its rate, and at
	// least 1% of the shard's own limits: a rateLimit that, divided among a
	// function's instances, comes below about 1 is never cut), a throttled
	// response cuts the shard's rate to the share
	// of its records that got through, to between 0.7 and 0.9 of what it
	// was (once per round trip), and it climbs back by 3% of rateLimit a
	// second, more slowly near where it was throttled, so a saturated
	// shard runs just under what Kinesis grants rather than having a share
	// of every request refused and retried (about a third at rateLimit 150),
	// and writers sharing a shard settle on shares of it. false: rateLimit
	// is fixed, as in the Java sink.
	AdaptiveRateLimit bool `json:"adaptiveRateLimit"`
	// How long the sink keeps trying to write a record, in milliseconds,
	// counted from when it was received. Set it below the input's ack timeout
	// (timeoutMs). When it expires, failurePolicy applies. Not applied with
	// retainOrdering, where a record is retried until it is written (as in
	// the Java sink), since one given up on would come back from Pulsar
	// behind later records of its key; only non-retryable errors end it.
	RecordTTL int64 `json:"recordTtl"`
	// Minimum time between two reads of the credential provider, in
	// milliseconds (KPL credentialsRefreshDelay). Credentials that expire are
	// refreshed before they do, whatever this says.
	CredentialsRefreshDelay int64 `json:"credentialsRefreshDelay"`
	// Path of the Java KPL native binary. Accepted for compatibility and
	// ignored with a warning: this sink has no native daemon.
	NativeExecutable string `json:"nativeExecutable"`
	// KPL settings, as a map or a JSON object in a string. The keys with a
	// meaning here are applied to the matching key of this table, in KPL's
	// PascalCase or camelCase spelling: AggregationEnabled,
	// AggregationMaxCount, AggregationMaxSize, CloudwatchEndpoint,
	// CloudwatchPort, CollectionMaxCount, CollectionMaxSize, ConnectTimeout,
	// CredentialsRefreshDelay, FailIfThrottled, KinesisEndpoint, KinesisPort,
	// MaxConnections, MetricsGranularity, MetricsLevel, MetricsNamespace,
	// MetricsUploadDelay, MinConnections, RateLimit, RecordMaxBufferedTime,
	// RecordTtl, Region, RequestTimeout, StsEndpoint, StsPort,
	// VerifyCertificate. A key also given at the top level is overridden by
	// it; other keys are ignored with a warning.
	ExtraKinesisProducerConfig map[string]string `json:"extraKinesisProducerConfig"`

	// CloudWatch port, used when cloudwatchEndpoint has none (KPL
	// CloudwatchPort).
	CloudwatchPort *int `json:"cloudwatchPort"`
	// How long a record may wait in the buffer for a fuller request, in
	// milliseconds (KPL RecordMaxBufferedTime). Records may be reordered by up
	// to twice this. 0 sends as soon as a request slot is free.
	RecordMaxBufferedTimeInMillis int64 `json:"recordMaxBufferedTimeInMillis"`
	// Maximum size of one aggregated Kinesis record in bytes, including its
	// partition key and aggregation overhead (KPL AggregationMaxSize). It is
	// also capped by the stream's maximum record size (1 MiB unless raised).
	// A user record larger than this is sent unaggregated.
	AggregationMaxSize int64 `json:"aggregationMaxSize"`
	// Maximum user records in one aggregated Kinesis record (KPL
	// AggregationMaxCount).
	AggregationMaxCount int64 `json:"aggregationMaxCount"`
	// Which records may share an aggregated record: "shard" (records whose
	// keys map to the same shard, from the stream's shard map, as the KPL
	// does) or "key" (only records with the same partition key; fewer
	// records per aggregate, but unaffected by resharding).
	AggregationMode AggregationMode `json:"aggregationMode"`
	// Where the partition key comes from: "default" (the Java rule: message
	// key, else topic name, else "default"), "property" (the message property
	// partitionKeyProperty), "field" (the field partitionKeyField of the JSON
	// value), "random" (a random key per record) or "fixed"
	// (defaultPartitionKey). Keys longer than 256 characters are cut to 256
	// (the Java sink cuts to 255).
	PartitionKeyMode PartitionKeyMode `json:"partitionKeyMode"`
	// partitionKeyMode "property": the message property holding the key.
	PartitionKeyProperty string `json:"partitionKeyProperty"`
	// partitionKeyMode "field": dotted path of the field holding the key in
	// the message value decoded as JSON (e.g. "order.customerId"). Numbers
	// and booleans are used as their JSON text.
	PartitionKeyField string `json:"partitionKeyField"`
	// The key of partitionKeyMode "fixed"; in modes "property" and "field",
	// the key of records lacking the property or field (empty: the default
	// rule). 1 to 256 characters.
	DefaultPartitionKey string `json:"defaultPartitionKey"`
	// Message property holding a decimal explicit hash key (0 to 2^128-1)
	// that overrides the partition key's hash to pick the shard. Empty: none.
	ExplicitHashKeyProperty string `json:"explicitHashKeyProperty"`
	// Message property naming the target stream of each record. Records
	// without it go by topicToStreamMap, then to awsKinesisStreamName.
	StreamNameProperty string `json:"streamNameProperty"`
	// Map from input topic to target stream, as a map or a JSON object in a
	// string. Topics may be given as persistent://tenant/namespace/topic,
	// tenant/namespace/topic or topic (public/default); a partitioned topic's
	// partitions follow its entry. Unlisted topics go to awsKinesisStreamName.
	TopicToStreamMap map[string]string `json:"topicToStreamMap"`
	// What happens to a record that cannot be written (non-retryable error,
	// or recordTtl exceeded): "fail" (negative ack, so Pulsar redelivers it,
	// and its dead-letter policy applies), "deadLetter" (publish it to
	// deadLetterTopic with the error in properties, then ack it) or
	// "failOnError" (the instance exits non-zero, and the records not yet
	// acked are redelivered after the restart).
	FailurePolicy FailurePolicy `json:"failurePolicy"`
	// failurePolicy "deadLetter": the topic that receives failed records.
	DeadLetterTopic string `json:"deadLetterTopic"`
	// Do not retry records throttled by Kinesis
	// (ProvisionedThroughputExceededException): fail them at once, so
	// failurePolicy applies (KPL FailIfThrottled).
	FailIfThrottled bool `json:"failIfThrottled"`
	// Maximum records held by the sink (buffered or in flight). When full,
	// the sink stops taking records, which stops the Pulsar consumer.
	MaxBufferedRecords int `json:"maxBufferedRecords"`
	// Maximum bytes of record data held by the sink (buffered or in flight).
	// A record larger than what is left is taken only when the buffer is
	// empty.
	MaxBufferedBytes int64 `json:"maxBufferedBytes"`
	// Most data + partition key bytes of the PutRecords requests in flight
	// at once; no request starts while they reach it. A request in flight is
	// held as its records and again as its encoded body, so this bounds
	// memory with large records. 0: a quarter of maxBufferedBytes (and at
	// least collectionMaxSize).
	MaxInFlightBytes int64 `json:"maxInFlightBytes"`
	// CloudWatch metrics level, as in the KPL: "none" (no CloudWatch metrics,
	// so no cloudwatch:PutMetricData permission is needed), "summary" or
	// "detailed". The Prometheus metrics are always served.
	MetricsLevel MetricsLevel `json:"metricsLevel"`
	// CloudWatch metrics dimensions, as in the KPL: "global", "stream" or
	// "shard".
	MetricsGranularity MetricsGranularity `json:"metricsGranularity"`
	// CloudWatch namespace of the metrics; must not start with "AWS/".
	MetricsNamespace string `json:"metricsNamespace"`
	// Delay between two CloudWatch metrics uploads, in milliseconds.
	MetricsUploadDelayInMillis int64 `json:"metricsUploadDelayInMillis"`
	// The kinesis-go NAR only (pulsar-admin sinks create): host:port where its
	// kinesis-sink child serves the kinesis_sink_* Prometheus families at
	// /metrics, for example 127.0.0.1:9464. That is instance 0's address;
	// instance N serves at the port plus N (9465 for instance 1), so that
	// the instances on one host do not collide. Empty: not served. The Go
	// function serves them on the instance's metrics port instead and
	// ignores this.
	SidecarMetricsAddress string `json:"sidecarMetricsAddress"`

	// origin names where a key's value came from when it was not the key
	// itself (an extraKinesisProducerConfig entry), so errors name what the
	// user wrote.
	origin map[string]string
}

// Defaults of the keys that are not the zero value.
const (
	DefaultRetryInitialDelayInMillis     = 100
	DefaultRetryMaxDelayInMillis         = 60000
	DefaultCollectionMaxCount            = 500
	DefaultCollectionMaxSize             = 5242880
	DefaultConnectTimeout                = 6000
	DefaultRequestTimeout                = 6000
	DefaultMaxConnections                = 24
	DefaultMinConnections                = 1
	DefaultRateLimit                     = 150
	DefaultRecordTTL                     = 30000
	DefaultCredentialsRefreshDelay       = 5000
	DefaultRecordMaxBufferedTimeInMillis = 100
	DefaultAggregationMaxSize            = 51200
	DefaultAggregationMaxCount           = 4294967295
	DefaultMaxBufferedRecords            = 10000
	DefaultMaxBufferedBytes              = 64 << 20
	DefaultMetricsNamespace              = "KinesisProducerLibrary"
	DefaultMetricsUploadDelayInMillis    = 60000
	// DefaultPartitionKeyFallback is the last resort of the default
	// partition key rule, as in the Java sink.
	DefaultPartitionKeyFallback = "default"
)

// Default returns a Config with every key at its default. It does not pass
// Validate: a stream and a region (or endpoints) must be added.
func Default() *Config {
	return &Config{
		MessageFormat:                 OnlyRawPayload,
		JSONIncludeNonNulls:           true,
		RetryInitialDelayInMillis:     DefaultRetryInitialDelayInMillis,
		RetryMaxDelayInMillis:         DefaultRetryMaxDelayInMillis,
		AggregationEnabled:            true,
		CollectionMaxCount:            DefaultCollectionMaxCount,
		CollectionMaxSize:             DefaultCollectionMaxSize,
		ConnectTimeout:                DefaultConnectTimeout,
		RequestTimeout:                DefaultRequestTimeout,
		MaxConnections:                DefaultMaxConnections,
		MinConnections:                DefaultMinConnections,
		RateLimit:                     DefaultRateLimit,
		RateLimitScope:                RateLimitPerFunction,
		AdaptiveRateLimit:             true,
		RecordTTL:                     DefaultRecordTTL,
		CredentialsRefreshDelay:       DefaultCredentialsRefreshDelay,
		ExtraKinesisProducerConfig:    map[string]string{},
		RecordMaxBufferedTimeInMillis: DefaultRecordMaxBufferedTimeInMillis,
		AggregationMaxSize:            DefaultAggregationMaxSize,
		AggregationMaxCount:           DefaultAggregationMaxCount,
		AggregationMode:               AggregateByShard,
		PartitionKeyMode:              PartitionKeyModeDefault,
		TopicToStreamMap:              map[string]string{},
		FailurePolicy:                 FailurePolicyFail,
		MaxBufferedRecords:            DefaultMaxBufferedRecords,
		MaxBufferedBytes:              DefaultMaxBufferedBytes,
		MetricsLevel:                  MetricsDetailed,
		MetricsGranularity:            GranularityShard,
		MetricsNamespace:              DefaultMetricsNamespace,
		MetricsUploadDelayInMillis:    DefaultMetricsUploadDelayInMillis,
	}
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// Durations of the millisecond keys. Validate bounds every millisecond key
// so that these cannot overflow.

func (c *Config) RetryInitialDelay() time.Duration      { return ms(c.RetryInitialDelayInMillis) }
func (c *Config) RetryMaxDelay() time.Duration          { return ms(c.RetryMaxDelayInMillis) }
func (c *Config) ConnectTimeoutDuration() time.Duration { return ms(c.ConnectTimeout) }
func (c *Config) RequestTimeoutDuration() time.Duration { return ms(c.RequestTimeout) }
func (c *Config) RecordTTLDuration() time.Duration      { return ms(c.RecordTTL) }
func (c *Config) CredentialsRefreshInterval() time.Duration {
	return ms(c.CredentialsRefreshDelay)
}
func (c *Config) RecordMaxBufferedTime() time.Duration { return ms(c.RecordMaxBufferedTimeInMillis) }
func (c *Config) MetricsUploadDelay() time.Duration    { return ms(c.MetricsUploadDelayInMillis) }

// CloudWatchEnabled reports whether metrics are to be uploaded to CloudWatch
// (metricsLevel other than "none").
func (c *Config) CloudWatchEnabled() bool { return c.MetricsLevel != MetricsNone }

// String renders the configuration as JSON with the secret redacted, so that
// %v and %+v of a Config or *Config never show it.
func (c Config) String() string {
	b, err := json.Marshal(c)
	if err != nil {
		return "conf.Config{?}"
	}
	return string(b)
}

// GoString is String for %#v.
func (c Config) GoString() string { return "conf.Config" + c.String() }

// Secret is a string that never prints: String, GoString, every fmt verb,
// JSON, YAML and slog show "****" (or "" when it is empty, so that an unset
// secret is visible as such). Reveal returns the value.
type Secret string

const redacted = "****"

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return redacted
}

func (s Secret) String() string   { return s.mask() }
func (s Secret) GoString() string { return fmt.Sprintf("conf.Secret(%q)", s.mask()) }

// Format makes every verb (%s, %q, %x, %d…) print the mask: without it, a
// verb fmt does not route to String would print the raw string.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.mask())
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.mask())
	default:
		fmt.Fprint(f, s.mask())
	}
}

func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.mask()) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }
func (s Secret) MarshalYAML() (any, error)    { return s.mask(), nil }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.mask()) }
