package sink_test

// No credential or secret value in anything the process writes: the real
// binary runs through its failure paths with sentinel secrets given every
// way a user can give them, and every byte it wrote (stdout, stderr), its
// Prometheus metrics, its gRPC status and metrics answers and the messages
// it dead-lettered are scanned for those values.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// The sentinels: distinct per way of giving them, so a leak says which path
// leaked.
const (
	scanAccessKey     = "AKIDSCANSENTINEL0001"
	scanSecretUser    = "scanSECRET-userconfig-4c1d"
	scanSecretMap     = "scanSECRET-secretsmap-7e2a"
	scanSecretEnv     = "scanSECRET-environment-9b3f"
	scanSecretSTSBase = "scanSECRET-stsbase-1a5c"
	scanSessionToken  = "scanSESSIONTOKEN-2d6e"
	scanPulsarToken   = "scanPULSARTOKEN-eyJhbGciOiJIUzI1NiJ9-8f0b"
	scanExternalID    = "scanEXTERNALID-3e7d"
	// internal/faultsuite's sinks' secret key.
	faultSuiteSecret = "faultsuite-secret-value-d41c7e"
)

func scanSentinels() []string {
	return []string{scanAccessKey, scanSecretUser, scanSecretMap, scanSecretEnv, scanSecretSTSBase, scanSessionToken, scanPulsarToken, scanExternalID,
		faultSuiteSecret}
}

func staticParam(secret string) string {
	return `{"accessKey":"` + scanAccessKey + `","secretKey":"` + secret + `","sessionToken":"` + scanSessionToken + `"}`
}

// scanned collects everything to scan, named by where it came from.
type scanned struct {
	parts map[string]string
}

func (s *scanned) add(where, text string) {
	s.parts[where] += text + "\n"
}

// collect gathers what a running (or exited) instance exposed.
func (s *scanned) collect(t *testing.T, where string, in *e2e.Instance, port, mport int) {
	t.Helper()
	if in.Running() {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s.add(where+" metrics", string(b))
		} else {
			t.Errorf("%s: metrics endpoint: %v", where, err)
		}
		c := e2e.StatusClient(t, port)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if st, err := c.GetFunctionStatus(ctx, &emptypb.Empty{}); err == nil {
			s.add(where+" status", prototext.Format(st))
		} else {
			t.Errorf("%s: status: %v", where, err)
		}
		if m, err := c.GetMetrics(ctx, &emptypb.Empty{}); err == nil {
			s.add(where+" gRPC metrics", prototext.Format(m))
		}
		_ = in.Cmd.Process.Signal(os.Interrupt)
		select {
		case <-in.Done:
		case <-time.After(15 * time.Second):
			t.Errorf("%s: did not stop after SIGINT", where)
		}
	}
	s.add(where+" output", in.Output())
}

// scanConf is a worker conf with the Pulsar token in the auth parameters
// (the shared standalone has authentication off and ignores it, which lets
// the token travel every path without a second standalone) and the given
// secretsMap and changes.
func scanConf(t *testing.T, env *testenv.PulsarEnv, name string, port, mport int, topics []string, uc map[string]any, change map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e2e.WorkerConf(env, name, port, mport, topics, uc, nil)), &m); err != nil {
		t.Fatal(err)
	}
	m["clientAuthenticationPlugin"] = tokenAuthPlugin
	m["clientAuthenticationParameters"] = "token:" + scanPulsarToken
	for k, v := range change {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestNoSecretInAnythingTheProcessWrites(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	moto := testenv.AWS(t)
	bin := e2e.KinesisSinkBinary(t)
	client := e2e.NewClient(t, env)
	all := &scanned{parts: map[string]string{}}

	secretsMap := func(v string) string {
		b, _ := json.Marshal(map[string]string{"awsCredentialPluginParam": v})
		return string(b)
	}
	// run starts the binary, lets it work (wait), collects everything.
	run := func(where string, topics []string, uc map[string]any, change map[string]any, extraEnv []string, wait func(in *e2e.Instance)) {
		t.Run(where, func(t *testing.T) {
			port, mport := e2e.FreePort(t), e2e.FreePort(t)
			in := e2e.Start(t, bin, []string{"-instance-conf", scanConf(t, env, uniqueName(t, "scan"), port, mport, topics, uc, change)}, extraEnv)
			wait(in)
			all.collect(t, where, in, port, mport)
		})
	}
	exits := func(in *e2e.Instance) {
		select {
		case <-in.Done:
		case <-time.After(60 * time.Second):
			t.Errorf("still running")
		}
	}
	for i, bad := range []struct {
		name   string
		uc     map[string]any
		change map[string]any
		env    []string
		want   string
	}{
		{"bad config, param in user config", map[string]any{"awsCredentialPluginParam": staticParam(scanSecretUser), "collectionMaxCount": 999}, nil, nil, `"collectionMaxCount"`},
		{"bad config, param from secretsMap", map[string]any{"awsCredentialPluginParam": nil, "recordTtl": -1}, map[string]any{"secretsMap": secretsMap(staticParam(scanSecretMap))}, nil, `"recordTtl"`},
		{"bad config, param from environment", map[string]any{"awsCredentialPluginParam": nil, "failurePolicy": "maybe"}, map[string]any{"secretsMap": secretsMap("x")},
			[]string{"awsCredentialPluginParam=" + staticParam(scanSecretEnv)}, `"failurePolicy"`},
		{"credential error: param truncated", map[string]any{"awsCredentialPluginParam": `{"accessKey":"` + scanAccessKey + `","secretKey":"` + scanSecretUser}, nil, nil, `"awsCredentialPluginParam"`},
		{"credential error: unknown profile", map[string]any{"awsCredentialPluginName": "org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin",
			"awsCredentialPluginParam": `{"profile":"no-such-profile","secretKey":"` + scanSecretUser + `"}`}, nil, []string{"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}, "no-such-profile"},
		{"STS unreachable", map[string]any{"awsCredentialPluginName": "org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin",
			"awsCredentialPluginParam": `{"roleArn":"arn:aws:iam::123456789012:role/r","roleSessionName":"scan","externalId":"` + scanExternalID +
				`","accessKey":"` + scanAccessKey + `","secretKey":"` + scanSecretSTSBase + `","sessionToken":"` + scanSessionToken + `"}`,
			"awsStsEndpoint": fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t))}, nil, nil, "AssumeRole"},
	} {
		uc := sinkConfig(ks.Endpoint, "scan-never", nil)
		for k, v := range bad.uc {
			if v == nil {
				delete(uc, k)
			} else {
				uc[k] = v
			}
		}
		where := fmt.Sprintf("fail-%d %s", i, bad.name)
		run(where, []string{env.UniqueTopic(t, "scan")}, uc, bad.change, bad.env, exits)
		// The path ran: the process said why it stopped.
		if out := all.parts[where+" output"]; !strings.Contains(out, bad.want) {
			t.Errorf("%s: output lacks %q: %s", where, bad.want, out)
		}
	}

	// Running instances: a missing stream and oversize records dead-lettered
	// (the dead-letter messages are scanned too), failing records with the
	// fail policy, assume-role through moto's STS, CloudWatch uploads.
	dlt := env.UniqueTopic(t, "scan-dlq")
	dlc, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlt, SubscriptionName: "scan", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer dlc.Close()
	stream := ks.UniqueStream(t, "scan")
	ks.CreateStream(t, stream, 1)
	produce := func(topic string) {
		p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, pl := range [][]byte{[]byte("ok-1"), make([]byte, 1<<20+5), []byte("ok-2")} {
			if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Payload: pl}); err != nil {
				t.Fatal(err)
			}
		}
	}
	working := func(what string, topic string) func(in *e2e.Instance) {
		return func(in *e2e.Instance) {
			env.WaitFor(t, 60*time.Second, func() bool { return !in.Running() || strings.Contains(in.Output(), "subscribed") }, "%s to subscribe", what)
			produce(topic)
			env.WaitFor(t, 60*time.Second, func() bool {
				return !in.Running() || strings.Contains(in.Output(), "record dead-lettered") || strings.Contains(in.Output(), "record failed")
			}, "%s to fail a record", what)
			time.Sleep(3 * time.Second) // let retries, uploads and renewals log
			if !in.Running() {
				t.Errorf("%s: exited: %v", what, in.Err)
			}
		}
	}
	assume := map[string]any{
		"awsCredentialPluginName": "org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin",
		"awsCredentialPluginParam": `{"roleArn":"arn:aws:iam::123456789012:role/r","roleSessionName":"scan","externalId":"` + scanExternalID +
			`","accessKey":"` + scanAccessKey + `","secretKey":"` + scanSecretSTSBase + `"}`,
		"awsStsEndpoint": moto.Endpoint, "cloudwatchEndpoint": moto.Endpoint, "metricsLevel": "detailed", "metricsUploadDelayInMillis": 1000,
		"metricsNamespace": "KinesisSinkScan",
	}
	t1 := env.UniqueTopic(t, "scan-missing")
	run("missing stream, dead letters, secretsMap", []string{t1}, without(sinkConfig(ks.Endpoint, "scan-missing-"+stream, map[string]any{
		"failurePolicy": "deadLetter", "deadLetterTopic": dlt,
	}), "awsCredentialPluginParam"), map[string]any{"secretsMap": secretsMap(staticParam(scanSecretMap))}, nil, working("dead-lettering", t1))
	// The missing stream is named at open with what to change.
	if out := all.parts["missing stream, dead letters, secretsMap output"]; !strings.Contains(out, `fix="no stream \"scan-missing-`) ||
		!strings.Contains(out, "correct awsKinesisStreamName") {
		t.Errorf("the missing stream's open line lacks its fix:\n%s", out)
	}
	t2 := env.UniqueTopic(t, "scan-fail")
	run("failing records, environment", []string{t2}, without(sinkConfig(ks.Endpoint, stream, nil), "awsCredentialPluginParam"),
		map[string]any{"secretsMap": secretsMap("from-env")}, []string{"awsCredentialPluginParam=" + staticParam(scanSecretEnv)}, working("fail policy", t2))
	t3 := env.UniqueTopic(t, "scan-sts")
	uc := sinkConfig(ks.Endpoint, stream, assume)
	uc["failurePolicy"] = "deadLetter"
	uc["deadLetterTopic"] = dlt
	run("assume role and CloudWatch", []string{t3}, uc, nil, nil, working("assume role", t3))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		m, err := dlc.Receive(ctx)
		if err != nil {
			break
		}
		dlc.Ack(m)
		b, _ := json.Marshal(m.Properties())
		all.add("dead-letter properties", string(b))
	}
	if !strings.Contains(all.parts["dead-letter properties"], "kinesis-sink-error") {
		t.Error("no dead-lettered message was scanned: the dead-letter path did not run")
	}

	// The fault suite's logs (every sink process's output, from the last
	// `make test-faults` or make test's short suite, which runs after this
	// package): KS_FAULTS_LOG_DIR, else its default <repo>/.cache/fault-logs.
	// Its sinks get their own secret key, scanned for here too (the suite
	// also scans its logs itself).
	faultDir := os.Getenv("KS_FAULTS_LOG_DIR")
	if faultDir == "" {
		faultDir = filepath.Join("..", ".cache", "fault-logs")
	}
	files, _ := filepath.Glob(filepath.Join(faultDir, "*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			all.add("fault suite "+filepath.Base(f), string(b))
		}
	}
	t.Logf("fault suite logs: %d files in %s", len(files), faultDir)

	total := 0
	for where, text := range all.parts {
		total += len(text)
		for _, s := range scanSentinels() {
			for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), hex.EncodeToString([]byte(s))} {
				if i := strings.Index(text, form); i >= 0 {
					lo, hi := max(0, i-200), min(len(text), i+len(form)+50)
					t.Errorf("%s shows a secret (%s): ...%s...", where, s, text[lo:hi])
				}
			}
		}
	}
	t.Logf("scanned %d places, %d bytes, for %d secrets", len(all.parts), total, len(scanSentinels()))
	if total < 10000 {
		t.Errorf("only %d bytes scanned: the runs did not produce what they should", total)
	}
}

func without(m map[string]any, key string) map[string]any {
	delete(m, key)
	return m
}
