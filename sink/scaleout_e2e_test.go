package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// Scale-out through Pulsar's own engine: several instances of the sink on
// one subscription, as the functions worker runs them for --parallelism N
// (and Function Mesh for replicas), with instances killed and stopped
// while they drain a backlog. What Kinesis holds is read back.

const scaleKeys = 200

func scaleN(t *testing.T) int {
	if v := os.Getenv("KS_SCALE_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < scaleKeys {
			t.Fatalf("KS_SCALE_N=%q: want a number of records of at least %d", v, scaleKeys)
		}
		return n
	}
	return 50000
}

func scaleKey(i int) string     { return fmt.Sprintf("key-%03d", i%scaleKeys) }
func scalePayload(i int) string { return fmt.Sprintf("%s/%07d", scaleKey(i), i/scaleKeys) }

// scaleResult counts, over the user records of stream, the published
// records missing, the extra copies and the first copies of a key's record
// stored after a later record of the key (a key's records share a shard,
// whose order is Kinesis's).
type scaleResult struct {
	missing, duplicates, outOfOrder int
}

func readScale(t *testing.T, ks *testenv.KinesisEnv, stream string, n int) (scaleResult, int) {
	t.Helper()
	recs, _ := userRecords(t, ks.ReadAll(t, stream))
	seen := make(map[string]int, n)
	last := map[string]int{}
	var r scaleResult
	for _, rec := range recs {
		s := string(rec.Data)
		seen[s]++
		if seen[s] > 1 {
			r.duplicates++
			continue
		}
		k, seqText, ok := strings.Cut(s, "/")
		seq, err := strconv.Atoi(seqText)
		if !ok || err != nil {
			t.Fatalf("stream %s holds a record that is not ours: %q", stream, s)
		}
		if prev, ok := last[k]; ok && seq < prev {
			r.outOfOrder++
		}
		last[k] = seq
	}
	for i := range n {
		if seen[scalePayload(i)] == 0 {
			r.missing++
		}
	}
	return r, len(seen)
}

// publishScale sends n records keyed over scaleKeys keys (Pulsar routes a
// key to one partition, so each key is delivered in publish order). Batches
// hold one key each: a Key_Shared subscription dispatches a batch by its
// key, so a batch mixing keys would reach a consumer that does not own all
// of them (Pulsar's advice for Key_Shared: key-based batching).
//
// The records go out evenly over span, so that the instances are killed and
// stopped while records still arrive, not after the backlog is written.
func publishScale(t *testing.T, client pulsar.Client, topic string, n int, span time.Duration) {
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, MaxPendingMessages: 5000,
		BatcherBuilderType: pulsar.KeyBasedBatchBuilder})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var failed sync.Once
	start := time.Now()
	for i := range n {
		if i%100 == 0 {
			time.Sleep(time.Until(start.Add(span * time.Duration(i) / time.Duration(n))))
		}
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Key: scaleKey(i), Payload: []byte(scalePayload(i))},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					failed.Do(func() { t.Errorf("send: %v", err) })
				}
			})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// instanceProcs maps the instance ids of a function's running processes to
// their pids, from the instance conf on their command lines (the worker
// leaves out "instanceID" for instance 0).
func instanceProcs(bin, name string) map[int]int {
	out, _ := exec.Command("pgrep", "-f", filepath.Base(bin)+" -instance-conf .*\""+name+"\"").Output()
	procs := map[int]int{}
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		id := 0
		if i := strings.Index(string(cmdline), `"instanceID":`); i >= 0 {
			fmt.Sscanf(string(cmdline[i+len(`"instanceID":`):]), "%d", &id)
		}
		procs[id] = pid
	}
	return procs
}

// waitBacklogDrained waits until sub has acknowledged every record of topic.
func waitBacklogDrained(t *testing.T, env *testenv.PulsarEnv, topic, sub string) {
	t.Helper()
	env.WaitFor(t, 5*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		backlog, err := env.BacklogOf(ctx, topic, sub)
		return err == nil && backlog == 0
	}, "the backlog of %s drained", sub)
}

// scaleDeploy is a way to deploy a function of 3 instances.
type scaleDeploy struct {
	name      string
	sub       subscription // failover (--retain-ordering) or keyShared (retainKeyOrdering); "": SHARED
	viaDeploy bool         // kinesis-sink deploy with a sink config file; else pulsar-admin functions create --go
}

// TestParallelInstances deploys the sink with parallelism 3 through the
// functions worker on a 6-partition topic and a 4-shard stream, has it
// drain 50,000 records over 200 keys while one instance is SIGKILLed (the
// worker restarts it) and another is stopped with functions stop
// --instance-id, and reads everything back: nothing missing, and with
// KEY_SHARED and retainOrdering first copies in publish order per key.
// The restarted instance joins while the others hold a backlog, which
// FAILOVER does not keep in order (TestClusterGracefulDrain): its run
// reports the count.
func TestParallelInstances(t *testing.T) {
	for _, d := range []scaleDeploy{
		{name: "failover-admin", sub: failover},
		{name: "keyshared-deploy", sub: keyShared, viaDeploy: true},
		{name: "shared-deploy", viaDeploy: true},
	} {
		t.Run(d.name, func(t *testing.T) { runParallelInstances(t, d) })
	}
}

func runParallelInstances(t *testing.T, d scaleDeploy) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	bin := e2e.KinesisSinkBinary(t)
	n := scaleN(t)
	stream := ks.UniqueStream(t, "scale")
	ks.CreateStream(t, stream, 4)
	topic := env.UniqueTopic(t, "scale")
	env.CreatePartitionedTopic(t, topic, 6)
	name := fmt.Sprintf("scale%d", time.Now().UnixNano()%1e12)
	sub := "scale-" + d.name
	// Before anything is published, at the start: the backlog then holds
	// every record, whenever the instances start.
	env.CreateSubscription(t, topic, sub)
	configs := sinkConfig(ks.Endpoint, stream, map[string]any{
		"retainOrdering": d.sub != "", "aggregationEnabled": true,
	})

	del := func() {
		env.Admin(t, "functions", "delete", "--tenant", "public", "--namespace", "default", "--name", name)
	}
	if d.viaDeploy {
		file := map[string]any{
			"tenant": "public", "namespace": "default", "name": name, "inputs": []string{topic},
			"sourceSubscriptionName": sub, "parallelism": 3, "retainOrdering": d.sub == failover, "retainKeyOrdering": d.sub == keyShared,
			"processingGuarantees": "ATLEAST_ONCE", "configs": configs,
		}
		b, _ := json.Marshal(file)
		path := filepath.Join(t.TempDir(), "sink.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "deploy", "create", "--admin-url", env.WebURL, "--sink-config-file", path,
			"--binary", bin, "--wait", "2m").CombinedOutput()
		if err != nil {
			t.Fatalf("kinesis-sink deploy create: %v\n%s", err, out)
		}
	} else {
		uc, _ := json.Marshal(configs)
		args := []string{"functions", "create", "--go", bin, "--tenant", "public", "--namespace", "default",
			"--name", name, "--inputs", topic, "--subs-name", sub, "--parallelism", "3", "--user-config", string(uc)}
		if d.sub == keyShared {
			t.Fatal("functions create --go takes key ordering through the user config; this test deploys it with a file")
		}
		if d.sub == failover {
			args = append(args, "--retain-ordering")
		}
		if out, err := env.Admin(t, args...); err != nil {
			t.Fatalf("functions create: %v\n%s", err, out)
		}
	}
	t.Cleanup(del)
	env.WaitFor(t, 2*time.Minute, func() bool { return len(instanceProcs(bin, name)) == 3 }, "3 instance processes")
	want := map[subscription]string{"": "Shared", failover: "Failover", keyShared: "Key_Shared"}[d.sub]
	env.WaitSubscriptionType(t, 2*time.Minute, topic, sub, want)

	client := e2e.NewClient(t, env)
	start := time.Now()
	published := make(chan struct{})
	go func() { defer close(published); publishScale(t, client, topic, n, 20*time.Second) }()
	stored := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		recs, err := ks.ReadAllContext(ctx, stream)
		if err != nil {
			return 0
		}
		u, _ := userRecords(t, recs)
		return len(u)
	}

	// Mid-run: instance 0 killed (the worker starts it again), then
	// instance 1 stopped for good: its partitions move to the others.
	env.WaitFor(t, 3*time.Minute, func() bool { return stored() >= n/5 }, "a fifth of the records in Kinesis")
	procs := instanceProcs(bin, name)
	pid0, ok := procs[0]
	if !ok {
		t.Fatalf("no process for instance 0 among %v", procs)
	}
	if err := syscall.Kill(pid0, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILLed instance 0 (pid %d) with %d records stored", pid0, stored())
	env.WaitFor(t, 3*time.Minute, func() bool { return stored() >= n/2 }, "half the records in Kinesis")
	if out, err := env.Admin(t, "functions", "stop", "--tenant", "public", "--namespace", "default", "--name", name, "--instance-id", "1"); err != nil {
		t.Fatalf("functions stop --instance-id 1: %v\n%s", err, out)
	}
	t.Logf("stopped instance 1 with %d records stored", stored())

	<-published
	waitBacklogDrained(t, env, topic, sub)
	took := time.Since(start)
	if p, ok := instanceProcs(bin, name)[0]; !ok || p == pid0 {
		t.Errorf("instance 0 was not restarted by the worker (processes %v)", instanceProcs(bin, name))
	}
	if _, ok := instanceProcs(bin, name)[1]; ok {
		t.Errorf("instance 1 runs after functions stop --instance-id 1")
	}

	res, distinctN := readScale(t, ks, stream, n)
	t.Logf("%s: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s",
		d.name, n, distinctN, res.missing, res.duplicates, res.outOfOrder, took.Round(100*time.Millisecond))
	if res.missing != 0 {
		t.Errorf("%d records missing", res.missing)
	}
	switch {
	case res.outOfOrder == 0 || d.sub == "":
	case d.sub == keyShared:
		t.Errorf("%d first copies out of publish order per key with KEY_SHARED and retainOrdering", res.outOfOrder)
	default:
		t.Logf("%d first copies out of publish order per key with FAILOVER (an instance rejoined on a backlog)", res.outOfOrder)
	}
}

// TestKeySharedLocalrun runs three localrun processes on one Key_Shared
// subscription of a non-partitioned topic (the worker refuses
// --retain-key-ordering for Go functions; localrun has it), kills one
// mid-run, and reads everything back: nothing missing, first copies in
// publish order per key (Key_Shared gives each key to one consumer at a
// time, and the sink's retainOrdering keeps it in Kinesis).
func TestKeySharedLocalrun(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	bin := e2e.KinesisSinkBinary(t)
	n := scaleN(t) / 2
	stream := ks.UniqueStream(t, "keyshared")
	ks.CreateStream(t, stream, 4)
	topic := env.UniqueTopic(t, "keyshared")
	env.CreateTopic(t, topic)
	sub := "keyshared"
	env.CreateSubscription(t, topic, sub)
	file := map[string]any{
		"tenant": "public", "namespace": "default", "name": "keyshared", "inputs": []string{topic},
		"sourceSubscriptionName": sub, "sourceSubscriptionPosition": "Earliest",
		"configs": sinkConfig(ks.Endpoint, stream, map[string]any{"retainOrdering": true, "aggregationEnabled": true}),
	}
	b, _ := json.Marshal(file)
	path := filepath.Join(t.TempDir(), "sink.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(i int) *e2e.Instance {
		return e2e.Start(t, bin, []string{"localrun", "--service-url", env.ServiceURL, "--sink-config-file", path,
			"--subscription-type", "Key_Shared", "--parallelism", "3", "--instance-id", strconv.Itoa(i)}, nil)
	}
	procs := []*e2e.Instance{start(0), start(1), start(2)}

	client := e2e.NewClient(t, env)
	t0 := time.Now()
	published := make(chan struct{})
	go func() { defer close(published); publishScale(t, client, topic, n, 10*time.Second) }()
	env.WaitFor(t, 3*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		recs, err := ks.ReadAllContext(ctx, stream)
		if err != nil {
			return false
		}
		u, _ := userRecords(t, recs)
		return len(u) >= n/3
	}, "a third of the records in Kinesis")
	_ = procs[1].Cmd.Process.Kill()
	t.Log("SIGKILLed localrun instance 1")
	<-published
	waitBacklogDrained(t, env, topic, sub)
	for _, i := range []int{0, 2} {
		if !procs[i].Running() {
			t.Errorf("localrun instance %d exited: %v\n%s", i, procs[i].Err, e2e.Tail(procs[i].Output(), 2000))
		}
	}
	res, distinctN := readScale(t, ks, stream, n)
	t.Logf("key-shared: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s",
		n, distinctN, res.missing, res.duplicates, res.outOfOrder, time.Since(t0).Round(100*time.Millisecond))
	if res.missing != 0 {
		t.Errorf("%d records missing", res.missing)
	}
	if res.outOfOrder != 0 {
		t.Errorf("%d first copies out of publish order per key on Key_Shared with retainOrdering", res.outOfOrder)
	}
}
