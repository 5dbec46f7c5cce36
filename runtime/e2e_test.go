package runtime_test

// End-to-end tests of the runtime against the real Pulsar standalone (and
// its functions worker) started by scripts/local-env.sh. The sink is the
// file-writing test sink, so what is checked here is the runtime's contract:
// delivery, acks, redelivery, status, shutdown.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testsink"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// testsinkBinary builds the runtime with the test sink once per test run.
func testsinkBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "testsink-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "testsink")
		cmd := exec.Command("go", "build", "-o", buildPath, "github.com/pulsar-kinesis/kinesis-sink/internal/testsink/cmd/testsink")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build testsink: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// instance is a running binary started by a test.
type instance struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{}
	err    error
}

func startInstance(t *testing.T, bin string, args []string, env []string) *instance {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	cmd.Env = append(append(os.Environ(), "KINESIS_SINK_GRPC_BIND=127.0.0.1", "KINESIS_SINK_METRICS_BIND=127.0.0.1"), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, stderr: &stderr, done: make(chan struct{})}
	go func() { in.err = cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		select {
		case <-in.done:
		default:
			_ = cmd.Process.Kill()
			<-in.done
		}
		if t.Failed() {
			t.Logf("instance output:\n%s", tail(stderr.String(), 4000))
		}
	})
	return in
}

func (in *instance) running() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func statusClient(t *testing.T, port int) pb.InstanceControlClient {
	t.Helper()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewInstanceControlClient(conn)
}

func functionStatus(t *testing.T, c pb.InstanceControlClient) *pb.FunctionStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.GetFunctionStatus(ctx, &emptypb.Empty{})
	if err != nil {
		return nil
	}
	return st
}

func produce(t *testing.T, client pulsar.Client, topic string, n int, payload func(i int) string) []string {
	t.Helper()
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var (
		mu   sync.Mutex
		errs []error
		sent []string
	)
	for i := 0; i < n; i++ {
		pl := payload(i)
		sent = append(sent, pl)
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: []byte(pl), Key: fmt.Sprintf("k%d", i%17)},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("%d sends failed, first: %v", len(errs), errs[0])
	}
	return sent
}

// hasSubscription reports whether topic has the subscription yet.
func hasSubscription(t *testing.T, env *testenv.PulsarEnv, topic, sub string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := "/admin/v2/" + strings.Replace(topic, "://", "/", 1) + "/subscriptions"
	code, body, err := env.AdminREST(ctx, "GET", path, nil)
	if err != nil || code != 200 {
		return false
	}
	var subs []string
	_ = json.Unmarshal(body, &subs)
	for _, s := range subs {
		if s == sub {
			return true
		}
	}
	return false
}

func newClient(t *testing.T, env *testenv.PulsarEnv) pulsar.Client {
	t.Helper()
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: env.ServiceURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// workerStyleConf builds an instance conf the way the 4.0 worker does: flat
// keys plus the functionDetails protobuf JSON.
func workerStyleConf(env *testenv.PulsarEnv, name string, port, metricsPort int, topics []string, userConfig map[string]any, source map[string]any) string {
	uc, _ := json.Marshal(userConfig)
	inputSpecs := map[string]any{}
	flatSpecs := map[string]string{}
	for _, tp := range topics {
		inputSpecs[tp] = map[string]any{}
		flatSpecs[tp] = "{}"
	}
	src := map[string]any{"inputSpecs": inputSpecs, "subscriptionPosition": "EARLIEST"}
	for k, v := range source {
		src[k] = v
	}
	details, _ := json.Marshal(map[string]any{
		"tenant": "public", "namespace": "default", "name": name,
		"runtime": "GO", "autoAck": true, "parallelism": 1,
		"source":     src,
		"sink":       map[string]any{},
		"userConfig": string(uc),
		"logLevel":   "INFO", // unknown to our proto: must be ignored
	})
	conf := map[string]any{
		"functionDetails":               string(details),
		"pulsarServiceURL":              env.ServiceURL,
		"port":                          port,
		"metricsPort":                   metricsPort,
		"tenant":                        "public",
		"nameSpace":                     "default",
		"name":                          name,
		"funcID":                        "fid-" + name,
		"funcVersion":                   "0",
		"clusterName":                   "standalone",
		"logTopic":                      "",
		"processingGuarantees":          0,
		"runtime":                       3,
		"secretsMap":                    "",
		"userConfig":                    string(uc),
		"autoAck":                       true,
		"subscriptionName":              "",
		"subscriptionPosition":          1,
		"sourceInputSpecs":              flatSpecs,
		"sourceSpecsTopic":              topics[len(topics)-1],
		"sinkSpecsTopic":                "",
		"deadLetterTopic":               "",
		"tlsAllowInsecureConnection":    false,
		"tlsHostnameVerificationEnable": false,
	}
	b, _ := json.Marshal(conf)
	return string(b)
}

func waitLines(t *testing.T, path string, n int, timeout time.Duration, in *instance) []testsink.Line {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lines []testsink.Line
	for time.Now().Before(deadline) {
		lines, _ = testsink.ReadLines(path)
		if len(lines) >= n {
			return lines
		}
		if in != nil && !in.running() {
			t.Fatalf("instance exited early: %v", in.err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("got %d of %d records in %s after %s", len(lines), n, path, timeout)
	return nil
}

func TestBinaryDeliversEveryMessageExactlyOnce(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := testsinkBinary(t)
	plain := env.UniqueTopic(t, "rt-plain")
	parted := env.UniqueTopic(t, "rt-parted")
	env.CreateTopic(t, plain)
	env.CreatePartitionedTopic(t, parted, 3)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	port, mport := freePort(t), freePort(t)
	name := "rt-exactly-once-" + filepath.Base(t.TempDir())
	conf := workerStyleConf(env, name, port, mport, []string{plain, parted}, map[string]any{"path": out}, nil)
	in := startInstance(t, bin, []string{"-instance-conf", conf}, nil)

	// subscriptionPosition is EARLIEST, so producing before the instance
	// has subscribed loses nothing.
	sub := "public/default/" + name
	client := newClient(t, env)
	const perTopic = 5000
	sent := produce(t, client, plain, perTopic, func(i int) string { return fmt.Sprintf("plain-%05d", i) })
	sent = append(sent, produce(t, client, parted, perTopic, func(i int) string { return fmt.Sprintf("parted-%05d", i) })...)

	lines := waitLines(t, out, len(sent), 120*time.Second, in)
	seen := map[string]int{}
	for _, l := range lines {
		seen[l.Payload]++
		if strings.HasPrefix(l.Payload, "parted-") && l.Partition < 0 {
			t.Fatalf("record from the partitioned topic has no partition: %+v", l)
		}
	}
	for _, s := range sent {
		if seen[s] != 1 {
			t.Fatalf("payload %s delivered %d times", s, seen[s])
		}
	}
	if len(lines) != len(sent) {
		t.Fatalf("delivered %d lines for %d messages", len(lines), len(sent))
	}

	ctl := statusClient(t, port)
	env.WaitFor(t, 10*time.Second, func() bool {
		st := functionStatus(t, ctl)
		return st != nil && st.NumReceived == int64(len(sent)) && st.NumSuccessfullyProcessed == int64(len(sent))
	}, "status counters to reach %d", len(sent))

	env.WaitFor(t, 30*time.Second, func() bool {
		return env.Backlog(t, plain, sub) == 0 && env.Backlog(t, parted, sub) == 0
	}, "backlog of %s to drain", sub)

	start := time.Now()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		t.Fatal("instance did not exit within 10 s of SIGTERM")
	}
	if in.err != nil {
		t.Fatalf("exit after SIGTERM: %v", in.err)
	}
	t.Logf("%d messages delivered once each; exited %s after SIGTERM", len(sent), time.Since(start).Round(time.Millisecond))
}

func TestFailedRecordIsRedeliveredAndInstanceKeepsRunning(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := testsinkBinary(t)
	topic := env.UniqueTopic(t, "rt-poison")
	env.CreateTopic(t, topic)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	port := freePort(t)
	name := "rt-poison-" + filepath.Base(t.TempDir())
	conf := workerStyleConf(env, name, port, 0, []string{topic},
		map[string]any{"path": out, "failContains": "poison", "failTimes": 2},
		map[string]any{"negativeAckRedeliveryDelayMs": "200"})
	in := startInstance(t, bin, []string{"-instance-conf", conf}, nil)
	sub := "public/default/" + name
	env.WaitFor(t, 60*time.Second, func() bool { return hasSubscription(t, env, topic, sub) }, "subscription")

	client := newClient(t, env)
	produce(t, client, topic, 10, func(i int) string {
		if i == 3 {
			return "poison-3"
		}
		return fmt.Sprintf("ok-%d", i)
	})
	// The producer batches, and a negative ack of one message redelivers
	// its whole batch entry, so the others may arrive again (at least once);
	// wait for the poison record itself.
	var lines []testsink.Line
	env.WaitFor(t, 60*time.Second, func() bool {
		lines, _ = testsink.ReadLines(out)
		for _, l := range lines {
			if l.Payload == "poison-3" {
				return true
			}
		}
		return false
	}, "the failed record to be redelivered and written")
	time.Sleep(500 * time.Millisecond) // a second (wrong) delivery would show up by now
	lines, _ = testsink.ReadLines(out)
	var poison []testsink.Line
	distinct := map[string]bool{}
	for _, l := range lines {
		distinct[l.Payload] = true
		if l.Payload == "poison-3" {
			poison = append(poison, l)
		}
	}
	if len(distinct) != 10 {
		t.Fatalf("want all 10 records written, got %d distinct", len(distinct))
	}
	if len(poison) != 1 || poison[0].RedeliveryCount != 2 {
		t.Fatalf("poison record: want it once after 2 redeliveries, got %+v", poison)
	}
	if !in.running() {
		t.Fatalf("instance exited after a failed record: %v", in.err)
	}
	st := functionStatus(t, statusClient(t, port))
	if st == nil || st.NumUserExceptions != 2 || len(st.LatestUserExceptions) != 2 {
		t.Fatalf("status: want 2 user exceptions, got %+v", st)
	}
	if ms := st.LatestUserExceptions[0].MsSinceEpoch; time.Since(time.UnixMilli(ms)) > time.Minute || ms > time.Now().UnixMilli() {
		t.Fatalf("exception time %d is not milliseconds since epoch", ms)
	}
}

func TestMalformedInstanceConfExitsAtOnceWithOneLine(t *testing.T) {
	bin := testsinkBinary(t)
	for _, arg := range []string{`{`, `{"pulsarServiceURL":"pulsar://127.0.0.1:6650"}`, `{"port":"x"}`} {
		start := time.Now()
		cmd := exec.Command(bin, "-instance-conf", arg)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s: exit 0, want non-zero", arg)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s: took %s", arg, d)
		}
		msg := strings.TrimSpace(string(out))
		if msg == "" || strings.Contains(msg, "\n") {
			t.Fatalf("%s: want one line, got %q", arg, msg)
		}
		t.Logf("%s -> %s", arg, msg)
	}
}

// TestFunctionMeshLaunchLine runs the exact bash command Function Mesh's
// MakeGoFunctionCommand generates: the JSON is interpolated unquoted, the
// shard id comes from POD_NAME, and secrets arrive as environment variables.
func TestFunctionMeshLaunchLine(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := testsinkBinary(t)
	topic := env.UniqueTopic(t, "rt-fm")
	env.CreateTopic(t, topic)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	port, mport := freePort(t), freePort(t)
	name := "rt-fm-" + filepath.Base(t.TempDir())
	uc, _ := json.Marshal(map[string]any{"path": out})
	// Function Mesh's conf: old flat keys, no functionDetails, only
	// sourceSpecsTopic, health check self-stop turned off with -1.
	fmConf := fmt.Sprintf(`{"funcID":"${SHARD_ID}-5f0c","funcVersion":"0","pulsarServiceURL":"%s","instanceID":${SHARD_ID},"maxBufTuples":100,"port":%d,"metricsPort":%d,"clusterName":"standalone","tenant":"public","nameSpace":"default","name":"%s","logTopic":"","processingGuarantees":0,"runtime":3,"autoAck":true,"parallelism":1,"subscriptionName":"","cleanupSubscription":false,"sourceSpecsTopic":"%s","sinkSpecsTopic":"","userConfig":%q,"expectedHealthCheckInterval":-1,"deadLetterTopic":""}`,
		env.ServiceURL, port, mport, name, topic, string(uc))
	escaped := strings.ReplaceAll(fmConf, `"`, `\"`)
	line := "SHARD_ID=${POD_NAME##*-} && echo shardId=${SHARD_ID} && ls -al && pwd && " +
		"GO_FUNCTION_CONF=" + escaped + " && goFunctionConfigs=${GO_FUNCTION_CONF} && echo goFunctionConfigs=\"'${goFunctionConfigs}'\" && " +
		"ls -l " + bin + " && chmod +x " + bin + " && exec " + bin + " -instance-conf ${goFunctionConfigs}"
	in := startInstance(t, "bash", []string{"-c", line}, []string{"POD_NAME=" + name + "-0", "AWS_SECRET_ACCESS_KEY=from-k8s-secret"})
	sub := "public/default/" + name
	env.WaitFor(t, 60*time.Second, func() bool { return hasSubscription(t, env, topic, sub) }, "subscription")
	client := newClient(t, env)
	produce(t, client, topic, 50, func(i int) string { return fmt.Sprintf("fm-%d", i) })
	lines := waitLines(t, out, 50, 60*time.Second, in)
	if len(lines) != 50 {
		t.Fatalf("got %d lines", len(lines))
	}
	st := functionStatus(t, statusClient(t, port))
	if st == nil || st.InstanceId != "0" {
		t.Fatalf("status from the Function Mesh instance: %+v", st)
	}
}
