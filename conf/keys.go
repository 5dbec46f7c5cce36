package conf

import (
	"math"
	"reflect"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

type kind int

const (
	kString kind = iota
	kSecret
	kBool
	kInt
	kPort // nullable integer 1-65535
	kEnum
	kMap
)

// maxMillis is the largest millisecond value whose time.Duration does not
// overflow; it bounds the millisecond keys so the sink can convert freely.
const maxMillis = math.MaxInt64 / 1_000_000

// spec is what the loader and Validate know about a key beyond its Go type.
type spec struct {
	name     string
	kind     kind
	min, max int64
	unit     string   // shown after the range in messages ("milliseconds")
	enum     []string // kEnum: the canonical spellings
	java     bool     // a key of the Java sink
}

// specs lists every key in documentation order: the Java sink's keys first.
// TestSpecsCoverConfig checks that it matches the json tags of Config.
var specs = []spec{
	{name: "awsEndpoint", kind: kString, java: true},
	{name: "awsEndpointPort", kind: kPort, min: 1, max: 65535, java: true},
	{name: "skipCertificateValidation", kind: kBool, java: true},
	{name: "awsRegion", kind: kString, java: true},
	{name: "awsKinesisStreamName", kind: kString, java: true},
	{name: "awsCredentialPluginName", kind: kString, java: true},
	{name: "awsCredentialPluginParam", kind: kSecret, java: true},
	{name: "awsStsEndpoint", kind: kString, java: true},
	{name: "awsStsPort", kind: kPort, min: 1, max: 65535, java: true},
	{name: "cloudwatchEndpoint", kind: kString, java: true},
	{name: "messageFormat", kind: kEnum, java: true, enum: []string{
		string(OnlyRawPayload), string(FullMessageInJSON), string(FullMessageInFB), string(FullMessageInJSONExpandValue)}},
	{name: "jsonIncludeNonNulls", kind: kBool, java: true},
	{name: "jsonFlatten", kind: kBool, java: true},
	{name: "jsonIncludeMessageId", kind: kBool},
	{name: "retainOrdering", kind: kBool, java: true},
	{name: "retryInitialDelayInMillis", kind: kInt, min: 1, max: maxMillis, unit: "milliseconds", java: true},
	{name: "retryMaxDelayInMillis", kind: kInt, min: 1, max: maxMillis, unit: "milliseconds", java: true},
	{name: "aggregationEnabled", kind: kBool, java: true},
	{name: "collectionMaxCount", kind: kInt, min: 1, max: kinesisrules.MaxRecordsPerRequest, java: true},
	{name: "collectionMaxSize", kind: kInt, min: 1, max: kinesisrules.MaxBytesPerRequest, unit: "bytes", java: true},
	{name: "connectTimeout", kind: kInt, min: 100, max: 300000, unit: "milliseconds", java: true},
	{name: "requestTimeout", kind: kInt, min: 100, max: 600000, unit: "milliseconds", java: true},
	{name: "maxConnections", kind: kInt, min: 1, max: 256, java: true},
	{name: "minConnections", kind: kInt, min: 1, max: 16, java: true},
	{name: "rateLimit", kind: kInt, min: 1, max: math.MaxInt64, unit: "percent", java: true},
	{name: "rateLimitScope", kind: kEnum, enum: []string{string(RateLimitPerFunction), string(RateLimitPerInstance)}},
	{name: "adaptiveRateLimit", kind: kBool},
	{name: "recordTtl", kind: kInt, min: 1, max: maxMillis, unit: "milliseconds", java: true},
	{name: "credentialsRefreshDelay", kind: kInt, min: 1, max: 300000, unit: "milliseconds", java: true},
	{name: "nativeExecutable", kind: kString, java: true},
	{name: "extraKinesisProducerConfig", kind: kMap, java: true},

	{name: "cloudwatchPort", kind: kPort, min: 1, max: 65535},
	{name: "recordMaxBufferedTimeInMillis", kind: kInt, min: 0, max: maxMillis, unit: "milliseconds"},
	{name: "aggregationMaxSize", kind: kInt, min: 64, max: kinesisrules.MaxRecordSize, unit: "bytes"},
	{name: "aggregationMaxCount", kind: kInt, min: 1, max: math.MaxInt64},
	{name: "aggregationMode", kind: kEnum, enum: []string{string(AggregateByShard), string(AggregateByKey)}},
	{name: "partitionKeyMode", kind: kEnum, enum: []string{
		string(PartitionKeyModeDefault), string(PartitionKeyModeProperty), string(PartitionKeyModeField),
		string(PartitionKeyModeRandom), string(PartitionKeyModeFixed)}},
	{name: "partitionKeyProperty", kind: kString},
	{name: "partitionKeyField", kind: kString},
	{name: "defaultPartitionKey", kind: kString},
	{name: "explicitHashKeyProperty", kind: kString},
	{name: "streamNameProperty", kind: kString},
	{name: "topicToStreamMap", kind: kMap},
	{name: "failurePolicy", kind: kEnum, enum: []string{
		string(FailurePolicyFail), string(FailurePolicyDeadLetter), string(FailurePolicyFailOnError)}},
	{name: "deadLetterTopic", kind: kString},
	{name: "failIfThrottled", kind: kBool},
	{name: "maxBufferedRecords", kind: kInt, min: 1, max: 100_000_000},
	{name: "maxBufferedBytes", kind: kInt, min: 1 << 20, max: 1 << 40, unit: "bytes"},
	{name: "maxInFlightBytes", kind: kInt, min: 0, max: 1 << 40, unit: "bytes"},
	{name: "metricsLevel", kind: kEnum, enum: []string{string(MetricsNone), string(MetricsSummary), string(MetricsDetailed)}},
	{name: "metricsGranularity", kind: kEnum, enum: []string{
		string(GranularityGlobal), string(GranularityStream), string(GranularityShard)}},
	{name: "metricsNamespace", kind: kString},
	{name: "metricsUploadDelayInMillis", kind: kInt, min: 1, max: 60000, unit: "milliseconds"},
	{name: "sidecarMetricsAddress", kind: kString},
}

var (
	specByName = map[string]*spec{}
	// fieldIndex maps a key to its Config field, found by json tag.
	fieldIndex = map[string]int{}
	keyNames   []string
)

func init() {
	for i := range specs {
		specByName[specs[i].name] = &specs[i]
		keyNames = append(keyNames, specs[i].name)
	}
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		if tag == "" {
			continue
		}
		fieldIndex[strings.Split(tag, ",")[0]] = i
	}
}

// Keys returns the names of all configuration keys, in documentation order.
func Keys() []string { return append([]string(nil), keyNames...) }

// field returns the addressable Config field of a key.
func (c *Config) field(name string) reflect.Value {
	return reflect.ValueOf(c).Elem().Field(fieldIndex[name])
}

// keyName is how errors name a key: the extraKinesisProducerConfig entry the
// value came from, if it came from one.
func (c *Config) keyName(name string) string {
	if o, ok := c.origin[name]; ok {
		return o
	}
	return name
}
