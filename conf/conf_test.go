package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	testAccessKey = "AKIDEXAMPLEACCESS"
	testSecretKey = "wJalrXUtnFEMI-K7MDENG-SECRET"
)

var staticParam = `{"accessKey":"` + testAccessKey + `","secretKey":"` + testSecretKey + `"}`

// minimal is the Java sink's documented minimal configuration.
func minimal() map[string]any {
	return map[string]any{
		"awsRegion":                "us-east-1",
		"awsKinesisStreamName":     "my-stream",
		"awsCredentialPluginParam": staticParam,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == deleteKey {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

type deleteMarker struct{}

var deleteKey = deleteMarker{}

func mustLoad(t *testing.T, m map[string]any, secret func(string) (string, bool)) (*Config, []string) {
	t.Helper()
	c, w, err := FromMap(m, secret)
	if err != nil {
		t.Fatalf("FromMap: %v (warnings %q)", err, w)
	}
	return c, w
}

func TestDefaultsMatchJavaSink(t *testing.T) {
	c := Default()
	// The Java sink's table (java-kinesis-sink.md §1) and the KPL defaults.
	want := map[string]any{
		"awsEndpoint": "", "awsEndpointPort": (*int)(nil), "skipCertificateValidation": false,
		"awsRegion": "", "awsKinesisStreamName": "", "awsCredentialPluginName": "",
		"awsCredentialPluginParam": Secret(""), "awsStsEndpoint": "", "awsStsPort": (*int)(nil),
		"cloudwatchEndpoint": "", "messageFormat": OnlyRawPayload, "jsonIncludeNonNulls": true,
		"jsonFlatten": false, "jsonIncludeMessageId": false, "retainOrdering": false, "retryInitialDelayInMillis": int64(100),
		"retryMaxDelayInMillis": int64(60000), "aggregationEnabled": true, "collectionMaxCount": 500,
		"collectionMaxSize": int64(5242880), "connectTimeout": int64(6000), "requestTimeout": int64(6000),
		"maxConnections": 24, "minConnections": 1, "rateLimit": int64(150), "recordTtl": int64(30000),
		"credentialsRefreshDelay": int64(5000), "nativeExecutable": "",
		"extraKinesisProducerConfig": map[string]string{},

		"cloudwatchPort": (*int)(nil), "recordMaxBufferedTimeInMillis": int64(100),
		"aggregationMaxSize": int64(51200), "aggregationMaxCount": int64(4294967295),
		"aggregationMode": AggregateByShard, "partitionKeyMode": PartitionKeyModeDefault, "rateLimitScope": RateLimitPerFunction, "adaptiveRateLimit": true,
		"partitionKeyProperty": "", "partitionKeyField": "", "defaultPartitionKey": "",
		"explicitHashKeyProperty": "", "streamNameProperty": "", "topicToStreamMap": map[string]string{},
		"failurePolicy": FailurePolicyFail, "deadLetterTopic": "", "failIfThrottled": false,
		"maxBufferedRecords": 10000, "maxBufferedBytes": int64(64 << 20), "maxInFlightBytes": int64(0), "metricsLevel": MetricsDetailed,
		"metricsGranularity": GranularityShard, "metricsNamespace": "KinesisProducerLibrary",
		"metricsUploadDelayInMillis": int64(60000), "sidecarMetricsAddress": "",
	}
	if len(want) != len(specs) {
		t.Fatalf("test lists %d keys, specs has %d", len(want), len(specs))
	}
	for _, k := range Keys() {
		got := c.field(k).Interface()
		if !reflect.DeepEqual(got, want[k]) {
			t.Errorf("%s: default %#v, want %#v", k, got, want[k])
		}
	}
	if !c.CloudWatchEnabled() {
		t.Error("CloudWatch metrics must be on by default, as with the KPL")
	}
	if d := c.RecordTTLDuration(); d.Milliseconds() != 30000 {
		t.Errorf("RecordTTLDuration %v", d)
	}
}

// The json tags of Config and the specs table must list the same keys, in
// the same order, or loading and documentation silently miss a key.
func TestSpecsCoverConfig(t *testing.T) {
	typ := reflect.TypeFor[Config]()
	var tags []string
	for i := 0; i < typ.NumField(); i++ {
		if tag := typ.Field(i).Tag.Get("json"); tag != "" {
			tags = append(tags, strings.Split(tag, ",")[0])
		}
	}
	if !reflect.DeepEqual(tags, Keys()) {
		t.Fatalf("json tags %v\nspecs     %v", tags, Keys())
	}
	for _, sp := range specs {
		f, _ := typ.FieldByName(typ.Field(fieldIndex[sp.name]).Name)
		k := f.Type.Kind()
		ok := map[kind]bool{
			kString: k == reflect.String, kSecret: f.Type == reflect.TypeFor[Secret](), kBool: k == reflect.Bool,
			kInt: k == reflect.Int || k == reflect.Int64, kPort: f.Type == reflect.TypeFor[*int](),
			kEnum: k == reflect.String, kMap: f.Type == reflect.TypeFor[map[string]string](),
		}[sp.kind]
		if !ok {
			t.Errorf("%s: spec kind %d does not fit field type %s", sp.name, sp.kind, f.Type)
		}
	}
}

func TestJavaMinimalConfigLoadsUnchanged(t *testing.T) {
	c, w := mustLoad(t, minimal(), nil)
	if len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	if c.AWSRegion != "us-east-1" || c.AWSKinesisStreamName != "my-stream" {
		t.Errorf("got %+v", c)
	}
	cr, err := c.Credentials()
	if err != nil {
		t.Fatal(err)
	}
	if cr.Source != StaticKeys || cr.AccessKey.Reveal() != testAccessKey || cr.SecretKey.Reveal() != testSecretKey {
		t.Errorf("credentials %+v", cr)
	}
	if u, _ := c.KinesisEndpointURL(); u != "" {
		t.Errorf("no endpoint configured, got URL %q", u)
	}
	if c.AWSKinesisStreamName != "my-stream" {
		t.Error("awsKinesisStreamName must be kept")
	}
}

func TestStringTypedValues(t *testing.T) {
	m := with(minimal(),
		"collectionMaxCount", "100",
		"collectionMaxSize", " 1048576 ",
		"aggregationEnabled", "FALSE",
		"jsonFlatten", " true",
		"awsEndpointPort", "4566",
		"awsStsPort", "",
		"recordTtl", float64(20000),
		"rateLimit", json.Number("90"),
		"maxConnections", int64(8),
		"retryMaxDelayInMillis", float64(1e4),
		"messageFormat", "full_message_in_json_expand_value",
		"partitionKeyMode", "Random",
		"awsKinesisStreamName", 2024, // a YAML user wrote a number
	)
	c, _ := mustLoad(t, m, nil)
	if c.CollectionMaxCount != 100 || c.CollectionMaxSize != 1048576 || c.AggregationEnabled || !c.JSONFlatten {
		t.Errorf("string values: %+v", c)
	}
	if c.AWSEndpointPort == nil || *c.AWSEndpointPort != 4566 || c.AWSStsPort != nil {
		t.Errorf("ports: %v %v", c.AWSEndpointPort, c.AWSStsPort)
	}
	if c.RecordTTL != 20000 || c.RateLimit != 90 || c.MaxConnections != 8 || c.RetryMaxDelayInMillis != 10000 {
		t.Errorf("numbers: %+v", c)
	}
	if c.MessageFormat != FullMessageInJSONExpandValue || c.PartitionKeyMode != PartitionKeyModeRandom {
		t.Errorf("enums are stored canonically: %q %q", c.MessageFormat, c.PartitionKeyMode)
	}
	if c.AWSKinesisStreamName != "2024" {
		t.Errorf("stream %q", c.AWSKinesisStreamName)
	}
}

func TestNullLeavesDefault(t *testing.T) {
	c, _ := mustLoad(t, with(minimal(), "collectionMaxCount", nil, "awsEndpointPort", nil), nil)
	if c.CollectionMaxCount != 500 || c.AWSEndpointPort != nil {
		t.Errorf("%d %v", c.CollectionMaxCount, c.AWSEndpointPort)
	}
}

func TestNestedMapsAsMapOrJSONString(t *testing.T) {
	for _, v := range []any{
		`{"orders":"orders-stream","t/n/pay":"pay"}`,
		map[string]any{"orders": "orders-stream", "t/n/pay": "pay"},
		map[any]any{"orders": "orders-stream", "t/n/pay": "pay"},
	} {
		c, _ := mustLoad(t, with(minimal(), "topicToStreamMap", v), nil)
		want := map[string]string{
			"persistent://public/default/orders": "orders-stream",
			"persistent://t/n/pay":               "pay",
		}
		if !reflect.DeepEqual(c.TopicToStreamMap, want) {
			t.Errorf("%T: %v", v, c.TopicToStreamMap)
		}
	}
	c, _ := mustLoad(t, with(minimal(), "extraKinesisProducerConfig", `{"RecordTtl": 1234}`), nil)
	if c.RecordTTL != 1234 {
		t.Errorf("extra as JSON string: %d", c.RecordTTL)
	}
	c, _ = mustLoad(t, with(minimal(), "extraKinesisProducerConfig", ""), nil)
	if len(c.ExtraKinesisProducerConfig) != 0 {
		t.Errorf("empty string is an empty map: %v", c.ExtraKinesisProducerConfig)
	}
	// YAML users may write the credential param as a map.
	c, _ = mustLoad(t, with(minimal(), "awsCredentialPluginParam", map[string]any{"accessKey": "a", "secretKey": "b"}), nil)
	if cr, err := c.Credentials(); err != nil || cr.AccessKey.Reveal() != "a" || cr.SecretKey.Reveal() != "b" {
		t.Errorf("param as map: %+v %v", cr, err)
	}
}

func TestTopicMapKeysNormalized(t *testing.T) {
	m := with(minimal(), "awsKinesisStreamName", deleteKey, "topicToStreamMap", map[string]any{
		"orders": "o", "persistent://acme/prod/pay": "p",
	})
	c, _ := mustLoad(t, m, nil)
	want := map[string]string{"persistent://public/default/orders": "o", "persistent://acme/prod/pay": "p"}
	if len(c.TopicToStreamMap) != len(want) {
		t.Fatalf("topicToStreamMap %v, want %v", c.TopicToStreamMap, want)
	}
	for k, v := range want {
		if c.TopicToStreamMap[k] != v {
			t.Errorf("topicToStreamMap[%q] = %q, want %q", k, c.TopicToStreamMap[k], v)
		}
	}
	// streamNameProperty alone is enough to route.
	mustLoad(t, with(minimal(), "awsKinesisStreamName", deleteKey, "streamNameProperty", "stream"), nil)
}

func TestNormalizeTopic(t *testing.T) {
	good := map[string]string{
		"t":                             "persistent://public/default/t",
		"a/b/c":                         "persistent://a/b/c",
		"a/cluster/b/c":                 "persistent://a/cluster/b/c",
		"non-persistent://a/b/c":        "non-persistent://a/b/c",
		"persistent://public/default/x": "persistent://public/default/x",
	}
	for in, want := range good {
		if got, err := NormalizeTopic(in); err != nil || got != want {
			t.Errorf("NormalizeTopic(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a/b", "a//c", "http://a/b/c", "persistent://a/b", "a b", "a/b/c/d/e"} {
		if got, err := NormalizeTopic(in); err == nil {
			t.Errorf("NormalizeTopic(%q) = %q, want an error", in, got)
		}
	}
}

func TestSecretsFromSecretFunc(t *testing.T) {
	secrets := map[string]string{"awsCredentialPluginParam": staticParam}
	lookup := func(name string) (string, bool) { v, ok := secrets[name]; return v, ok }

	// Missing from the config: the secret provides it.
	c, _ := mustLoad(t, with(minimal(), "awsCredentialPluginParam", deleteKey), lookup)
	if c.AWSCredentialPluginParam.Reveal() != staticParam {
		t.Errorf("param from secret: %q", c.AWSCredentialPluginParam.Reveal())
	}
	// Present in both: the secret wins (IOConfigUtils.loadWithSecrets).
	c, _ = mustLoad(t, with(minimal(), "awsCredentialPluginParam", `{"accessKey":"x","secretKey":"y"}`), lookup)
	if c.AWSCredentialPluginParam.Reveal() != staticParam {
		t.Errorf("secret must win over the config value")
	}
	// No secret of that name: the config value stays.
	c, _ = mustLoad(t, minimal(), func(string) (string, bool) { return "", false })
	if c.AWSCredentialPluginParam.Reveal() != staticParam {
		t.Errorf("config value lost")
	}
	// Neither: the error says where the value may come from, no value.
	_, _, err := FromMap(with(minimal(), "awsCredentialPluginParam", deleteKey), nil)
	if err == nil || !strings.Contains(err.Error(), "function secret") {
		t.Errorf("err = %v", err)
	}
	// A bad secret is reported without its value.
	bad := `{"accessKey":"` + testAccessKey + `"}`
	_, _, err = FromMap(minimal(), func(string) (string, bool) { return bad, true })
	if err == nil || strings.Contains(err.Error(), testAccessKey) || !strings.Contains(err.Error(), `"secretKey" is missing`) {
		t.Errorf("err = %v", err)
	}
}

func TestExtraKinesisProducerConfig(t *testing.T) {
	m := with(minimal(), "extraKinesisProducerConfig", map[string]any{
		"RecordMaxBufferedTime": "250",
		"aggregationMaxSize":    "102400", // camelCase, as Jackson reads it
		"MetricsLevel":          "NONE",
		"VerifyCertificate":     "false",
		"CollectionMaxCount":    "100", // overridden by the top level
		"Region":                "eu-west-1",
		"KinesisEndpoint":       "localhost",
		"KinesisPort":           4567,
		"ThreadingModel":        "POOLED",
		"ProxyPassword":         "hunter2-proxy",
		"RecordMaxBuferedTime":  "1",
		"NativeExecutable":      "/opt/kpl",
	}, "collectionMaxCount", 200, "awsRegion", "")
	c, w := mustLoad(t, with(m, "cloudwatchEndpoint", "localhost"), nil)
	if c.RecordMaxBufferedTimeInMillis != 250 || c.AggregationMaxSize != 102400 || c.MetricsLevel != MetricsNone ||
		!c.SkipCertificateValidation || c.CollectionMaxCount != 200 || c.AWSRegion != "eu-west-1" ||
		c.AWSEndpoint != "localhost" || *c.AWSEndpointPort != 4567 {
		t.Errorf("extra not applied: %+v", c)
	}
	joined := strings.Join(w, "\n")
	for _, want := range []string{
		`"extraKinesisProducerConfig.CollectionMaxCount" ignored: the top-level key "collectionMaxCount" is set`,
		`"extraKinesisProducerConfig.ThreadingModel" ignored`,
		`"extraKinesisProducerConfig.ProxyPassword" ignored: set HTTPS_PROXY`,
		`"extraKinesisProducerConfig.NativeExecutable" ignored`,
		`"extraKinesisProducerConfig.RecordMaxBuferedTime": unknown KPL setting, ignored; did you mean "RecordMaxBufferedTime"?`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing warning %q in\n%s", want, joined)
		}
	}
	if len(w) != 5 {
		t.Errorf("want 5 warnings, got %d:\n%s", len(w), joined)
	}
	if strings.Contains(joined, "hunter2-proxy") || strings.Contains(c.String(), "hunter2-proxy") {
		t.Error("the proxy password leaked")
	}
	if c.ExtraKinesisProducerConfig["RecordMaxBufferedTime"] != "250" {
		t.Errorf("the extra map is kept: %v", c.ExtraKinesisProducerConfig)
	}
	// An out-of-range value names the extra entry, not the key it sets.
	_, _, err := FromMap(with(minimal(), "extraKinesisProducerConfig", map[string]any{"RecordTtl": "0"}), nil)
	var e *Error
	if !errors.As(err, &e) || e.Key != "extraKinesisProducerConfig.RecordTtl" {
		t.Errorf("err = %v", err)
	}
	// Validate also names the entry for rules between keys.
	_, _, err = FromMap(with(minimal(), "extraKinesisProducerConfig", map[string]any{"MinConnections": "10"}, "maxConnections", 4), nil)
	if !errors.As(err, &e) || e.Key != "extraKinesisProducerConfig.MinConnections" {
		t.Errorf("err = %v", err)
	}
}

func TestUnknownKeyWarnings(t *testing.T) {
	m := with(minimal(),
		"awsKinesisStreamname", "x",
		"region", "us-east-1",
		"RecordMaxBufferedTime", 10,
		"collectionMaxCnt", 5,
		"totallyUnrelated", true,
	)
	_, w := mustLoad(t, m, nil)
	want := []string{
		`sink config: unknown key "RecordMaxBufferedTime" ignored; did you mean "recordMaxBufferedTimeInMillis" (or "RecordMaxBufferedTime" in extraKinesisProducerConfig)?`,
		`sink config: unknown key "awsKinesisStreamname" ignored; did you mean "awsKinesisStreamName"?`,
		`sink config: unknown key "collectionMaxCnt" ignored; did you mean "collectionMaxCount"?`,
		`sink config: unknown key "region" ignored; did you mean "awsRegion" (or "Region" in extraKinesisProducerConfig)?`,
		`sink config: unknown key "totallyUnrelated" ignored`,
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(want, "\n"))
	}
	// The warning explains the error that follows from the typo.
	_, w, err := FromMap(with(minimal(), "awsKinesisStreamName", deleteKey, "awsKinesisStreamname", "x"), nil)
	if err == nil || len(w) != 1 {
		t.Errorf("err %v, warnings %q", err, w)
	}
}

func TestConsistencyWarnings(t *testing.T) {
	_, w := mustLoad(t, with(minimal(),
		"jsonFlatten", true, "partitionKeyProperty", "k", "deadLetterTopic", "dlq",
		"nativeExecutable", "/opt/kpl"), nil)
	if len(w) != 4 {
		t.Errorf("warnings: %q", w)
	}
	_, w = mustLoad(t, with(minimal(), "messageFormat", "FULL_MESSAGE_IN_JSON_EXPAND_VALUE", "jsonFlatten", true,
		"partitionKeyMode", "property", "partitionKeyProperty", "k", "failurePolicy", "deadLetter", "deadLetterTopic", "dlq"), nil)
	if len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
}

func TestEndpointURLs(t *testing.T) {
	p := func(n int) *int { return &n }
	cases := []struct {
		host string
		port *int
		want string
	}{
		{"localhost", p(4566), "https://localhost:4566"},
		{"localhost", nil, "https://localhost"},
		{"localhost:4567", nil, "https://localhost:4567"},
		{"localhost:4567", p(4567), "https://localhost:4567"},
		{"http://127.0.0.1:4567", nil, "http://127.0.0.1:4567"},
		{"http://127.0.0.1", p(4567), "http://127.0.0.1:4567"},
		{"https://kinesis.us-east-1.amazonaws.com/", nil, "https://kinesis.us-east-1.amazonaws.com"},
		{"[::1]:4566", nil, "https://[::1]:4566"},
		{"::1", p(4566), "https://[::1]:4566"},
		{"::1", nil, "https://[::1]"},
		{"kinesis_local", p(4567), "https://kinesis_local:4567"},
		{"", p(4567), ""},
	}
	for _, tc := range cases {
		c := Default()
		c.AWSEndpoint, c.AWSEndpointPort = tc.host, tc.port
		c.AWSStsEndpoint, c.AWSStsPort = tc.host, tc.port
		c.CloudwatchEndpoint, c.CloudwatchPort = tc.host, tc.port
		for name, f := range map[string]func() (string, error){
			"kinesis": c.KinesisEndpointURL, "sts": c.STSEndpointURL, "cloudwatch": c.CloudWatchEndpointURL,
		} {
			got, err := f()
			if err != nil || got != tc.want {
				t.Errorf("%s %q %v: %q, %v; want %q", name, tc.host, tc.port, got, err, tc.want)
			}
		}
	}
	c := Default()
	c.AWSEndpoint = "localhost:4567"
	c.AWSEndpointPort = p(4568)
	if _, err := c.KinesisEndpointURL(); err == nil || !strings.Contains(err.Error(), `"awsEndpointPort": must match the port in awsEndpoint (4567), got 4568`) {
		t.Errorf("err = %v", err)
	}
}

func TestSigningRegion(t *testing.T) {
	c := Default()
	if c.SigningRegion() != "us-east-1" {
		t.Error(c.SigningRegion())
	}
	c.AWSEndpoint = "https://kinesis.eu-central-1.amazonaws.com"
	if c.SigningRegion() != "eu-central-1" {
		t.Error(c.SigningRegion())
	}
	c.AWSRegion = "ap-south-1"
	if c.SigningRegion() != "ap-south-1" {
		t.Error(c.SigningRegion())
	}
	// The Java rule: without a region both endpoints are needed.
	m := with(minimal(), "awsRegion", deleteKey, "awsEndpoint", "localhost", "cloudwatchEndpoint", "localhost", "awsEndpointPort", 4567)
	c, _ = mustLoad(t, m, nil)
	if c.SigningRegion() != "us-east-1" {
		t.Error(c.SigningRegion())
	}
}

func TestCredentialPlugins(t *testing.T) {
	for _, name := range []string{DefaultChainPlugin, DefaultChainPluginLegacy} {
		c, _ := mustLoad(t, with(minimal(), "awsCredentialPluginName", name, "awsCredentialPluginParam", deleteKey), nil)
		if cr, _ := c.Credentials(); cr.Source != DefaultChain {
			t.Errorf("%s: %v", name, cr.Source)
		}
	}
	// STS session names are 2-64 characters: checked when the config loads.
	role := `{"roleArn":"arn:aws:iam::123456789012:role/r","roleSessionName":"s2"}`
	for _, name := range []string{AssumeRolePlugin, AssumeRolePluginLegacy} {
		c, _ := mustLoad(t, with(minimal(), "awsCredentialPluginName", name, "awsCredentialPluginParam", role), nil)
		cr, _ := c.Credentials()
		if cr.Source != AssumeRole || cr.RoleARN != "arn:aws:iam::123456789012:role/r" || cr.RoleSessionName != "s2" {
			t.Errorf("%s: %+v", name, cr)
		}
	}
}

// badCase is a configuration that must fail with one line naming key.
type badCase struct {
	name   string
	m      map[string]any
	key    string // the *Error's Key; "" for the Java region rule
	has    string // a piece the message must contain
	secret func(string) (string, bool)
	hidden []string // values that must not appear (besides the test keys)
}

func badCases() []badCase {
	b := func(kv ...any) map[string]any { return with(minimal(), kv...) }
	s := func(v string) func(string) (string, bool) {
		return func(n string) (string, bool) { return v, n == "awsCredentialPluginParam" }
	}
	long := strings.Repeat("k", 257)
	return []badCase{
		{"int as word", b("collectionMaxCount", "abc"), "collectionMaxCount", `must be an integer 1-500, got "abc"`, nil, nil},
		{"int too big", b("collectionMaxCount", 501), "collectionMaxCount", "got 501", nil, nil},
		{"int fraction", b("collectionMaxCount", 1.5), "collectionMaxCount", "got 1.5", nil, nil},
		{"int fraction string", b("collectionMaxCount", "100.0"), "collectionMaxCount", `got "100.0"`, nil, nil},
		{"request over 10 MiB", b("collectionMaxSize", 10485761), "collectionMaxSize", "1-10485760 (bytes), got 10485761", nil, nil},
		{"port zero", b("awsEndpointPort", 0), "awsEndpointPort", "must be an integer 1-65535, got 0", nil, nil},
		{"port too big", b("awsEndpointPort", "70000"), "awsEndpointPort", `got "70000"`, nil, nil},
		{"sts port word", b("awsStsPort", "x"), "awsStsPort", `got "x"`, nil, nil},
		{"cloudwatch port", b("cloudwatchPort", 65536), "cloudwatchPort", "got 65536", nil, nil},
		{"message format", b("messageFormat", "RAW"), "messageFormat", `must be one of ONLY_RAW_PAYLOAD, FULL_MESSAGE_IN_JSON, FULL_MESSAGE_IN_FB, FULL_MESSAGE_IN_JSON_EXPAND_VALUE, got "RAW"`, nil, nil},
		{"bool yes", b("jsonFlatten", "yes"), "jsonFlatten", `must be true or false, got "yes"`, nil, nil},
		{"bool number", b("retainOrdering", 1), "retainOrdering", "got 1", nil, nil},
		{"retry initial zero", b("retryInitialDelayInMillis", 0), "retryInitialDelayInMillis", "got 0", nil, nil},
		{"retry max below initial", b("retryMaxDelayInMillis", 50), "retryMaxDelayInMillis", "must be at least retryInitialDelayInMillis (100), got 50", nil, nil},
		{"ttl zero", b("recordTtl", 0), "recordTtl", "(milliseconds), got 0", nil, nil},
		{"ttl overflows Duration", b("recordTtl", float64(1e18)), "recordTtl", "got 1e+18", nil, nil},
		{"connect timeout", b("connectTimeout", 50), "connectTimeout", "100-300000 (milliseconds), got 50", nil, nil},
		{"request timeout", b("requestTimeout", 700000), "requestTimeout", "got 700000", nil, nil},
		{"max connections", b("maxConnections", 0), "maxConnections", "1-256, got 0", nil, nil},
		{"min connections range", b("minConnections", 20), "minConnections", "1-16, got 20", nil, nil},
		{"min above max", b("minConnections", 10, "maxConnections", 5), "minConnections", "at most maxConnections (5), got 10", nil, nil},
		{"rate limit", b("rateLimit", -1), "rateLimit", "got -1", nil, nil},
		{"refresh delay", b("credentialsRefreshDelay", 300001), "credentialsRefreshDelay", "got 300001", nil, nil},
		{"no region no endpoints", b("awsRegion", deleteKey), "", `Either "awsRegion" must be set OR all of ["awsEndpoint", "cloudwatchEndpoint"] must be set.`, nil, nil},
		{"endpoint without cloudwatch", b("awsRegion", "", "awsEndpoint", "localhost"), "", `Either "awsRegion" must be set`, nil, nil},
		{"region format", b("awsRegion", "US East 1"), "awsRegion", `got "US East 1"`, nil, nil},
		{"endpoint scheme", b("awsEndpoint", "ftp://host"), "awsEndpoint", `must be a host name, host:port or http(s)://host[:port] URL, got "ftp://host"`, nil, nil},
		{"endpoint path", b("awsEndpoint", "host/path"), "awsEndpoint", `got "host/path"`, nil, nil},
		{"endpoint url path", b("awsEndpoint", "https://host/kinesis"), "awsEndpoint", `got "https://host/kinesis"`, nil, nil},
		{"endpoint port mismatch", b("awsEndpoint", "localhost:4566", "awsEndpointPort", 4567), "awsEndpointPort", "(4566), got 4567", nil, nil},
		{"sts endpoint empty url", b("awsStsEndpoint", "http://"), "awsStsEndpoint", `got "http://"`, nil, nil},
		{"cloudwatch endpoint bad port", b("cloudwatchEndpoint", "host:99999"), "cloudwatchEndpoint", `got "host:99999"`, nil, nil},
		{"no stream", b("awsKinesisStreamName", deleteKey), "awsKinesisStreamName", `(or set topicToStreamMap or streamNameProperty), got ""`, nil, nil},
		{"stream chars", b("awsKinesisStreamName", "bad name!"), "awsKinesisStreamName", `got "bad name!"`, nil, nil},
		{"stream as map", b("awsKinesisStreamName", map[string]any{"a": 1}), "awsKinesisStreamName", `must be a string, got {"a":1}`, nil, nil},
		{"param not JSON", b("awsCredentialPluginParam", "accessKey=x secretKey=hunter2x"), "awsCredentialPluginParam", "not a JSON object", nil, []string{"hunter2x"}},
		{"param empty", b("awsCredentialPluginParam", ""), "awsCredentialPluginParam", "an empty value", nil, nil},
		{"param without secretKey", b("awsCredentialPluginParam", `{"accessKey":"`+testAccessKey+`"}`), "awsCredentialPluginParam", `"secretKey" is missing or blank`, nil, nil},
		{"param blank accessKey", b("awsCredentialPluginParam", `{"accessKey":" ","secretKey":"`+testSecretKey+`"}`), "awsCredentialPluginParam", `"accessKey" is missing or blank`, nil, nil},
		{"param a number", b("awsCredentialPluginParam", 424242), "awsCredentialPluginParam", "got a number", nil, []string{"424242"}},
		{"param from bad secret", b("awsCredentialPluginParam", deleteKey), "awsCredentialPluginParam", "not a JSON object", s(`{"secretKey":"hunter3x"`), []string{"hunter3x"}},
		{"unknown plugin", b("awsCredentialPluginName", "com.acme.Creds"), "awsCredentialPluginName", `got "com.acme.Creds"`, nil, nil},
		{"sts plugin without roleArn", b("awsCredentialPluginName", AssumeRolePlugin, "awsCredentialPluginParam", `{"roleSessionName":"s3cr3t-session"}`), "awsCredentialPluginParam", `"roleArn" is missing`, nil, []string{"s3cr3t-session"}},
		{"sts plugin bad arn", b("awsCredentialPluginName", AssumeRolePlugin, "awsCredentialPluginParam", `{"roleArn":"role-x9","roleSessionName":"s"}`), "awsCredentialPluginParam", `"roleArn" is not an ARN`, nil, []string{"role-x9"}},
		{"partition key mode", b("partitionKeyMode", "prop"), "partitionKeyMode", `got "prop"`, nil, nil},
		{"property mode without property", b("partitionKeyMode", "property"), "partitionKeyProperty", `when partitionKeyMode is "property", got ""`, nil, nil},
		{"field mode without field", b("partitionKeyMode", "field"), "partitionKeyField", `got ""`, nil, nil},
		{"field path", b("partitionKeyMode", "field", "partitionKeyField", "a..b"), "partitionKeyField", `got "a..b"`, nil, nil},
		{"fixed mode without key", b("partitionKeyMode", "fixed"), "defaultPartitionKey", `got ""`, nil, nil},
		{"default key too long", b("partitionKeyMode", "fixed", "defaultPartitionKey", long), "defaultPartitionKey", "1-256 characters", nil, nil},
		{"failure policy", b("failurePolicy", "drop"), "failurePolicy", `must be one of fail, deadLetter, failOnError, got "drop"`, nil, nil},
		{"dead letter without topic", b("failurePolicy", "deadLetter"), "deadLetterTopic", `got ""`, nil, nil},
		{"dead letter topic", b("failurePolicy", "deadLetter", "deadLetterTopic", "a/b"), "deadLetterTopic", `got "a/b"`, nil, nil},
		{"topic map not JSON", b("topicToStreamMap", "orders=o"), "topicToStreamMap", `got "orders=o"`, nil, nil},
		{"topic map bad topic", b("topicToStreamMap", map[string]any{"a/b": "s"}), "topicToStreamMap", `"a/b" is not a topic name`, nil, nil},
		{"topic map bad stream", b("topicToStreamMap", map[string]any{"t": "bad stream"}), "topicToStreamMap", `got "bad stream"`, nil, nil},
		{"topic map nested", b("topicToStreamMap", map[string]any{"t": map[string]any{"x": 1}}), "topicToStreamMap.t", `must be a string, got {"x":1}`, nil, nil},
		{"topic map duplicate", b("topicToStreamMap", map[string]any{"t": "a", "public/default/t": "b"}), "topicToStreamMap", "names the same topic", nil, nil},
		{"extra bad value", b("extraKinesisProducerConfig", map[string]any{"RecordTtl": "abc"}), "extraKinesisProducerConfig.RecordTtl", `got "abc"`, nil, nil},
		{"extra both spellings", b("extraKinesisProducerConfig", map[string]any{"RecordTtl": "1", "recordTtl": "2"}), "extraKinesisProducerConfig", `"RecordTtl" and "recordTtl" are the same KPL setting`, nil, nil},
		{"extra bad bool", b("extraKinesisProducerConfig", map[string]any{"VerifyCertificate": "maybe"}), "extraKinesisProducerConfig.VerifyCertificate", `got "maybe"`, nil, nil},
		{"extra out of range", b("extraKinesisProducerConfig", map[string]any{"CollectionMaxCount": "600"}), "extraKinesisProducerConfig.CollectionMaxCount", `got "600"`, nil, nil},
		{"extra a list", b("extraKinesisProducerConfig", "[1,2]"), "extraKinesisProducerConfig", `got "[1,2]"`, nil, nil},
		{"metrics level", b("metricsLevel", "verbose"), "metricsLevel", `none, summary, detailed, got "verbose"`, nil, nil},
		{"metrics granularity", b("metricsGranularity", "host"), "metricsGranularity", `got "host"`, nil, nil},
		{"metrics namespace", b("metricsNamespace", "AWS/Kinesis"), "metricsNamespace", `got "AWS/Kinesis"`, nil, nil},
		{"metrics upload delay", b("metricsUploadDelayInMillis", 60001), "metricsUploadDelayInMillis", "got 60001", nil, nil},
		{"aggregation size", b("aggregationMaxSize", 63), "aggregationMaxSize", "64-10485760 (bytes), got 63", nil, nil},
		{"aggregation count", b("aggregationMaxCount", 0), "aggregationMaxCount", "got 0", nil, nil},
		{"aggregation mode", b("aggregationMode", "stream"), "aggregationMode", `must be one of shard, key, got "stream"`, nil, nil},
		{"buffered records", b("maxBufferedRecords", 0), "maxBufferedRecords", "got 0", nil, nil},
		{"buffered bytes", b("maxBufferedBytes", 1000), "maxBufferedBytes", "got 1000", nil, nil},
		{"linger negative", b("recordMaxBufferedTimeInMillis", -1), "recordMaxBufferedTimeInMillis", "got -1", nil, nil},
		{"blank property name", b("explicitHashKeyProperty", "  "), "explicitHashKeyProperty", `got "  "`, nil, nil},
		{"multi-line value stays one line", b("awsKinesisStreamName", "a\nb"), "awsKinesisStreamName", `got "a\nb"`, nil, nil},
	}
}

func TestBadConfigs(t *testing.T) {
	cases := badCases()
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := FromMap(tc.m, tc.secret)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v is not *Error", err, err)
			}
			if e.Key != tc.key {
				t.Errorf("key %q, want %q: %s", e.Key, tc.key, msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("not one line: %q", msg)
			}
			if !strings.HasPrefix(msg, "sink config: ") {
				t.Errorf("prefix: %s", msg)
			}
			named := tc.key
			if named == "" {
				named = "awsRegion"
			}
			if !strings.Contains(msg, `"`+named+`"`) {
				t.Errorf("the key %q is not named: %s", named, msg)
			}
			if !strings.Contains(msg, tc.has) {
				t.Errorf("message %q lacks %q", msg, tc.has)
			}
			for _, h := range append([]string{testSecretKey, testAccessKey}, tc.hidden...) {
				if strings.Contains(msg, h) {
					t.Errorf("secret %q shown: %s", h, msg)
				}
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	c, _ := mustLoad(t, minimal(), nil)
	c.ExtraKinesisProducerConfig = map[string]string{}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
		outputs[verb+" Config"] = fmt.Sprintf(verb, *c)
		outputs[verb+" *Config"] = fmt.Sprintf(verb, c)
		outputs[verb+" Secret"] = fmt.Sprintf(verb, c.AWSCredentialPluginParam)
		outputs[verb+" in struct"] = fmt.Sprintf(verb, struct{ S Secret }{c.AWSCredentialPluginParam})
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "config", c, "param", c.AWSCredentialPluginParam)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "config", c, "param", c.AWSCredentialPluginParam)
	outputs["slog"] = buf.String()
	cr, _ := c.Credentials()
	outputs["credentials"] = fmt.Sprintf("%v %+v %#v", cr, cr, *cr)
	for name, out := range outputs {
		for _, s := range []string{testSecretKey, testAccessKey} {
			if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
				t.Errorf("%s shows the secret: %s", name, out)
			}
		}
	}
	if !strings.Contains(outputs["json"], `"awsCredentialPluginParam":"****"`) {
		t.Errorf("json: %s", outputs["json"])
	}
	if !strings.Contains(outputs["%v Config"], `"awsKinesisStreamName":"my-stream"`) {
		t.Errorf("String should still show the rest: %s", outputs["%v Config"])
	}
	if fmt.Sprint(Secret("")) != "" || fmt.Sprintf("%#v", Secret("x")) != `conf.Secret("****")` {
		t.Error("Secret masks")
	}
}

func TestFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Keys at the top level, YAML; a date-like stream name stays text.
	c, w, err := FromFile(write("plain.yaml", `
awsRegion: us-east-1
awsKinesisStreamName: 2024-01-01
awsCredentialPluginParam: {accessKey: a, secretKey: b}
collectionMaxCount: "50"
topicToStreamMap:
  orders: o
`), nil)
	if err != nil || len(w) != 0 || c.AWSKinesisStreamName != "2024-01-01" || c.CollectionMaxCount != 50 ||
		c.TopicToStreamMap["persistent://public/default/orders"] != "o" {
		t.Fatalf("plain yaml: %v %q %+v", err, w, c)
	}
	// JSON, with tabs.
	c, _, err = FromFile(write("plain.json", "{\n\t\"awsRegion\": \"us-east-1\",\n\t\"awsKinesisStreamName\": \"s\",\n\t\"awsCredentialPluginParam\": \"{\\\"accessKey\\\":\\\"a\\\",\\\"secretKey\\\":\\\"b\\\"}\",\n\t\"recordTtl\": 5000\n}"), nil)
	if err != nil || c.RecordTTL != 5000 {
		t.Fatalf("json: %v %+v", err, c)
	}
	// A sink config file: the configs block is used, secrets by name.
	p := write("sink.yaml", `
tenant: public
namespace: default
name: k
inputs: [a]
configs:
  awsRegion: us-east-1
  awsKinesisStreamName: s
secrets:
  awsCredentialPluginParam: '{"accessKey":"a","secretKey":"from-secrets"}'
`)
	f, err := LoadSinkConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err = FromFile(p, f.ClearTextSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if cr, _ := c.Credentials(); cr.SecretKey.Reveal() != "from-secrets" {
		t.Errorf("secret from the file: %+v", cr)
	}
	if s := fmt.Sprintf("%v %+v %#v %d", f, f, f, *f); strings.Contains(s, "from-secrets") {
		t.Errorf("SinkConfigFile printing shows a secret: %s", s)
	}

	errCases := []struct{ content, want string }{
		{"", "the file is empty"},
		{"- a\n- b\n", "must be a map of keys, got a list"},
		{"a: [\n", "sink config file"},
		{"tenant: t\nsubscriptionName: x\nconfigs: {}\n", `line 2: unknown field "subscriptionName"; did you mean "sourceSubscriptionName"?`},
		{"tenant: t\nawsRegion: x\nconfigs: {}\n", `line 2: unknown field "awsRegion"; sink settings go under "configs:"`},
		{"configs: {}\nresources:\n  cpus: 1\n", `line 3: unknown field "resources.cpus"; did you mean "resources.cpu"?`},
		{"configs: {}\ninputSpecs:\n  t:\n    receiverQueue: 5\n", `unknown field "inputSpecs.t.receiverQueue"; did you mean "inputSpecs.t.receiverQueueSize"?`},
		{"configs: {}\nparallelism: many\n", "cannot unmarshal"},
		{"configs: {}\nparallelism: 0\n", `"parallelism": must be an integer of at least 1, got 0`},
		{"configs: {}\nprocessingGuarantees: EXACTLY_ONCE\n", `"processingGuarantees": must be one of ATLEAST_ONCE, ATMOST_ONCE, EFFECTIVELY_ONCE, MANUAL, got "EXACTLY_ONCE"`},
		{"configs: {}\nsourceSubscriptionPosition: earliest\n", `must be one of Latest, Earliest, got "earliest"`},
		{"configs: [a]\n", `"configs" must be a map`},
		{"awsRegion: a\nawsRegion: b\n", `line 2: key "awsRegion" appears twice`},
		{"configs:\n  awsRegion: us-east-1\n", `"awsKinesisStreamName": must be a stream name`},
	}
	for i, tc := range errCases {
		_, _, err := FromFile(write(fmt.Sprintf("bad%d.yaml", i), tc.content), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err = %v, want %q", tc.content, err, tc.want)
		}
	}
	if _, _, err := FromFile(filepath.Join(dir, "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestYAMLAliasBomb(t *testing.T) {
	doc := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	_, _, err := fromBytes("bomb.yaml", []byte(doc), nil)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("err = %v", err)
	}
}

func TestExampleKinesisSinkYAML(t *testing.T) {
	f, err := LoadSinkConfigFile("examples/kinesis-sink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Tenant != "public" || f.Name != "kinesis-sink" || len(f.Inputs) != 2 || *f.Parallelism != 2 ||
		f.ProcessingGuarantees != "ATLEAST_ONCE" || f.RetainKeyOrdering != nil || !*f.RetainOrdering || f.DeadLetterTopic == "" || *f.TimeoutMs != 120000 ||
		f.SourceSubscriptionPosition != "Earliest" || *f.Resources.RAM != 536870912 ||
		*f.InputSpecs["persistent://public/default/orders"].ReceiverQueueSize != 2000 {
		t.Errorf("fields: %+v", f)
	}
	c, w, err := FromFile("examples/kinesis-sink.yaml", f.ClearTextSecrets())
	if err != nil || len(w) != 0 {
		t.Fatalf("%v %q", err, w)
	}
	if c.RecordTTL >= *f.TimeoutMs {
		t.Error("the example must keep recordTtl below timeoutMs, as it advises")
	}
	if c.TopicToStreamMap["persistent://public/default/payments"] != "payments" || c.PartitionKeyField != "customer.id" ||
		c.MetricsLevel != MetricsSummary {
		t.Errorf("configs: %+v", c)
	}
	if cr, _ := c.Credentials(); cr.Source != DefaultChain {
		t.Errorf("credentials %v", cr.Source)
	}
}

func TestExampleJavaSinkConfig(t *testing.T) {
	f, err := LoadSinkConfigFile("examples/java-sink-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.SinkType != "kinesis" || !*f.RetainOrdering {
		t.Errorf("fields: %+v", f)
	}
	c, w, err := FromFile("examples/java-sink-config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantWarn := []string{
		`sink config: "extraKinesisProducerConfig.threadingModel" ignored: it configures the KPL native daemon, which this sink does not have`,
		`sink config: "nativeExecutable" ignored: this sink has no native KPL executable`,
	}
	if !reflect.DeepEqual(w, wantWarn) {
		t.Errorf("warnings %q", w)
	}
	u, _ := c.KinesisEndpointURL()
	s, _ := c.STSEndpointURL()
	if u != "https://localhost:4566" || s != "https://localhost:4566" || !c.SkipCertificateValidation ||
		c.MessageFormat != FullMessageInJSON || c.RecordMaxBufferedTimeInMillis != 250 || c.MetricsLevel != MetricsNone ||
		c.AggregationEnabled || c.RateLimit != 100 || !c.RetainOrdering || c.RetryMaxDelayInMillis != 60000 {
		t.Errorf("config %+v (url %s)", c, u)
	}
}

func TestCredentialSourceString(t *testing.T) {
	if StaticKeys.String() != "static keys" || CredentialSource(9).String() != "CredentialSource(9)" {
		t.Error(StaticKeys.String())
	}
}

func TestValidateProgrammaticConfig(t *testing.T) {
	c := Default()
	c.AWSRegion, c.AWSKinesisStreamName = "us-east-1", "s"
	c.AWSCredentialPluginName = DefaultChainPlugin
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.MessageFormat = "nope"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `"messageFormat": must be one of`) {
		t.Errorf("err = %v", err)
	}
	c.MessageFormat = OnlyRawPayload
	c.RecordTTL = math.MaxInt64
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `"recordTtl"`) {
		t.Errorf("err = %v", err)
	}
}

// Streams may be named by ARN (cross-account writes); an ARN of another
// region than awsRegion is refused with one line naming the key.
func TestStreamARNs(t *testing.T) {
	const arn = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	c, _ := mustLoad(t, with(minimal(), "awsKinesisStreamName", arn, "topicToStreamMap", map[string]any{"t": "arn:aws:kinesis:us-east-1:210987654321:stream/other"}), nil)
	if c.AWSKinesisStreamName != arn || c.TopicToStreamMap["persistent://public/default/t"] != "arn:aws:kinesis:us-east-1:210987654321:stream/other" {
		t.Fatalf("ARNs not kept: %q %v", c.AWSKinesisStreamName, c.TopicToStreamMap)
	}
	// No awsRegion (an emulator's endpoints): any region.
	mustLoad(t, with(minimal(), "awsRegion", deleteKey, "awsEndpoint", "localhost", "cloudwatchEndpoint", "localhost",
		"awsKinesisStreamName", "arn:aws:kinesis:eu-west-1:123456789012:stream/s"), nil)
	for _, c := range []struct {
		m        map[string]any
		key, msg string
	}{
		{with(minimal(), "awsKinesisStreamName", "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"), "awsKinesisStreamName",
			"is a stream of region eu-west-1, but awsRegion is us-east-1"},
		{with(minimal(), "awsKinesisStreamName", "arn:aws:kinesis:us-east-1:123:stream/orders"), "awsKinesisStreamName",
			"must be a stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)"},
		{with(minimal(), "awsKinesisStreamName", deleteKey, "topicToStreamMap", map[string]any{"t": "arn:aws:kinesis:ap-south-1:123456789012:stream/x"}),
			"topicToStreamMap", `the stream of "persistent://public/default/t" is a stream of region ap-south-1`},
	} {
		_, _, err := FromMap(c.m, nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != c.key || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("got %v; want one line for %q with %q", err, c.key, c.msg)
		}
	}
}
