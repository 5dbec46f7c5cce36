package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const instanceConfDir = "testdata/instanceconf"

func readInstanceConfFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(instanceConfDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compareInstanceConfig reports every field that differs, by name, so a
// failure says which key was mis-mapped rather than dumping two structs.
func compareInstanceConfig(t *testing.T, got, want *InstanceConfig) {
	t.Helper()
	gv, wv := reflect.ValueOf(*got), reflect.ValueOf(*want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		if g, w := gv.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got  %#v\n want %#v", name, g, w)
		}
	}
}

func TestInstanceConfPulsar408Capture(t *testing.T) {
	got, err := LoadInstanceConfig(readInstanceConfFixture(t, "pulsar-4.0.8-worker.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	compareInstanceConfig(t, got, &InstanceConfig{
		Tenant: "public", Namespace: "default", Name: "ic-capture-25347",
		InstanceID:  0,
		FuncID:      "bef6ed45-e0a4-43c8-bc6c-558b6faf5bb2",
		FuncVersion: "ac1ab160-f2a3-4ca1-b7f5-0547c10625e9",
		ClusterName: "standalone",
		ServiceURL:  "pulsar://127.0.0.1:6650",
		Port:        35085, MetricsPort: 39191,
		MaxBufTuples:         1024,
		ProcessingGuarantees: AtLeastOnce,
		AutoAck:              true,
		Parallelism:          1,
		// --retain-ordering travels only inside functionDetails...
		RetainOrdering: true,
		// ...and Gson has turned the integer 3 into 3.0 before we see it.
		UserConfig: map[string]any{"region": "us-east-1", "stream": "orders", "n": 3.0},
		SecretsMap: map[string]any{"awsKey": map[string]any{"path": "x", "key": "y"}},
		Inputs: []InputSpec{
			{Topic: "persistent://public/default/ic-in-a-25347"},
			{Topic: "persistent://public/default/ic-in-b-25347"},
			{Topic: "persistent://public/default/ic-in-c-25347", ReceiverQueueSize: 500, ConsumerProperties: map[string]string{"k": "v"}},
		},
		SubscriptionName: "sub-25347",
		// The flat subscriptionType is 0; FAILOVER is only in functionDetails.
		SubscriptionType:           Failover,
		SubscriptionPosition:       Earliest,
		CleanupSubscription:        true,
		AckTimeout:                 30 * time.Second,
		NegativeAckRedeliveryDelay: 30 * time.Second,
		Resources:                  Resources{CPU: 0.5, RAM: 268435456, Disk: 1073741824},
	})
}

func TestInstanceConfPulsar4WorkerFull(t *testing.T) {
	got, err := LoadInstanceConfig(readInstanceConfFixture(t, "pulsar-4-worker-full.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	compareInstanceConfig(t, got, &InstanceConfig{
		Tenant: "acme", Namespace: "ingest", Name: "to-kinesis",
		InstanceID:                  3,
		FuncID:                      "9a3e2c1b-5d4f-4e6a-8b7c-0d1e2f3a4b5c",
		FuncVersion:                 "4f5e6d7c-8b9a-4c1d-9e2f-3a4b5c6d7e8f",
		ClusterName:                 "use1",
		ServiceURL:                  "pulsar+ssl://broker.example.com:6651",
		WebServiceURL:               "https://broker.example.com:8443",
		StateStorageURL:             "bk://127.0.0.1:4181",
		Port:                        41001,
		MetricsPort:                 41002,
		MaxBufTuples:                1024,
		KillAfterIdle:               0,
		ExpectedHealthCheckInterval: 0,
		ProcessingGuarantees:        AtMostOnce,
		AutoAck:                     true,
		Parallelism:                 4,
		LogTopic:                    "persistent://acme/ingest/to-kinesis-logs",
		RetainKeyOrdering:           true,
		UserConfig:                  map[string]any{"streamName": "orders", "awsRegion": "eu-west-1", "batchMaxRecords": 500.0},
		SecretsMap:                  map[string]any{"awsSecretKey": map[string]any{"path": "kinesis", "key": "secret"}},
		AuthPlugin:                  "org.apache.pulsar.client.impl.auth.AuthenticationToken",
		AuthParams:                  "file:///etc/pulsar/token",
		TLSTrustCertsFilePath:       "/etc/pulsar/ca.pem",
		TLSHostnameVerification:     true,
		Inputs: []InputSpec{
			{Topic: "persistent://acme/ingest/orders", SchemaType: "AVRO", ReceiverQueueSize: 2000, ConsumerProperties: map[string]string{"app": "kinesis"}},
			{Topic: "persistent://acme/ingest/payments-.*", IsRegex: true},
			{Topic: "persistent://acme/ingest/refunds", CryptoFailureAction: "DISCARD"},
		},
		SubscriptionName:           "kinesis-sub",
		SubscriptionType:           KeyShared,
		SubscriptionPosition:       Earliest,
		AckTimeout:                 45 * time.Second,
		NegativeAckRedeliveryDelay: time.Minute,
		MaxMessageRetries:          5,
		DeadLetterTopic:            "persistent://acme/ingest/to-kinesis-dlq",
		Resources:                  Resources{CPU: 2, RAM: 2147483648, Disk: 5368709120},
	})
}

func TestInstanceConfFunctionMesh(t *testing.T) {
	got, err := LoadInstanceConfig(readInstanceConfFixture(t, "function-mesh.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	compareInstanceConfig(t, got, &InstanceConfig{
		Tenant: "public", Namespace: "default", Name: "kinesis-sink",
		InstanceID:                  2,
		FuncID:                      "2-6c1d0e7a-1f2b-4c3d-8e9f-a0b1c2d3e4f5",
		FuncVersion:                 "0",
		ClusterName:                 "pulsar-cluster",
		ServiceURL:                  "pulsar://pulsar-broker.pulsar.svc.cluster.local:6650",
		Port:                        9093,
		MetricsPort:                 9094,
		MaxBufTuples:                100,
		ExpectedHealthCheckInterval: -time.Second,
		ProcessingGuarantees:        AtLeastOnce,
		AutoAck:                     true,
		Parallelism:                 1,
		UserConfig:                  map[string]any{"awsRegion": "us-east-1", "streamName": "orders"},
		Inputs:                      []InputSpec{{Topic: "persistent://public/default/orders"}},
		SubscriptionName:            "public/default/kinesis-sink",
		Resources:                   Resources{CPU: 0.1, RAM: 134217728},
	})
}

// yamlConfWant is what testdata/instanceconf/conf.yaml alone yields.
func yamlConfWant() *InstanceConfig {
	return &InstanceConfig{
		Tenant: "public", Namespace: "default", Name: "go-function",
		InstanceID:           101,
		FuncID:               "pulsar-function",
		FuncVersion:          "1.0.0",
		ClusterName:          "pulsar-function-go",
		ServiceURL:           "pulsar://localhost:6650",
		Port:                 8091,
		MetricsPort:          50001,
		MaxBufTuples:         10,
		KillAfterIdle:        50 * time.Second,
		ProcessingGuarantees: AtLeastOnce,
		AutoAck:              true,
		Parallelism:          1,
		LogTopic:             "log-topic",
		UserConfig:           map[string]any{"word-of-the-day": "hapax legomenon"},
		Inputs:               []InputSpec{{Topic: "persistent://public/default/topic-01", ReceiverQueueSize: 10}},
		SubscriptionName:     "public/default/go-function",
	}
}

func TestInstanceConfYAMLFile(t *testing.T) {
	got, err := LoadInstanceConfig("", filepath.Join(instanceConfDir, "conf.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	compareInstanceConfig(t, got, yamlConfWant())
}

func TestInstanceConfYAMLWithJSONOverride(t *testing.T) {
	got, err := LoadInstanceConfig(readInstanceConfFixture(t, "override.json"), filepath.Join(instanceConfDir, "conf.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := yamlConfWant()
	want.Port = 9000
	want.MetricsPort = 0
	want.ProcessingGuarantees = Manual
	want.AutoAck = false
	want.SubscriptionName = "override-sub"
	want.UserConfig = map[string]any{"streamName": "from-json"}
	// The YAML's sourceSpecsTopic stays; the JSON adds a sourceInputSpecs entry.
	want.Inputs = []InputSpec{
		{Topic: "persistent://public/default/topic-01", ReceiverQueueSize: 10},
		{Topic: "persistent://public/default/topic-02", ReceiverQueueSize: 7},
	}
	compareInstanceConfig(t, got, want)
}

func TestInstanceConfOlderWorker(t *testing.T) {
	got, err := LoadInstanceConfig(readInstanceConfFixture(t, "older-worker.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	compareInstanceConfig(t, got, &InstanceConfig{
		Tenant: "public", Namespace: "legacy", Name: "old-worker-sink",
		InstanceID:                 1,
		FuncID:                     "c0ffee00-0000-4000-8000-000000000001",
		FuncVersion:                "7",
		ClusterName:                "standalone",
		ServiceURL:                 "pulsar://localhost:6650",
		Port:                       37001,
		MetricsPort:                37002,
		MaxBufTuples:               1024,
		ProcessingGuarantees:       Manual,
		AutoAck:                    false,
		Parallelism:                2,
		UserConfig:                 map[string]any{"streamName": "legacy"},
		TLSAllowInsecureConnection: true,
		Inputs: []InputSpec{
			{Topic: "persistent://public/legacy/a", ReceiverQueueSize: 50},
			// sourceSpecsTopic repeats b: merged, not duplicated. The
			// ConsumerSpec's schemaType wins over the flat sourceSchemaType;
			// the flat receiverQueueSize fills the one the spec left unset.
			{Topic: "persistent://public/legacy/b", SchemaType: "JSON", ReceiverQueueSize: 25, ConsumerProperties: map[string]string{"tier": "gold"}},
		},
		SubscriptionName: "public/legacy/old-worker-sink",
		Resources:        Resources{CPU: 1, RAM: 1073741824, Disk: 10737418240},
	})
}

// baseConf is a minimal valid flat conf; variants below change one thing.
func baseConf() map[string]any {
	return map[string]any{
		"pulsarServiceURL": "pulsar://127.0.0.1:6650",
		"tenant":           "public", "nameSpace": "default", "name": "sink",
		"port": 9093, "metricsPort": 9094,
		"processingGuarantees": 0, "runtime": 3, "autoAck": true,
		"sourceSpecsTopic": "persistent://public/default/in",
	}
}

func confJSON(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func variant(t *testing.T, set map[string]any, del ...string) string {
	t.Helper()
	m := baseConf()
	for k, v := range set {
		m[k] = v
	}
	for _, k := range del {
		delete(m, k)
	}
	return confJSON(t, m)
}

func TestInstanceConfLenientForms(t *testing.T) {
	t.Run("single-quoted as the Kubernetes runtime passes it", func(t *testing.T) {
		c, err := LoadInstanceConfig("'"+variant(t, nil)+"'", "")
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "sink" || c.Port != 9093 {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("numbers and booleans as strings, enum names, folded key case", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, map[string]any{
			"port": "9100", "timeoutMs": "30000", "ram": "2147483648", "cpu": "0.25",
			"processingGuarantees": "manual", "subscriptionPosition": "EARLIEST", "autoAck": "false",
			"namespace": "other", "instanceId": "4",
		}, "nameSpace"), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.Port != 9100 || c.AckTimeout != 30*time.Second || c.Resources.RAM != 2147483648 || c.Resources.CPU != 0.25 ||
			c.ProcessingGuarantees != Manual || c.SubscriptionPosition != Earliest || c.AutoAck ||
			c.Namespace != "other" || c.InstanceID != 4 {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("retainKeyOrdering in the user config: KEY_SHARED, and the key kept from the sink", func(t *testing.T) {
		for _, v := range []any{true, "true", " TRUE "} {
			uc, _ := json.Marshal(map[string]any{"retainKeyOrdering": v, "awsKinesisStreamName": "s"})
			c, err := LoadInstanceConfig(variant(t, map[string]any{"userConfig": string(uc)}), "")
			if err != nil {
				t.Fatal(err)
			}
			if c.SubscriptionType != KeyShared || !c.RetainKeyOrdering {
				t.Errorf("%#v: subscription %v, retainKeyOrdering %v; want KEY_SHARED", v, c.SubscriptionType, c.RetainKeyOrdering)
			}
			if _, ok := c.UserConfig["retainKeyOrdering"]; ok || c.UserConfig["awsKinesisStreamName"] != "s" {
				t.Errorf("%#v: user config handed to the sink: %v", v, c.UserConfig)
			}
		}
		c, err := LoadInstanceConfig(variant(t, map[string]any{"userConfig": `{"retainKeyOrdering":false}`}), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.SubscriptionType != Shared || c.RetainKeyOrdering || len(c.UserConfig) != 0 {
			t.Errorf("false: subscription %v, retainKeyOrdering %v, user config %v", c.SubscriptionType, c.RetainKeyOrdering, c.UserConfig)
		}
	})
	t.Run("absent autoAck means true", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, nil, "autoAck"), "")
		if err != nil {
			t.Fatal(err)
		}
		if !c.AutoAck {
			t.Fatal("autoAck absent was read as false")
		}
	})
	t.Run("functionDetails autoAck true beats an absent flat key", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, map[string]any{"functionDetails": `{"autoAck":true}`}, "autoAck"), "")
		if err != nil || !c.AutoAck {
			t.Fatalf("AutoAck=%v err=%v", c != nil && c.AutoAck, err)
		}
	})
	t.Run("userConfig and sourceInputSpecs as YAML mappings", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "c.yaml")
		yml := `pulsarServiceURL: pulsar://h:6650
tenant: t
nameSpace: n
name: f
port: 1
userConfig:
  streamName: s
  maxRecords: 10
sourceInputSpecs:
  persistent://t/n/x:
    receiverQueueSize: {value: 3}
    isRegexPattern: false
`
		if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadInstanceConfig("", p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.UserConfig, map[string]any{"streamName": "s", "maxRecords": 10.0}) ||
			!reflect.DeepEqual(c.Inputs, []InputSpec{{Topic: "persistent://t/n/x", ReceiverQueueSize: 3}}) {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("missing YAML file tolerated when JSON is given", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, nil), filepath.Join(t.TempDir(), "absent.yaml"))
		if err != nil || c.Name != "sink" {
			t.Fatalf("c=%v err=%v", c, err)
		}
	})
	t.Run("functionDetails inputs replace the flat ones", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, map[string]any{
			"sourceInputSpecs": map[string]any{"persistent://public/default/flat": `{"receiverQueueSize":{"value":9}}`},
			"functionDetails":  `{"source":{"inputSpecs":{"persistent://public/default/fd":{"schemaType":"STRING"}},"subscriptionType":"FAILOVER"}}`,
		}), "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Inputs, []InputSpec{{Topic: "persistent://public/default/fd", SchemaType: "STRING"}}) || c.SubscriptionType != Failover {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("functionDetails wins over differing flat keys", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, map[string]any{
			"processingGuarantees": 1, "parallelism": 2, "subscriptionType": 1, "timeoutMs": 5000,
			"userConfig": `{"a":2}`, "cpu": 1, "maxMessageRetries": 1, "deadLetterTopic": "flat-dlq", "logTopic": "flat-log",
			"functionDetails": `{"processingGuarantees":"MANUAL","parallelism":5,"name":"fd-name","logTopic":"fd-log",` +
				`"source":{"subscriptionType":"KEY_SHARED","timeoutMs":"1000"},"userConfig":"{\"a\":1}",` +
				`"resources":{"cpu":3},"retryDetails":{"maxMessageRetries":4,"deadLetterTopic":"fd-dlq"}}`,
		}), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.ProcessingGuarantees != Manual || c.Parallelism != 5 || c.Name != "fd-name" || c.LogTopic != "fd-log" ||
			c.SubscriptionType != KeyShared || c.AckTimeout != time.Second ||
			!reflect.DeepEqual(c.UserConfig, map[string]any{"a": 1.0}) || c.Resources.CPU != 3 ||
			c.MaxMessageRetries != 4 || c.DeadLetterTopic != "fd-dlq" {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("functionDetails without inputs falls back to the flat keys", func(t *testing.T) {
		c, err := LoadInstanceConfig(variant(t, map[string]any{
			"functionDetails": `{"tenant":"fdtenant","source":{"subscriptionName":"fdsub"}}`,
		}), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.Tenant != "fdtenant" || c.SubscriptionName != "fdsub" ||
			!reflect.DeepEqual(c.Inputs, []InputSpec{{Topic: "persistent://public/default/in"}}) {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("flat regex flag under either key", func(t *testing.T) {
		for _, key := range []string{"isRegexPatternSubscription", "regexPatternSubscription"} {
			c, err := LoadInstanceConfig(variant(t, map[string]any{key: true}), "")
			if err != nil || !c.Inputs[0].IsRegex {
				t.Fatalf("%s: c=%+v err=%v", key, c, err)
			}
		}
	})
}

func TestInstanceConfErrors(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("port: [1\ntenant: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listYAML := filepath.Join(dir, "list.yaml")
	if err := os.WriteFile(listYAML, []byte("- a\n- b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "token:SUPERSECRETVALUE"

	cases := []struct {
		name, json, path string
		// want are substrings of the one-line message: the field and what is allowed.
		want []string
	}{
		{name: "truncated JSON", json: "{", want: []string{"instance conf: invalid JSON in -instance-conf: unexpected end of JSON input"}},
		{name: "JSON with trailing garbage", json: `{"port":1} x`, want: []string{"invalid JSON in -instance-conf", "at byte"}},
		{name: "JSON array", json: `[1]`, want: []string{"-instance-conf must be a JSON object, got array"}},
		{name: "nothing given", want: []string{"no configuration given", "-instance-conf", "-instance-conf-path"}},
		{name: "missing YAML and no JSON", path: filepath.Join(dir, "nope.yaml"), want: []string{"-instance-conf-path", "nope.yaml", "not found"}},
		{name: "broken YAML", path: badYAML, want: []string{"invalid YAML in -instance-conf-path", "bad.yaml"}},
		{name: "YAML list", path: listYAML, want: []string{"-instance-conf-path", "must hold a YAML mapping"}},
		{name: "port not a number", json: variant(t, map[string]any{"port": "abc"}), want: []string{`"port": must be an integer, got string "abc"`}},
		{name: "port zero", json: variant(t, map[string]any{"port": 0}), want: []string{`instance conf: "port": must be 1-65535, got 0`}},
		{name: "port too big", json: variant(t, map[string]any{"port": 70000}), want: []string{`"port": must be 1-65535, got 70000`}},
		{name: "port beyond int32", json: variant(t, map[string]any{"port": 1 << 40}), want: []string{`"port": must be an integer that fits 32 bits`}},
		{name: "port fractional", json: variant(t, map[string]any{"port": 9093.5}), want: []string{`"port": must be an integer`}},
		{name: "metricsPort negative", json: variant(t, map[string]any{"metricsPort": -1}), want: []string{`"metricsPort": must be 0-65535`}},
		{name: "no pulsarServiceURL", json: variant(t, nil, "pulsarServiceURL"), want: []string{`"pulsarServiceURL": is required`}},
		{name: "unexpanded pulsarServiceURL", json: variant(t, map[string]any{"pulsarServiceURL": "${brokerServiceURL}"}), want: []string{`"pulsarServiceURL": must be`, "${brokerServiceURL}"}},
		{name: "pulsarServiceURL wrong scheme", json: variant(t, map[string]any{"pulsarServiceURL": "tcp://h:6650"}), want: []string{`"pulsarServiceURL": must use scheme pulsar`}},
		{name: "no tenant", json: variant(t, nil, "tenant"), want: []string{`"tenant": is required`}},
		{name: "no nameSpace", json: variant(t, nil, "nameSpace"), want: []string{`"nameSpace": is required`}},
		{name: "no name", json: variant(t, map[string]any{"name": ""}), want: []string{`"name": is required`}},
		{name: "tenant is an object", json: variant(t, map[string]any{"tenant": map[string]any{"a": 1}}), want: []string{`"tenant": must be a string, got an object`}},
		{name: "no input topic", json: variant(t, nil, "sourceSpecsTopic"), want: []string{`"sourceInputSpecs": no input topic`}},
		{name: "effectively once", json: variant(t, map[string]any{"processingGuarantees": 2}), want: []string{`"processingGuarantees": EFFECTIVELY_ONCE is not supported`, "use ATLEAST_ONCE"}},
		{name: "guarantee out of range", json: variant(t, map[string]any{"processingGuarantees": 7}), want: []string{`"processingGuarantees": must be 0 (ATLEAST_ONCE), 1 (ATMOST_ONCE) or 3 (MANUAL), got 7`}},
		{name: "guarantee unknown name", json: variant(t, map[string]any{"processingGuarantees": "EXACTLY_ONCE"}), want: []string{`"processingGuarantees": must be an integer or one of ATLEAST_ONCE, ATMOST_ONCE, EFFECTIVELY_ONCE, MANUAL`}},
		{name: "effectively once in functionDetails", json: variant(t, map[string]any{"functionDetails": `{"processingGuarantees":"EFFECTIVELY_ONCE"}`}), want: []string{`"functionDetails.processingGuarantees": EFFECTIVELY_ONCE`}},
		{name: "subscriptionType out of range", json: variant(t, map[string]any{"subscriptionType": 3}), want: []string{`"subscriptionType": must be 0 (SHARED), 1 (FAILOVER) or 2 (KEY_SHARED), got 3`}},
		{name: "subscriptionPosition out of range", json: variant(t, map[string]any{"subscriptionPosition": 2}), want: []string{`"subscriptionPosition": must be 0 (LATEST) or 1 (EARLIEST), got 2`}},
		{name: "runtime python", json: variant(t, map[string]any{"runtime": 1}), want: []string{`"runtime": must be 3 (GO)`, "PYTHON"}},
		{name: "runtime python in functionDetails", json: variant(t, map[string]any{"runtime": 0, "functionDetails": `{"runtime":"PYTHON"}`}), want: []string{`"functionDetails.runtime": must be 3 (GO)`}},
		{name: "output topic", json: variant(t, map[string]any{"sinkSpecsTopic": "persistent://public/default/out"}), want: []string{`"sinkSpecsTopic": this function has an output topic`, "deploy with no output topic"}},
		{name: "autoAck false with ATLEAST_ONCE", json: variant(t, map[string]any{"autoAck": false}), want: []string{`"autoAck": false is not supported with processingGuarantees ATLEAST_ONCE`, "MANUAL", "autoAck=true"}},
		{name: "autoAck false with ATMOST_ONCE", json: variant(t, map[string]any{"autoAck": false, "processingGuarantees": 1}), want: []string{`"autoAck": false is not supported with processingGuarantees ATMOST_ONCE`}},
		{name: "autoAck not a boolean", json: variant(t, map[string]any{"autoAck": "maybe"}), want: []string{`"autoAck": must be true or false, got string "maybe"`}},
		{name: "auth plugin without parameters", json: variant(t, map[string]any{"clientAuthenticationPlugin": "org.apache.pulsar.client.impl.auth.AuthenticationToken"}), want: []string{`"clientAuthenticationParameters": is empty`, "AuthenticationToken", "set both or neither"}},
		{name: "auth parameters without plugin", json: variant(t, map[string]any{"clientAuthenticationParameters": secret}), want: []string{`"clientAuthenticationPlugin": is empty but clientAuthenticationParameters is set`}},
		{name: "killAfterIdleMs negative", json: variant(t, map[string]any{"killAfterIdleMs": -1}), want: []string{`"killAfterIdleMs": must be 0 (never) to`, "got -1"}},
		{name: "timeoutMs negative", json: variant(t, map[string]any{"timeoutMs": -5}), want: []string{`"timeoutMs": must be a non-negative integer, got number -5`}},
		{name: "timeoutMs overflowing a duration", json: variant(t, map[string]any{"timeoutMs": "18446744073709551615"}), want: []string{`"timeoutMs": must be at most`}},
		{name: "instanceID negative", json: variant(t, map[string]any{"instanceID": -1}), want: []string{`"instanceID": must be >= 0, got -1`}},
		{name: "parallelism negative", json: variant(t, map[string]any{"parallelism": -2}), want: []string{`"parallelism": must be >= 1`}},
		{name: "functionDetails not JSON", json: variant(t, map[string]any{"functionDetails": "{tenant"}), want: []string{`"functionDetails": invalid FunctionDetails protobuf JSON`}},
		{name: "functionDetails wrong type inside", json: variant(t, map[string]any{"functionDetails": `{"tenant":5}`}), want: []string{`"functionDetails": invalid FunctionDetails protobuf JSON`, "tenant"}},
		{name: "functionDetails as a number", json: variant(t, map[string]any{"functionDetails": 5}), want: []string{`"functionDetails": must be a string holding a JSON object, got number 5`}},
		{name: "sourceInputSpecs value not ConsumerSpec JSON", json: variant(t, map[string]any{"sourceInputSpecs": map[string]any{"persistent://public/default/x": "{receiverQueueSize"}}), want: []string{`sourceInputSpecs["persistent://public/default/x"]: invalid ConsumerSpec protobuf JSON`}},
		{name: "sourceInputSpecs value a number", json: variant(t, map[string]any{"sourceInputSpecs": map[string]any{"persistent://public/default/x": 12}}), want: []string{`sourceInputSpecs["persistent://public/default/x"]: must be a string holding ConsumerSpec JSON`}},
		{name: "sourceInputSpecs not an object", json: variant(t, map[string]any{"sourceInputSpecs": []any{"a"}}), want: []string{`"sourceInputSpecs": must be an object`}},
		{name: "sourceInputSpecs empty topic", json: variant(t, map[string]any{"sourceInputSpecs": map[string]any{" ": "{}"}}), want: []string{`sourceInputSpecs[" "]: the topic name is empty`}},
		{name: "negative receiverQueueSize in ConsumerSpec", json: variant(t, map[string]any{"sourceInputSpecs": map[string]any{"persistent://public/default/x": `{"receiverQueueSize":{"value":-4}}`}}), want: []string{`sourceInputSpecs["persistent://public/default/x"]: receiverQueueSize must be >= 0`}},
		{name: "negative flat receiverQueueSize", json: variant(t, map[string]any{"receiverQueueSize": -1}), want: []string{`"receiverQueueSize": must be >= 0`}},
		{name: "consumer crypto action SEND", json: variant(t, map[string]any{"functionDetails": `{"source":{"inputSpecs":{"t":{"cryptoSpec":{"consumerCryptoFailureAction":"SEND"}}}}}`}), want: []string{`functionDetails.source.inputSpecs["t"]: cryptoSpec.consumerCryptoFailureAction must be FAIL, DISCARD or CONSUME, got SEND`}},
		{name: "userConfig an array", json: variant(t, map[string]any{"userConfig": "[1,2]"}), want: []string{`"userConfig": must be a JSON object, got an array`}},
		{name: "userConfig invalid JSON", json: variant(t, map[string]any{"userConfig": `{"awsSecretKey": "` + secret}), want: []string{`"userConfig": must be a JSON object, got invalid JSON`}},
		{name: "secretsMap a number", json: variant(t, map[string]any{"secretsMap": "5"}), want: []string{`"secretsMap": must be a JSON object, got a number`}},
		{name: "functionDetails userConfig broken", json: variant(t, map[string]any{"functionDetails": `{"userConfig":"{"}`}), want: []string{`"functionDetails.userConfig": must be a JSON object`}},
		{name: "retainOrdering with retainKeyOrdering", json: variant(t, map[string]any{"functionDetails": `{"retainOrdering":true,"retainKeyOrdering":true}`}), want: []string{`"functionDetails.retainKeyOrdering": retainOrdering and retainKeyOrdering are both true`}},
		{name: "user config key ordering with retainOrdering", json: variant(t, map[string]any{"functionDetails": `{"retainOrdering":true}`, "userConfig": `{"retainKeyOrdering":true}`}), want: []string{`"userConfig.retainKeyOrdering": asks for a KEY_SHARED subscription, but retainOrdering already chose FAILOVER`}},
		{name: "user config key ordering not a boolean", json: variant(t, map[string]any{"userConfig": `{"retainKeyOrdering":"yes"}`}), want: []string{`"userConfig.retainKeyOrdering": must be true or false, got string "yes"`}},
		{name: "retainOrdering with KEY_SHARED", json: variant(t, map[string]any{"functionDetails": `{"retainOrdering":true,"source":{"subscriptionType":"KEY_SHARED"}}`}), want: []string{`"functionDetails.source.subscriptionType": retainOrdering needs a FAILOVER subscription, got KEY_SHARED`}},
		// Real Pulsar 4.0.8 output for `--auto-ack false` and for `--output`.
		{name: "captured autoAck false", json: readInstanceConfFixture(t, "pulsar-4.0.8-autoack-false.json"), want: []string{`"autoAck": false is not supported with processingGuarantees ATLEAST_ONCE`}},
		{name: "captured output topic", json: readInstanceConfFixture(t, "pulsar-4.0.8-output-topic.json"), want: []string{`"functionDetails.sink.topic": this function has an output topic ("persistent://public/default/ic-out-25347")`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadInstanceConfig(tc.json, tc.path)
			if err == nil {
				t.Fatalf("no error; got %+v", c)
			}
			msg := err.Error()
			if c != nil {
				t.Errorf("config returned with the error")
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("message is not one line: %q", msg)
			}
			if !strings.HasPrefix(msg, "instance conf: ") {
				t.Errorf("message lacks the instance conf prefix: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "SUPERSECRETVALUE") {
				t.Errorf("message leaks a secret: %q", msg)
			}
		})
	}
}

func TestInstanceConfKeepsWorkingDirectory(t *testing.T) {
	before, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// Relative path on purpose: the official library chdirs to the parent
	// at init, which would make this file unreachable.
	if _, err := LoadInstanceConfig(readInstanceConfFixture(t, "override.json"), filepath.Join(instanceConfDir, "conf.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadInstanceConfig(readInstanceConfFixture(t, "pulsar-4.0.8-worker.json"), "conf/conf.yaml"); err != nil {
		t.Fatal(err)
	}
	after, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Fatalf("working directory changed from %s to %s", before, after)
	}
}

func TestGoAuthParams(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln"
	for _, tc := range []struct{ plugin, in, want string }{
		{"org.apache.pulsar.client.impl.auth.AuthenticationToken", "token:" + tok, `{"token":"` + tok + `"}`},
		{"token", tok, `{"token":"` + tok + `"}`},
		{"org.apache.pulsar.client.impl.auth.AuthenticationToken", "file:///var/run/token", `{"file":"/var/run/token"}`},
		{"org.apache.pulsar.client.impl.auth.AuthenticationToken", `{"token":"x"}`, `{"token":"x"}`},
		{"org.apache.pulsar.client.impl.auth.AuthenticationTls", "tlsCertFile:/c.pem,tlsKeyFile:/k.pem", `{"tlsCertFile":"/c.pem","tlsKeyFile":"/k.pem"}`},
		{"org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2", `{"issuerUrl":"https://i"}`, `{"issuerUrl":"https://i"}`},
		{"x", "", ""},
	} {
		if got := GoAuthParams(tc.plugin, tc.in); got != tc.want {
			t.Errorf("GoAuthParams(%q, %q) = %q, want %q", tc.plugin, tc.in, got, tc.want)
		}
	}
}
