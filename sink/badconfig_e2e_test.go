package sink_test

// Bad configuration through the real binary: every case runs bin/kinesis-sink
// the way the worker (-instance-conf) or a user (localrun) does, and checks
// that it exits 1 at once with exactly one line on stderr naming the key and
// what is allowed, nothing on stdout, and no secret. The parsers' own tables
// (conf.TestBadConfigs, runtime.TestInstanceConfErrors) cover more values;
// this proves the process around them reports them the same way.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
)

// Sentinel secrets: none may appear in what a failing process prints.
const (
	badCfgAccessKey = "AKIDBADCFGSENTINEL"
	badCfgSecretKey = "badcfg-SECRET-sentinel-9f3"
	badCfgToken     = "badcfg-TOKEN-sentinel-77a"
)

// goodUserConfig is a valid sink config; each case breaks one thing.
func goodUserConfig() map[string]any {
	return map[string]any{
		"awsRegion":                "us-east-1",
		"awsKinesisStreamName":     "orders",
		"awsCredentialPluginParam": `{"accessKey":"` + badCfgAccessKey + `","secretKey":"` + badCfgSecretKey + `"}`,
		"metricsLevel":             "none",
	}
}

type badSinkConfig struct {
	name string
	set  map[string]any // nil value deletes the key
	key  string         // named in the line, in quotes
	has  string         // what is allowed (or what is wrong)
}

func badSinkConfigs() []badSinkConfig {
	return []badSinkConfig{
		{"collectionMaxCount over 500", map[string]any{"collectionMaxCount": 600}, "collectionMaxCount", "must be an integer 1-500, got 600"},
		{"collectionMaxCount a word", map[string]any{"collectionMaxCount": "many"}, "collectionMaxCount", `must be an integer 1-500, got "many"`},
		{"collectionMaxSize over 10 MiB", map[string]any{"collectionMaxSize": 10485761}, "collectionMaxSize", "1-10485760"},
		{"awsEndpointPort zero", map[string]any{"awsEndpointPort": 0}, "awsEndpointPort", "must be an integer 1-65535, got 0"},
		{"awsStsPort a word", map[string]any{"awsStsPort": "x"}, "awsStsPort", "1-65535"},
		{"cloudwatchPort too big", map[string]any{"cloudwatchPort": 65536}, "cloudwatchPort", "1-65535"},
		{"messageFormat unknown", map[string]any{"messageFormat": "AVRO"}, "messageFormat", "must be one of ONLY_RAW_PAYLOAD, FULL_MESSAGE_IN_JSON, FULL_MESSAGE_IN_FB, FULL_MESSAGE_IN_JSON_EXPAND_VALUE"},
		{"retainOrdering yes", map[string]any{"retainOrdering": "yes"}, "retainOrdering", "must be true or false"},
		{"jsonFlatten number", map[string]any{"jsonFlatten": 2}, "jsonFlatten", "must be true or false"},
		{"retryInitialDelay zero", map[string]any{"retryInitialDelayInMillis": 0}, "retryInitialDelayInMillis", "got 0"},
		{"retryMaxDelay below initial", map[string]any{"retryMaxDelayInMillis": 10}, "retryMaxDelayInMillis", "must be at least retryInitialDelayInMillis"},
		{"recordTtl zero", map[string]any{"recordTtl": 0}, "recordTtl", "(milliseconds), got 0"},
		{"connectTimeout too short", map[string]any{"connectTimeout": 5}, "connectTimeout", "100-300000 (milliseconds)"},
		{"requestTimeout too long", map[string]any{"requestTimeout": 900000}, "requestTimeout", "got 900000"},
		{"maxConnections zero", map[string]any{"maxConnections": 0}, "maxConnections", "1-256"},
		{"minConnections above max", map[string]any{"minConnections": 10, "maxConnections": 4}, "minConnections", "at most maxConnections"},
		{"rateLimit negative", map[string]any{"rateLimit": -5}, "rateLimit", "got -5"},
		{"credentialsRefreshDelay too long", map[string]any{"credentialsRefreshDelay": 999999}, "credentialsRefreshDelay", "got 999999"},
		{"no region and no endpoints", map[string]any{"awsRegion": nil}, "awsRegion", `Either "awsRegion" must be set OR all of ["awsEndpoint", "cloudwatchEndpoint"]`},
		{"region with spaces", map[string]any{"awsRegion": "Europe West"}, "awsRegion", `got "Europe West"`},
		{"endpoint ftp", map[string]any{"awsEndpoint": "ftp://kinesis.local"}, "awsEndpoint", "must be a host name, host:port or http(s)://host[:port] URL"},
		{"endpoint with path", map[string]any{"awsEndpoint": "https://host/kinesis"}, "awsEndpoint", "http(s)://host[:port]"},
		{"endpoint port contradicts", map[string]any{"awsEndpoint": "localhost:4566", "awsEndpointPort": 4567}, "awsEndpointPort", "got 4567"},
		{"sts endpoint empty url", map[string]any{"awsStsEndpoint": "https://"}, "awsStsEndpoint", `got "https://"`},
		{"no stream", map[string]any{"awsKinesisStreamName": nil}, "awsKinesisStreamName", "or set topicToStreamMap or streamNameProperty"},
		{"stream name characters", map[string]any{"awsKinesisStreamName": "my stream!"}, "awsKinesisStreamName", `got "my stream!"`},
		{"credential param not JSON", map[string]any{"awsCredentialPluginParam": "accessKey=" + badCfgAccessKey + " secretKey=" + badCfgSecretKey}, "awsCredentialPluginParam", "not a JSON object"},
		{"credential param without secretKey", map[string]any{"awsCredentialPluginParam": `{"accessKey":"` + badCfgAccessKey + `"}`}, "awsCredentialPluginParam", `"secretKey" is missing or blank`},
		{"credential plugin unknown", map[string]any{"awsCredentialPluginName": "com.example.MyCreds"}, "awsCredentialPluginName", `got "com.example.MyCreds"`},
		{"assume role without roleArn", map[string]any{"awsCredentialPluginName": "org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin",
			"awsCredentialPluginParam": `{"roleSessionName":"s","secretKey":"` + badCfgSecretKey + `","accessKey":"` + badCfgAccessKey + `"}`}, "awsCredentialPluginParam", `"roleArn" is missing`},
		{"partitionKeyMode unknown", map[string]any{"partitionKeyMode": "hash"}, "partitionKeyMode", `got "hash"`},
		{"property mode without property", map[string]any{"partitionKeyMode": "property"}, "partitionKeyProperty", `when partitionKeyMode is "property"`},
		{"fixed mode without key", map[string]any{"partitionKeyMode": "fixed"}, "defaultPartitionKey", `got ""`},
		{"failurePolicy unknown", map[string]any{"failurePolicy": "ignore"}, "failurePolicy", "must be one of fail, deadLetter, failOnError"},
		{"deadLetter without topic", map[string]any{"failurePolicy": "deadLetter"}, "deadLetterTopic", `got ""`},
		{"topicToStreamMap not JSON", map[string]any{"topicToStreamMap": "a=b"}, "topicToStreamMap", `got "a=b"`},
		{"topicToStreamMap bad stream", map[string]any{"topicToStreamMap": map[string]any{"t": "no spaces allowed"}}, "topicToStreamMap", `got "no spaces allowed"`},
		{"extraKinesisProducerConfig bad value", map[string]any{"extraKinesisProducerConfig": map[string]any{"RecordTtl": "soon"}}, "extraKinesisProducerConfig.RecordTtl", `got "soon"`},
		{"metricsLevel unknown", map[string]any{"metricsLevel": "all"}, "metricsLevel", "none, summary, detailed"},
		{"metricsGranularity unknown", map[string]any{"metricsGranularity": "host"}, "metricsGranularity", `got "host"`},
		{"aggregationMaxSize too small", map[string]any{"aggregationMaxSize": 10}, "aggregationMaxSize", "64-10485760 (bytes)"},
		{"aggregationMode unknown", map[string]any{"aggregationMode": "stream"}, "aggregationMode", "must be one of shard, key"},
		{"maxBufferedRecords zero", map[string]any{"maxBufferedRecords": 0}, "maxBufferedRecords", "got 0"},
		{"recordMaxBufferedTime negative", map[string]any{"recordMaxBufferedTimeInMillis": -1}, "recordMaxBufferedTimeInMillis", "got -1"},
	}
}

func (c badSinkConfig) userConfig() map[string]any {
	m := goodUserConfig()
	for k, v := range c.set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// runToExit runs the binary and returns its exit code, stdout and stderr;
// a process still running after 10 s fails the test (bad config must stop
// at once, before any connection).
func runToExit(t *testing.T, bin string, args []string, env ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Nothing must be reached: a broker address nobody listens on, and
	// control/metrics bound to loopback in case they start.
	cmd.Env = append(os.Environ(), append([]string{"KINESIS_SINK_GRPC_BIND=127.0.0.1", "KINESIS_SINK_METRICS_BIND=127.0.0.1"}, env...)...)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("still running after 10 s; output: %s %s", stdout.String(), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// checkOneLine asserts exit 1, an empty stdout, and one stderr line holding
// every want and no sentinel secret.
func checkOneLine(t *testing.T, code int, stdout, stderr string, want ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout not empty: %q", stdout)
	}
	line := strings.TrimSuffix(stderr, "\n")
	if line == "" || strings.ContainsAny(line, "\r\n") {
		t.Fatalf("want exactly one line on stderr, got %q", stderr)
	}
	if !strings.HasPrefix(line, "kinesis-sink") {
		t.Errorf("line does not start with the program name: %q", line)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("line %q lacks %q", line, w)
		}
	}
	for _, s := range []string{badCfgAccessKey, badCfgSecretKey, badCfgToken} {
		if strings.Contains(stderr+stdout, s) {
			t.Errorf("a secret is shown: %q", line)
		}
	}
}

// instanceConf is a valid worker-style instance conf around userConfig,
// pointed at a broker address nobody listens on.
func instanceConf(t *testing.T, userConfig map[string]any, change map[string]any) string {
	t.Helper()
	uc, err := json.Marshal(userConfig)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{
		"pulsarServiceURL":     "pulsar://127.0.0.1:1",
		"port":                 e2e.FreePort(t),
		"metricsPort":          e2e.FreePort(t),
		"tenant":               "public",
		"nameSpace":            "default",
		"name":                 "badcfg",
		"instanceID":           0,
		"sourceSpecsTopic":     "persistent://public/default/badcfg-in",
		"userConfig":           string(uc),
		"autoAck":              true,
		"processingGuarantees": 0,
		"runtime":              3,
	}
	for k, v := range change {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadSinkConfigThroughBinary runs each wrong sink config three ways: as
// the worker passes it (-instance-conf userConfig), as a localrun sink
// config file (configs: block) and, for a part of them, with the credential
// param given through the function's secrets (secretsMap + environment).
func TestBadSinkConfigThroughBinary(t *testing.T) {
	bin := e2e.KinesisSinkBinary(t)
	cases := badSinkConfigs()
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := []string{`"` + tc.key + `"`, tc.has}

			code, out, errOut := runToExit(t, bin, []string{"-instance-conf", instanceConf(t, tc.userConfig(), nil)})
			checkOneLine(t, code, out, errOut, append(want, "sink config")...)

			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			y, err := yaml.Marshal(map[string]any{"inputs": []string{"persistent://public/default/badcfg-in"}, "configs": tc.userConfig()})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, y, 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut = runToExit(t, bin, []string{"localrun", "--service-url", "pulsar://127.0.0.1:1", "--sink-config-file", file})
			checkOneLine(t, code, out, errOut, want...)

			// Every third case: the credential param comes from the
			// function's secrets, as under the process runtime (clear
			// value in secretsMap) and Function Mesh (environment).
			if i%3 == 0 {
				uc := tc.userConfig()
				param, _ := uc["awsCredentialPluginParam"].(string)
				delete(uc, "awsCredentialPluginParam")
				sm, _ := json.Marshal(map[string]string{"awsCredentialPluginParam": param})
				code, out, errOut = runToExit(t, bin, []string{"-instance-conf", instanceConf(t, uc, map[string]any{"secretsMap": string(sm)})})
				checkOneLine(t, code, out, errOut, want...)
				code, out, errOut = runToExit(t, bin, []string{"-instance-conf", instanceConf(t, uc, map[string]any{"secretsMap": `{"awsCredentialPluginParam":"from-env"}`})},
					"awsCredentialPluginParam="+param)
				checkOneLine(t, code, out, errOut, want...)
			}
		})
	}
}

// TestBadInstanceConfThroughBinary: wrong instance confs, as the worker or
// Function Mesh would pass them, and wrong localrun flags.
func TestBadInstanceConfThroughBinary(t *testing.T) {
	bin := e2e.KinesisSinkBinary(t)
	uc := goodUserConfig()
	token := "token:" + badCfgToken
	cases := []struct {
		name   string
		change map[string]any
		want   []string
	}{
		{"port a word", map[string]any{"port": "grpc"}, []string{`"port"`, "must be an integer"}},
		{"port out of range", map[string]any{"port": 70000}, []string{`"port"`, "must be 1-65535, got 70000"}},
		{"metricsPort negative", map[string]any{"metricsPort": -1}, []string{`"metricsPort"`, "must be 0-65535"}},
		{"no pulsarServiceURL", map[string]any{"pulsarServiceURL": nil}, []string{`"pulsarServiceURL"`, "is required"}},
		{"pulsarServiceURL tcp", map[string]any{"pulsarServiceURL": "tcp://127.0.0.1:6650"}, []string{`"pulsarServiceURL"`, "must use scheme pulsar"}},
		{"no tenant", map[string]any{"tenant": nil}, []string{`"tenant"`, "is required"}},
		{"no input topic", map[string]any{"sourceSpecsTopic": nil}, []string{`"sourceInputSpecs"`, "no input topic"}},
		{"effectively once", map[string]any{"processingGuarantees": 2}, []string{`"processingGuarantees"`, "EFFECTIVELY_ONCE is not supported", "ATLEAST_ONCE"}},
		{"subscriptionType out of range", map[string]any{"subscriptionType": 9}, []string{`"subscriptionType"`, "0 (SHARED), 1 (FAILOVER) or 2 (KEY_SHARED)"}},
		{"runtime python", map[string]any{"runtime": 1}, []string{`"runtime"`, "must be 3 (GO)"}},
		{"output topic", map[string]any{"sinkSpecsTopic": "persistent://public/default/out"}, []string{`"sinkSpecsTopic"`, "no output topic"}},
		{"autoAck false", map[string]any{"autoAck": false}, []string{`"autoAck"`, "MANUAL"}},
		{"auth params without plugin", map[string]any{"clientAuthenticationParameters": token}, []string{`"clientAuthenticationPlugin"`, "set both or neither"}},
		{"auth plugin unknown", map[string]any{"clientAuthenticationPlugin": "com.example.NoSuchAuth", "clientAuthenticationParameters": token},
			[]string{`"clientAuthenticationPlugin"`}},
		{"userConfig not an object", map[string]any{"userConfig": "[1]"}, []string{`"userConfig"`, "must be a JSON object"}},
		{"secretsMap a number", map[string]any{"secretsMap": "7"}, []string{`"secretsMap"`, "must be a JSON object"}},
		{"functionDetails broken", map[string]any{"functionDetails": "{name"}, []string{`"functionDetails"`, "invalid FunctionDetails protobuf JSON"}},
		{"timeoutMs negative", map[string]any{"timeoutMs": -3}, []string{`"timeoutMs"`, "non-negative integer"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runToExit(t, bin, []string{"-instance-conf", instanceConf(t, uc, tc.change)})
			checkOneLine(t, code, out, errOut, tc.want...)
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		code, out, errOut := runToExit(t, bin, []string{"-instance-conf", `{"port":`})
		checkOneLine(t, code, out, errOut, "invalid JSON in -instance-conf")
	})

	// localrun's own flags and file.
	file := filepath.Join(t.TempDir(), "sink.yaml")
	y, _ := yaml.Marshal(map[string]any{"configs": uc})
	if err := os.WriteFile(file, y, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no sink config file", []string{"localrun", "--inputs", "t"}, []string{"--sink-config-file is required"}},
		{"missing sink config file", []string{"localrun", "--inputs", "t", "--sink-config-file", file + ".nope"}, []string{"sink.yaml.nope"}},
		{"bad subscription type", []string{"localrun", "--inputs", "t", "--sink-config-file", file, "--subscription-type", "Exclusive"},
			[]string{"--subscription-type", "Shared, Failover or Key_Shared"}},
		{"bad position", []string{"localrun", "--inputs", "t", "--sink-config-file", file, "--subscription-position", "Middle"},
			[]string{"--subscription-position", "Latest or Earliest"}},
		{"no inputs", []string{"localrun", "--sink-config-file", file}, []string{"no input topics"}},
	} {
		t.Run("localrun "+tc.name, func(t *testing.T) {
			code, out, errOut := runToExit(t, bin, tc.args)
			checkOneLine(t, code, out, errOut, tc.want...)
		})
	}
}
