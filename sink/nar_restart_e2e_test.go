package sink_test

// Restarts of a NAR instance leak nothing: the binary copy, the sink's
// threads, the children.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// sinkThreads counts a JVM's threads, and those named kinesis-sink-*
// (the Linux thread names, cut to 15 characters).
func sinkThreads(pid int) (all, ours int) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/comm", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		all++
		if strings.HasPrefix(string(b), "kinesis-sink-") {
			ours++
		}
	}
	return all, ours
}

// TestNARSinkRestarts: an instance made to restart eight times, by its
// child SIGKILLed (the instance fails; the worker restarts it) and by
// sinks restart, alternately. After each restart: the new child runs
// from a copy already deleted (nothing left in java.io.tmpdir, whatever
// way the instance ends), its Java instance has the sink's four threads
// (results, log, flush, watchdog; a fifth answers dead letters, started
// with the first) and no more, the old child is
// gone, and no child is orphaned. Records published between restarts all
// arrive.
func TestNARSinkRestarts(t *testing.T) {
	env := testenv.Pulsar(t)
	fk := startFakeKinesis(t, kinesisfake.Rules{})
	client := e2e.NewClient(t, env)
	stream := fmt.Sprintf("nar-restarts-%d", time.Now().UnixNano())
	fk.model.MustCreateStream(stream, 1)
	topic := env.UniqueTopic(t, "nar-restarts")
	name := uniqueName(t, "nar-restarts")
	file := writeJavaSinkConfigFile(t, name, []string{topic}, map[string]any{
		"awsEndpoint": fk.URL, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-restarts"}`,
		"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
	})
	if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--sink-config-file", file); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	current := func() (child, java int) {
		for c, j := range sidecarProcs(name) {
			child, java = c, j
		}
		return child, java
	}
	env.WaitFor(t, 2*time.Minute, func() bool { c, _ := current(); return c != 0 }, "the kinesis-sink child of %s", name)
	waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)

	const restarts = 8
	sent := map[string][]string{}
	javas := map[int]bool{}
	for i := 0; i <= restarts; i++ {
		child, java := current()
		// The sink's threads start with open; give them a moment.
		var all, ours int
		env.WaitFor(t, 30*time.Second, func() bool { all, ours = sinkThreads(java); return ours >= 4 }, "the sink's threads in %d", java)
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", child))
		t.Logf("run %d: child %d, Java instance %d: %d threads, %d of the sink's; the child's binary: %s", i, child, java, all, ours, exe)
		javas[java] = true
		if ours != 4 {
			t.Errorf("run %d: %d kinesis-sink-* threads in the Java instance, want 4", i, ours)
		}
		if !strings.HasSuffix(exe, " (deleted)") {
			t.Errorf("run %d: the child's binary %s is still in the file system", i, exe)
		}
		for k, v := range publishN(t, client, topic, i*100, 100, 5) {
			sent[k] = append(sent[k], v...)
		}
		env.WaitFor(t, 2*time.Minute, func() bool { d, _ := fk.counts(); return d >= (i+1)*100 }, "run %d's records in Kinesis", i)
		if i == restarts {
			break
		}
		how := "SIGKILL of the child"
		if i%2 == 0 {
			if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		} else {
			how = "sinks restart"
			if out, err := env.Admin(t, "sinks", "restart", "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
				t.Fatalf("sinks restart: %v\n%s", err, out)
			}
		}
		env.WaitFor(t, 3*time.Minute, func() bool {
			c, _ := current()
			return c != 0 && c != child && syscall.Kill(child, 0) != nil
		}, "a new child after restart %d (%s)", i+1, how)
	}
	t.Logf("%d restarts ran in %d Java instance processes", restarts, len(javas))
	checkStored(t, fk.records(), sent, false)
	// Any test's child is briefly an orphan between its instance's end
	// and its own (it exits when its parent changes): only one that stays
	// is a leak.
	env.WaitFor(t, 20*time.Second, func() bool { return len(orphanSidecars()) == 0 }, "no kinesis-sink child without its Java instance")
}

// TestNARRestartDuplicates: sinks restart three times while records flow
// and every PutRecords answer takes 300 ms, so that the child holds
// records when each close comes. Pulsar closes the instance's consumers
// before the sink, so what the child writes from then on is redelivered
// and written again: close ends the child's work instead of flushing.
// Every record arrives; the duplicates the restarts cost and how long
// each took are logged (docs/sidecar-protocol.md).
func TestNARRestartDuplicates(t *testing.T) {
	env := testenv.Pulsar(t)
	fk := startFakeKinesis(t, kinesisfake.Rules{Seed: 1, DelayFraction: 1, Delay: 300 * time.Millisecond, ThrottleFraction: 0.5})
	client := e2e.NewClient(t, env)
	stream := fmt.Sprintf("nar-restart-dups-%d", time.Now().UnixNano())
	fk.model.MustCreateStream(stream, 2)
	topic := env.UniqueTopic(t, "nar-restart-dups")
	name := uniqueName(t, "nar-restart-dups")
	file := writeJavaSinkConfigFile(t, name, []string{topic}, map[string]any{
		"awsEndpoint": fk.URL, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-restart-dups"}`,
		"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
	})
	if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--sink-config-file", file); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	child := func() int {
		for c := range sidecarProcs(name) {
			return c
		}
		return 0
	}
	env.WaitFor(t, 2*time.Minute, func() bool { return child() != 0 }, "the kinesis-sink child of %s", name)
	waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)

	// Unbatched: a batch is redelivered whole when any of its records is
	// unacked, which would hide what the close itself costs.
	prod, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const chunks, perChunk = 40, 150
	sent := map[string][]string{}
	var mu sync.Mutex
	published := make(chan error, 1)
	go func() {
		var sendErr error
		for i := range chunks * perChunk {
			k := fmt.Sprintf("key-%d", i%20)
			v := fmt.Sprintf("nar-%06d-%s", i, k)
			mu.Lock()
			sent[k] = append(sent[k], v)
			mu.Unlock()
			prod.SendAsync(context.Background(), &pulsar.ProducerMessage{Key: k, Payload: []byte(v)}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					mu.Lock()
					sendErr = err
					mu.Unlock()
				}
			})
			if i%perChunk == perChunk-1 {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if err := prod.FlushWithCtx(context.Background()); err != nil {
			published <- err
			return
		}
		mu.Lock()
		defer mu.Unlock()
		published <- sendErr
	}()
	var took []string
	for i := range 3 {
		env.WaitFor(t, 2*time.Minute, func() bool { d, _ := fk.counts(); return d >= (i+1)*chunks*perChunk/4 },
			"a quarter more of the records in Kinesis before restart %d", i+1)
		old := child()
		t0 := time.Now()
		if out, err := env.Admin(t, "sinks", "restart", "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
			t.Fatalf("sinks restart: %v\n%s", err, out)
		}
		env.WaitFor(t, 2*time.Minute, func() bool { c := child(); return c != 0 && c != old }, "a new child after restart %d", i+1)
		gone := time.Since(t0)
		waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)
		took = append(took, fmt.Sprintf("new child after %s, consuming after %s", gone.Round(100*time.Millisecond),
			time.Since(t0).Round(100*time.Millisecond)))
	}
	if err := <-published; err != nil {
		t.Fatalf("publish: %v", err)
	}
	env.WaitFor(t, 3*time.Minute, func() bool { d, _ := fk.counts(); return d >= chunks*perChunk }, "every record in Kinesis")
	distinct, total := fk.counts()
	mu.Lock()
	dupes := checkStored(t, fk.records(), sent, false)
	mu.Unlock()
	t.Logf("3 sinks restart with every answer 300 ms late: %d records, %d stored, %d distinct, %d duplicates; restarts: %s",
		chunks*perChunk, total, distinct, dupes, strings.Join(took, "; "))
}
