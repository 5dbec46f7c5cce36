package fmlaunch

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

const sample = `
apiVersion: v1
kind: ConfigMap
metadata: {name: pulsar-cfg}
data:
  webServiceURL: http://broker:8080
  brokerServiceURL: pulsar://broker:6650
---
apiVersion: v1
kind: Secret
metadata: {name: aws}
data:
  param: eyJhY2Nlc3NLZXkiOiJBSyIsInNlY3JldEtleSI6IlNLIn0=
---
apiVersion: compute.functionmesh.io/v1alpha1
kind: Function
metadata: {name: ks, namespace: default, uid: 6c1d0e7a-1f2b-4c3d-8e9f-a0b1c2d3e4f5}
spec:
  replicas: 3
  input:
    topics: [persistent://public/default/orders, persistent://public/default/ignored]
  timeout: 30000
  maxMessageRetry: 2
  funcConfig:
    awsRegion: us-east-1
    awsKinesisStreamName: orders
    recordTtl: 20000
    retainOrdering: true
    note: 2024-01-01
  secretsMap:
    awsCredentialPluginParam: {path: aws, key: param}
  resources:
    requests: {cpu: 100m, memory: 512Mi}
  pulsar: {pulsarConfig: pulsar-cfg}
  golang: {go: /pulsar/kinesis-sink}
  pod:
    env: [{name: EXTRA, value: x}]
`

func mustParse(t *testing.T, s string) *Manifest {
	t.Helper()
	m, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConfJSON compares the conf with what the operator marshals (contract
// §8): key order of GoFunctionConf, defaults, first topic only, whole
// cpu/ram, the generated DLQ name, funcConfig as a JSON string, and the
// instance id left to the shell.
func TestConfJSON(t *testing.T) {
	got, err := mustParse(t, sample).ConfJSON(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pulsarServiceURL":"${brokerServiceURL}","instanceID":${SHARD_ID},"funcID":"${SHARD_ID}-6c1d0e7a-1f2b-4c3d-8e9f-a0b1c2d3e4f5","funcVersion":"0","maxBufTuples":100,"port":9093,"clusterName":"kubernetes","killAfterIdleMs":0,` +
		`"tenant":"public","nameSpace":"default","name":"ks","logTopic":"","processingGuarantees":0,"secretsMap":"","runtime":3,"autoAck":true,"parallelism":1,` +
		`"subscriptionType":0,"timeoutMs":30000,"subscriptionName":"","cleanupSubscription":false,"sourceSpecsTopic":"persistent://public/default/orders","sourceSchemaType":"","isRegexPatternSubscription":false,"receiverQueueSize":0,` +
		`"sinkSpecsTopic":"","sinkSchemaType":"","cpu":1,"ram":536870912,"disk":0,"maxMessageRetries":2,"deadLetterTopic":"public-default-ks-DLQ","expectedHealthCheckInterval":-1,` +
		`"userConfig":"{\"awsKinesisStreamName\":\"orders\",\"awsRegion\":\"us-east-1\",\"note\":\"2024-01-01\",\"recordTtl\":20000,\"retainOrdering\":true}","metricsPort":9094}`
	if got != want {
		t.Fatalf("conf:\n got %s\nwant %s", got, want)
	}
	got, _ = mustParse(t, sample).ConfJSON(Options{Port: 1, MetricsPort: 2, UID: "u"})
	if !strings.Contains(got, `"port":1,`) || !strings.Contains(got, `"metricsPort":2}`) || !strings.Contains(got, `"${SHARD_ID}-u"`) {
		t.Fatalf("options not applied: %s", got)
	}
}

// TestCommand compares the launch line with the contract's: the SHARD_ID
// line, the conf with every quote escaped, the echo, ls, chmod and exec of
// the unquoted ${goFunctionConfigs}; with goLocation, the download first.
func TestCommand(t *testing.T) {
	m := mustParse(t, strings.Replace(sample, "funcConfig:\n    awsRegion: us-east-1\n    awsKinesisStreamName: orders\n    recordTtl: 20000\n    retainOrdering: true\n    note: 2024-01-01\n", "funcConfig: {a: b}\n", 1))
	cmd, err := m.Command(Options{})
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := m.ConfJSON(Options{})
	want := []string{"bash", "-c", `SHARD_ID=${POD_NAME##*-} && echo shardId=${SHARD_ID} && GO_FUNCTION_CONF=` +
		strings.ReplaceAll(conf, `"`, `\"`) +
		` && goFunctionConfigs=${GO_FUNCTION_CONF} && echo goFunctionConfigs="'${goFunctionConfigs}'" && ls -l /pulsar/kinesis-sink && chmod +x /pulsar/kinesis-sink && exec /pulsar/kinesis-sink -instance-conf ${goFunctionConfigs}`}
	if !reflect.DeepEqual(cmd, want) {
		t.Fatalf("command:\n got %q\nwant %q", cmd, want)
	}
	if !strings.Contains(cmd[2], `\"userConfig\":\"{\\"a\\":\\"b\\"}\"`) {
		t.Fatalf("userConfig not escaped as the operator does: %s", cmd[2])
	}

	for _, c := range []struct{ image, loc, want string }{
		{"streamnative/pulsar-functions-go-runner:3.2.2.1", "function://public/default/ks@1",
			"/pulsar/bin/pulsar-admin --admin-url $webServiceURL packages download function://public/default/ks@1 --path /pulsar/kinesis-sink && ls -al && pwd &&SHARD_ID="},
		{"streamnative/pulsar-functions-go-runner:3.2.2.1", "public/default/ks",
			"/pulsar/bin/pulsar-admin --admin-url $webServiceURL functions download --path public/default/ks --destination-file /pulsar/kinesis-sink && ls -al && pwd &&SHARD_ID="},
		{"streamnative/pulsar-functions-pulsarctl-go-runner:3.2.2.1", "function://public/default/ks@1",
			"export PATH=$PATH:/pulsar/bin &&  pulsarctl --admin-service-url $webServiceURL packages download function://public/default/ks@1 --path /pulsar/kinesis-sink && ls -al && pwd &&SHARD_ID="},
		{"streamnative/pulsar-functions-pulsarctl-go-runner:3.2.2.1", "https://example.com/ks",
			"wget https://example.com/ks -O /pulsar/kinesis-sink && ls -al && pwd &&SHARD_ID="},
	} {
		y := strings.Replace(sample, "golang: {go: /pulsar/kinesis-sink}", "golang: {go: /pulsar/kinesis-sink, goLocation: '"+c.loc+"'}\n  image: "+c.image, 1)
		cmd, err := mustParse(t, y).Command(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cmd[2], c.want) {
			t.Errorf("%s %s:\n got %.200s\nwant %s…", c.image, c.loc, cmd[2], c.want)
		}
		cmd, _ = mustParse(t, y).Command(Options{SkipDownload: true})
		if !strings.HasPrefix(cmd[2], "SHARD_ID=") {
			t.Errorf("SkipDownload kept the download: %.100s", cmd[2])
		}
	}
}

func TestEnv(t *testing.T) {
	env, err := mustParse(t, sample).Env(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"brokerServiceURL=pulsar://broker:6650", "webServiceURL=http://broker:8080", "POD_NAME=ks-function-2",
		`awsCredentialPluginParam={"accessKey":"AK","secretKey":"SK"}`, "EXTRA=x", "LOGGING_LEVEL=info"}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("env:\n got %q\nwant %q", env, want)
	}
	_, err = mustParse(t, sample).Env(0, func(string, string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "secretsMap.awsCredentialPluginParam") {
		t.Fatalf("missing secret: %v", err)
	}
}

func TestQuantityValue(t *testing.T) {
	for in, want := range map[any]int64{
		nil: 0, "100m": 1, "0.1": 1, "2": 2, 2.0: 2, 0.5: 1, "1500m": 2, "1G": 1_000_000_000, "1Gi": 1 << 30,
		"512Mi": 512 << 20, "1.5Ki": 1536, "1e3": 1000, "1E-3": 1, "10k": 10_000, "250n": 1, "0": 0,
	} {
		got, err := quantityValue(in)
		if err != nil || got != want {
			t.Errorf("%v: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []any{"", "1Zi", "abc", ".", true} {
		if _, err := quantityValue(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n":                                                                              "no Function",
		"apiVersion: compute.functionmesh.io/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec: {input: {topics: [t]}}\n":                   "spec.golang.go is required",
		"apiVersion: compute.functionmesh.io/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec: {golang: {go: /x}}\n":                       "spec.input.topics",
		"apiVersion: compute.functionmesh.io/v1alpha2\nkind: Function\nmetadata: {name: f}\nspec: {golang: {go: /x}, input: {topics: [t]}}\n": "apiVersion",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", in, err, want)
		}
	}
}

// launch runs the command with bash, with a stand-in executable that
// records its arguments, and returns them. This is the shell step the unit
// tests above cannot show: what the binary receives after bash expanded the
// escaped, unquoted conf.
func launch(t *testing.T, m *Manifest, replica int) []string {
	t.Helper()
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	fake := filepath.Join(dir, "fake-sink")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + argsFile + "\nprintf '%s\\n' \"$awsCredentialPluginParam\" >> " + argsFile + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o644); err != nil { // chmod +x is the command's job
		t.Fatal(err)
	}
	cmd, err := m.Command(Options{GoPath: fake, SkipDownload: true})
	if err != nil {
		t.Fatal(err)
	}
	env, err := m.Env(replica, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("launch: %v\n%s", err, out)
	}
	b, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestLaunchThroughBash: after bash, the binary gets one -instance-conf
// argument that the runtime parses into the Function's settings (with the
// nested userConfig repaired), the shard id from POD_NAME, the broker from
// the ConfigMap, and the secret from its environment variable.
func TestLaunchThroughBash(t *testing.T) {
	m := mustParse(t, sample)
	args := launch(t, m, 2)
	if len(args) != 3 || args[0] != "-instance-conf" {
		t.Fatalf("arguments: %q", args)
	}
	if args[2] != `{"accessKey":"AK","secretKey":"SK"}` {
		t.Fatalf("secret variable: %q", args[2])
	}
	cfg, err := runtime.LoadInstanceConfig(args[1], "")
	if err != nil {
		t.Fatalf("runtime refuses the conf: %v\n%s", err, args[1])
	}
	if cfg.InstanceID != 2 || cfg.FuncID != "2-6c1d0e7a-1f2b-4c3d-8e9f-a0b1c2d3e4f5" || cfg.ServiceURL != "pulsar://broker:6650" ||
		cfg.Name != "ks" || len(cfg.Inputs) != 1 || cfg.Inputs[0].Topic != "persistent://public/default/orders" {
		t.Fatalf("instance config: %+v", cfg)
	}
	want := map[string]any{"awsRegion": "us-east-1", "awsKinesisStreamName": "orders", "recordTtl": 20000.0, "retainOrdering": true, "note": "2024-01-01"}
	if !reflect.DeepEqual(normalize(cfg.UserConfig), want) {
		t.Fatalf("userConfig after the shell: %#v, want %#v", cfg.UserConfig, want)
	}

	// The hazard the manifest comments warn about: a space splits the
	// argument, and the conf no longer parses.
	spaced := mustParse(t, strings.Replace(sample, "awsRegion: us-east-1", "awsRegion: us east 1", 1))
	args = launch(t, spaced, 0)
	if len(args) != 5 || !strings.HasSuffix(args[1], `\us`) || args[2] != "east" {
		t.Fatalf("want the conf split at the two spaces, got %d arguments: %q", len(args), args)
	}
	if _, err := runtime.LoadInstanceConfig(args[1], ""); err == nil {
		t.Fatalf("the runtime accepted a truncated conf: %s", args[1])
	}
}

// normalize turns json.Number values (the runtime keeps numbers exact) into
// float64 for comparison.
func normalize(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if n, ok := v.(interface{ Float64() (float64, error) }); ok {
			f, _ := n.Float64()
			v = f
		}
		out[k] = v
	}
	return out
}

// TestShippedManifest runs the manifest of the release through the launch
// line: the runtime accepts the conf, and the sink accepts the funcConfig
// with the credentials from the secret's variable, so the shipped example
// cannot drift into something Function Mesh would break.
func TestShippedManifest(t *testing.T) {
	m, err := Load("../../packaging/function-mesh/kinesis-sink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const param = `{"accessKey":"AKIAEXAMPLE","secretKey":"example/secret+key"}`
	m.Secrets["kinesis-sink-aws"] = map[string]string{"awsCredentialPluginParam": param}
	args := launch(t, m, 0)
	if len(args) != 3 || args[2] != param {
		t.Fatalf("arguments: %q", args)
	}
	cfg, err := runtime.LoadInstanceConfig(args[1], "")
	if err != nil {
		t.Fatalf("runtime refuses the conf: %v\n%s", err, args[1])
	}
	if !reflect.DeepEqual(normalize(cfg.UserConfig), normalize(m.Function.Spec.FuncConfig)) {
		t.Fatalf("funcConfig changed on the way: %#v vs %#v", cfg.UserConfig, m.Function.Spec.FuncConfig)
	}
	sc, warns, err := conf.FromMap(cfg.UserConfig, func(name string) (string, bool) {
		if name == "awsCredentialPluginParam" {
			return args[2], true
		}
		return "", false
	})
	if err != nil || len(warns) > 0 {
		t.Fatalf("the sink refuses the manifest's funcConfig: %v %q", err, warns)
	}
	if sc.AWSKinesisStreamName != "orders" {
		t.Fatalf("sink config: %s", sc)
	}
}
