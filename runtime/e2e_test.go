package runtime_test

// End-to-end tests of the runtime against the real Pulsar standalone (and
// its functions worker) started by scripts/local-env.sh. The sink is the
// file-writing test sink, so what is checked here is the runtime's contract:
// delivery, acks, redelivery, status, shutdown.

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testsink"
)

func TestBinaryDeliversEveryMessageExactlyOnce(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := e2e.TestsinkBinary(t)
	plain := env.UniqueTopic(t, "rt-plain")
	parted := env.UniqueTopic(t, "rt-parted")
	env.CreateTopic(t, plain)
	env.CreatePartitionedTopic(t, parted, 3)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	port, mport := e2e.FreePort(t), e2e.FreePort(t)
	name := "rt-exactly-once-" + filepath.Base(t.TempDir())
	conf := e2e.WorkerConf(env, name, port, mport, []string{plain, parted}, map[string]any{"path": out}, nil)
	in := e2e.Start(t, bin, []string{"-instance-conf", conf}, nil)

	// subscriptionPosition is EARLIEST, so producing before the instance
	// has subscribed loses nothing.
	sub := "public/default/" + name
	client := e2e.NewClient(t, env)
	const perTopic = 5000
	sent := e2e.Produce(t, client, plain, perTopic, func(i int) string { return fmt.Sprintf("plain-%05d", i) })
	sent = append(sent, e2e.Produce(t, client, parted, perTopic, func(i int) string { return fmt.Sprintf("parted-%05d", i) })...)

	lines := e2e.WaitLines(t, out, len(sent), 120*time.Second, in)
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

	ctl := e2e.StatusClient(t, port)
	env.WaitFor(t, 10*time.Second, func() bool {
		st := e2e.FunctionStatus(t, ctl)
		return st != nil && st.NumReceived == int64(len(sent)) && st.NumSuccessfullyProcessed == int64(len(sent))
	}, "status counters to reach %d", len(sent))

	env.WaitFor(t, 30*time.Second, func() bool {
		return env.Backlog(t, plain, sub) == 0 && env.Backlog(t, parted, sub) == 0
	}, "backlog of %s to drain", sub)

	start := time.Now()
	_ = in.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.Done:
	case <-time.After(10 * time.Second):
		t.Fatal("instance did not exit within 10 s of SIGTERM")
	}
	if in.Err != nil {
		t.Fatalf("exit after SIGTERM: %v", in.Err)
	}
	t.Logf("%d messages delivered once each; exited %s after SIGTERM", len(sent), time.Since(start).Round(time.Millisecond))
}

func TestFailedRecordIsRedeliveredAndInstanceKeepsRunning(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := e2e.TestsinkBinary(t)
	topic := env.UniqueTopic(t, "rt-poison")
	env.CreateTopic(t, topic)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	port := e2e.FreePort(t)
	name := "rt-poison-" + filepath.Base(t.TempDir())
	conf := e2e.WorkerConf(env, name, port, 0, []string{topic},
		map[string]any{"path": out, "failContains": "poison", "failTimes": 2},
		map[string]any{"negativeAckRedeliveryDelayMs": "200"})
	in := e2e.Start(t, bin, []string{"-instance-conf", conf}, nil)
	sub := "public/default/" + name
	env.WaitFor(t, 60*time.Second, func() bool { return e2e.HasSubscription(t, env, topic, sub) }, "subscription")

	client := e2e.NewClient(t, env)
	e2e.Produce(t, client, topic, 10, func(i int) string {
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
	if !in.Running() {
		t.Fatalf("instance exited after a failed record: %v", in.Err)
	}
	st := e2e.FunctionStatus(t, e2e.StatusClient(t, port))
	if st == nil || st.NumUserExceptions != 2 || len(st.LatestUserExceptions) != 2 {
		t.Fatalf("status: want 2 user exceptions, got %+v", st)
	}
	if ms := st.LatestUserExceptions[0].MsSinceEpoch; time.Since(time.UnixMilli(ms)) > time.Minute || ms > time.Now().UnixMilli() {
		t.Fatalf("exception time %d is not milliseconds since epoch", ms)
	}
}

func TestMalformedInstanceConfExitsAtOnceWithOneLine(t *testing.T) {
	bin := e2e.TestsinkBinary(t)
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
	bin := e2e.TestsinkBinary(t)
	topic := env.UniqueTopic(t, "rt-fm")
	env.CreateTopic(t, topic)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	port, mport := e2e.FreePort(t), e2e.FreePort(t)
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
	in := e2e.Start(t, "bash", []string{"-c", line}, []string{"POD_NAME=" + name + "-0", "AWS_SECRET_ACCESS_KEY=from-k8s-secret"})
	sub := "public/default/" + name
	env.WaitFor(t, 60*time.Second, func() bool { return e2e.HasSubscription(t, env, topic, sub) }, "subscription")
	client := e2e.NewClient(t, env)
	e2e.Produce(t, client, topic, 50, func(i int) string { return fmt.Sprintf("fm-%d", i) })
	lines := e2e.WaitLines(t, out, 50, 60*time.Second, in)
	if len(lines) != 50 {
		t.Fatalf("got %d lines", len(lines))
	}
	st := e2e.FunctionStatus(t, e2e.StatusClient(t, port))
	if st == nil || st.InstanceId != "0" {
		t.Fatalf("status from the Function Mesh instance: %+v", st)
	}
}
