package sink_test

// Liveness of the NAR path through the real worker (Kinesis is the
// in-process model, which the children reach over HTTP): a kinesis-sink child
// that stops (SIGSTOP) answers nothing and exits nothing, so only the
// protocol's heartbeat shows it; the Java sink must fail the instance, end
// the child, and the worker start a new one, with nothing lost.

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// silenceBound is the Java sink's bound on a silent child: no frame for
// 30 s (it heartbeats every 5 s), looked at once a second.
const silenceBound = 31 * time.Second

// TestNARSinkStoppedChild: the child SIGSTOPped with records in flight
// and more published while it is stopped. The instance fails within the
// heartbeat bound (the stopped child is killed), the worker restarts it
// with a new child, and every record reaches Kinesis.
func TestNARSinkStoppedChild(t *testing.T) {
	env := testenv.Pulsar(t)
	fk := startFakeKinesis(t, kinesisfake.Rules{})
	client := e2e.NewClient(t, env)
	stream := fmt.Sprintf("nar-stop-%d", time.Now().UnixNano())
	fk.model.MustCreateStream(stream, 1)
	topic := env.UniqueTopic(t, "nar-stop")
	name := uniqueName(t, "nar-stop")
	file := writeJavaSinkConfigFile(t, name, []string{topic}, map[string]any{
		"awsEndpoint": fk.URL, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-stop"}`,
		"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
		"retainOrdering": true,
	})
	if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--sink-config-file", file); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
	waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)

	sent := publishN(t, client, topic, 0, 300, 10)
	env.WaitFor(t, 2*time.Minute, func() bool { d, _ := fk.counts(); return d >= 300 }, "the first 300 records in Kinesis")
	var child int
	for c := range sidecarProcs(name) {
		child = c
	}
	// Stopped while Pulsar delivers more: they are in the JVM's window,
	// written to a child that reads nothing.
	if err := syscall.Kill(child, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	for k, v := range publishN(t, client, topic, 300, 300, 10) {
		sent[k] = append(sent[k], v...)
	}
	env.WaitFor(t, 2*time.Minute, func() bool { return syscall.Kill(child, 0) != nil }, "the stopped child %d to be ended", child)
	took := time.Since(stopped)
	t.Logf("the stopped child was ended %s after SIGSTOP (bound %s; this wait polls every few seconds)", took.Round(time.Second), silenceBound)
	// WaitFor polls, and a loaded machine adds a little.
	if took > silenceBound+10*time.Second {
		t.Errorf("the stopped child was ended after %s, want within %s", took, silenceBound)
	}
	if took < 25*time.Second {
		t.Errorf("the stopped child was ended after %s: before the 30 s of silence, so something else ended it", took)
	}
	env.WaitFor(t, 3*time.Minute, func() bool {
		now := sidecarProcs(name)
		_, old := now[child]
		return len(now) == 1 && !old
	}, "a new child after the instance failed")
	if log := instanceLog(t, env, name); !strings.Contains(log, "sent nothing for") {
		t.Errorf("the instance log does not say the child went silent:\n%s", e2e.Tail(log, 30))
	}
	env.WaitFor(t, 3*time.Minute, func() bool { d, _ := fk.counts(); return d >= 600 }, "all 600 records in Kinesis")
	checkStored(t, fk.records(), sent, true)
	env.WaitFor(t, time.Minute, func() bool { return env.Backlog(t, topic, "public/default/"+name) == 0 }, "the backlog to drain")
	// Any test's child is briefly an orphan between its instance's end
	// and its own (it exits when its parent changes): only one that stays
	// is a leak.
	env.WaitFor(t, 20*time.Second, func() bool { return len(orphanSidecars()) == 0 }, "no kinesis-sink child without its Java instance")
}
