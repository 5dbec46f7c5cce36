package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
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

// On a multi-node cluster (make test-cluster, or make cluster-up and
// KS_TOPOLOGY=cluster scripts/local-env.sh env): the sink's instances
// scheduled by a worker cluster of two over a partitioned topic, as users
// run it. go test ./... skips these without PULSAR_CLUSTER_WEB_URLS.

const (
	clusterPartitions  = 12
	clusterParallelism = 4
)

func clusterN(t *testing.T) int {
	if v := os.Getenv("KS_CLUSTER_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < scaleKeys {
			t.Fatalf("KS_CLUSTER_N=%q: want a number of records of at least %d", v, scaleKeys)
		}
		return n
	}
	return 20000
}

// clusterWay is how the sink is deployed on the cluster.
type clusterWay string

const (
	viaFunctionsCreate clusterWay = "functions-create" // pulsar-admin functions create --go
	viaDeploy          clusterWay = "kinesis-sink-deploy"
	viaNAR             clusterWay = "sinks-create-nar" // pulsar-admin sinks create --archive, the Java instance and its child
)

// subscription is how the instances share the input: FAILOVER
// (--retain-ordering: one instance per partition) or KEY_SHARED (one
// instance per key; the worker refuses --retain-key-ordering for Go
// functions, so the Go ways ask the runtime through the user config).
type subscription string

const (
	failover  subscription = "failover"
	keyShared subscription = "key-shared"
)

// clusterDeployment is the sink deployed on the cluster with
// parallelism 4 over a 12-partition topic and a 4-shard stream, an ordered
// subscription and the sink's retainOrdering, so that first copies keep
// publish order per key (with FAILOVER, while no instance joins on a
// backlog: TestClusterGracefulDrain).
type clusterDeployment struct {
	cl     *testenv.ClusterEnv
	ks     *testenv.KinesisEnv
	way    clusterWay
	name   string
	fqfn   string
	topic  string
	sub    string
	stream string
	// childMetrics is the NAR's sidecarMetricsAddress port: instance N's
	// child serves its metrics on it plus N.
	childMetrics int
}

// kind is the admin API's name for what was deployed: functions or sinks.
func (d *clusterDeployment) kind() string {
	if d.way == viaNAR {
		return "sinks"
	}
	return "functions"
}

func deployOnCluster(t *testing.T, cl *testenv.ClusterEnv, ks *testenv.KinesisEnv, admin int, way clusterWay, sub subscription) *clusterDeployment {
	env := cl.Brokers[admin]
	d := &clusterDeployment{cl: cl, ks: ks, way: way, name: fmt.Sprintf("cl%d", time.Now().UnixNano()%1e12)}
	d.fqfn = "public/default/" + d.name
	d.stream = ks.UniqueStream(t, "cluster")
	ks.CreateStream(t, d.stream, 4)
	d.topic = env.UniqueTopic(t, "cluster")
	env.CreatePartitionedTopic(t, d.topic, clusterPartitions)
	d.sub = "cluster-" + d.name
	// At the earliest position before anything is published: whenever the
	// instances start, the backlog holds every record.
	env.CreateSubscription(t, d.topic, d.sub)
	configs := sinkConfig(ks.Endpoint, d.stream, map[string]any{"retainOrdering": true, "aggregationEnabled": true})
	ordering := "--retain-ordering"
	fileOrdering := "retainOrdering"
	if sub == keyShared {
		ordering, fileOrdering = "--retain-key-ordering", "retainKeyOrdering"
	}
	uc, _ := json.Marshal(configs)
	par := strconv.Itoa(clusterParallelism)
	switch way {
	case viaFunctionsCreate:
		args := []string{"functions", "create", "--go", e2e.KinesisSinkBinary(t), "--tenant", "public",
			"--namespace", "default", "--name", d.name, "--inputs", d.topic, "--subs-name", d.sub, "--parallelism", par}
		if sub == keyShared {
			withKey := maps.Clone(configs)
			withKey["retainKeyOrdering"] = true
			b, _ := json.Marshal(withKey)
			args = append(args, "--user-config", string(b))
		} else {
			args = append(args, ordering, "--user-config", string(uc))
		}
		if out, err := env.Admin(t, args...); err != nil {
			t.Fatalf("functions create: %v\n%s", err, out)
		}
	case viaDeploy:
		bin := e2e.KinesisSinkBinary(t)
		b, _ := json.Marshal(map[string]any{
			"tenant": "public", "namespace": "default", "name": d.name, "inputs": []string{d.topic},
			"sourceSubscriptionName": d.sub, "parallelism": clusterParallelism, fileOrdering: true,
			"processingGuarantees": "ATLEAST_ONCE", "configs": configs,
		})
		path := filepath.Join(t.TempDir(), "sink.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "deploy", "create", "--admin-url", env.WebURL, "--sink-config-file", path,
			"--binary", bin, "--wait", "3m").CombinedOutput(); err != nil {
			t.Fatalf("kinesis-sink deploy create: %v\n%s", err, out)
		}
	case viaNAR:
		d.childMetrics = e2e.FreePorts(t, clusterParallelism)
		withMetrics := maps.Clone(configs)
		withMetrics["sidecarMetricsAddress"] = fmt.Sprintf("127.0.0.1:%d", d.childMetrics)
		uc, _ := json.Marshal(withMetrics)
		if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--tenant", "public",
			"--namespace", "default", "--name", d.name, "--inputs", d.topic, "--subs-name", d.sub, "--parallelism", par,
			ordering, "--sink-config", string(uc)); err != nil {
			t.Fatalf("sinks create: %v\n%s", err, out)
		}
	}
	t.Cleanup(func() {
		// Through whichever broker answers (a scenario may have killed one), and again while the worker
		// cluster has no leader yet (503 after a broker came back).
		deadline := time.Now().Add(3 * time.Minute)
		for {
			for _, b := range cl.Brokers {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				code, body, err := b.AdminREST(ctx, http.MethodDelete, "/admin/v3/"+d.kind()+"/"+d.fqfn, nil)
				cancel()
				if err == nil && (code < 300 || code == http.StatusNotFound) {
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("cleanup: delete %s via %s: HTTP %d %v %s", d.fqfn, b.WebURL, code, err, body)
					return
				}
			}
			time.Sleep(2 * time.Second)
		}
	})
	return d
}

// placement returns the worker each instance is assigned to, asked of
// broker via; nil while the assignments are incomplete.
func (d *clusterDeployment) placement(t *testing.T, via int) map[int]string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := d.cl.AssignmentsOf(ctx, via, d.fqfn)
	if err != nil {
		t.Logf("assignments: %v", err)
		return nil
	}
	if len(a) != clusterParallelism {
		return nil
	}
	return a
}

// runningOn reports whether every instance runs, each on the worker the
// assignments name; it returns the instances' status.
func (d *clusterDeployment) runningOn(t *testing.T, via int, want map[int]string) ([]testenv.InstanceStatus, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := d.cl.InstancesStatus(ctx, via, d.kind(), "public", "default", d.name)
	if err != nil || len(st) != clusterParallelism {
		return st, false
	}
	for _, in := range st {
		if !in.Status.Running || in.Status.WorkerID != want[in.InstanceID] {
			return st, false
		}
	}
	return st, true
}

func perWorker(a map[int]string) map[string][]int {
	out := map[string][]int{}
	for id := 0; id < clusterParallelism; id++ {
		if w, ok := a[id]; ok {
			out[w] = append(out[w], id)
		}
	}
	return out
}

func (d *clusterDeployment) stored(t *testing.T) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := d.ks.ReadAllContext(ctx, d.stream)
	if err != nil {
		return -1
	}
	u, _ := userRecords(t, recs)
	return len(u)
}

// TestClusterSpreadOverWorkers deploys the sink with parallelism 4 on a
// 12-partition topic in each way a user can (functions create --go,
// kinesis-sink deploy, sinks create with the NAR), checks from the worker
// cluster's assignments that the instances are placed on both workers and
// run there, publishes keyed, sequenced records and reads every one back
// from Kinesis: none missing, first copies in publish order per key, and
// every instance took part.
func TestClusterSpreadOverWorkers(t *testing.T) {
	cl := testenv.Cluster(t)
	ks := testenv.Kinesis(t)
	for _, way := range []clusterWay{viaFunctionsCreate, viaDeploy, viaNAR} {
		t.Run(string(way), func(t *testing.T) { runClusterSpread(t, cl, ks, way) })
	}
}

func runClusterSpread(t *testing.T, cl *testenv.ClusterEnv, ks *testenv.KinesisEnv, way clusterWay) {
	n := clusterN(t)
	d := deployOnCluster(t, cl, ks, 0, way, failover)

	var assigned map[int]string
	cl.WaitFor(t, 3*time.Minute, func() bool { assigned = d.placement(t, 0); return assigned != nil },
		"%d instances of %s in the worker assignments", clusterParallelism, d.fqfn)
	byWorker := perWorker(assigned)
	t.Logf("placement: %v", byWorker)
	for i := range cl.Brokers {
		if w := cl.WorkerID(t, i); len(byWorker[w]) == 0 {
			t.Fatalf("no instance assigned to worker %s (broker %s): %v", w, cl.Brokers[i].WebURL, byWorker)
		}
	}
	// Both workers must agree: each reads the same assignment topic.
	if other := d.placement(t, 1); fmt.Sprint(perWorker(other)) != fmt.Sprint(byWorker) {
		t.Fatalf("the workers disagree on the placement: %v via broker 1, %v via broker 2", byWorker, perWorker(other))
	}
	cl.WaitFor(t, 3*time.Minute, func() bool { _, ok := d.runningOn(t, 0, assigned); return ok },
		"every instance running on its assigned worker")
	cl.WaitFor(t, 2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := cl.Brokers[0].ConsumersOf(ctx, d.topic, d.sub)
		return err == nil && c >= clusterPartitions
	}, "a consumer on each of the %d partitions", clusterPartitions)

	client := cl.Brokers[0].Client(t)
	start := time.Now()
	publishScale(t, client, d.topic, n, 15*time.Second)
	waitBacklogDrained(t, cl.Brokers[0], d.topic, d.sub)
	took := time.Since(start)

	res, distinctN := readScale(t, ks, d.stream, n)
	t.Logf("spread %s: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s",
		way, n, distinctN, res.missing, res.duplicates, res.outOfOrder, took.Round(100*time.Millisecond))
	if res.missing != 0 {
		t.Errorf("%d records missing", res.missing)
	}
	if res.outOfOrder != 0 {
		t.Errorf("%d first copies out of publish order per key with FAILOVER and retainOrdering", res.outOfOrder)
	}
	st, ok := d.runningOn(t, 0, assigned)
	if !ok {
		t.Errorf("after the run, the instances are not all running where assigned: %+v", st)
	}
	for _, in := range st {
		t.Logf("instance %d on %s: received %d", in.InstanceID, in.Status.WorkerID, in.Status.Received())
		if in.Status.Received() == 0 {
			t.Errorf("instance %d (worker %s) received nothing: its partitions were not its own", in.InstanceID, in.Status.WorkerID)
		}
	}
}

// publishCluster is publishScale with a send timeout long enough for a
// partition whose broker was lost to move to another broker (the metadata
// session timeout, 30 s, and the lookup): a send that fails is an error,
// not a record the sink lost.
func publishCluster(t *testing.T, client pulsar.Client, topic string, n int, span time.Duration) {
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, MaxPendingMessages: 5000,
		BatcherBuilderType: pulsar.KeyBasedBatchBuilder, SendTimeout: 5 * time.Minute})
	if err != nil {
		t.Error(err)
		return
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
		t.Error(err)
	}
}

// longestStall is, over the keys, the longest time after since during
// which a key's records stopped reaching Kinesis (first copies, by their
// arrival time): how long delivery of the partitions hit was interrupted.
func longestStall(t *testing.T, ks *testenv.KinesisEnv, stream string, since time.Time) (time.Duration, string) {
	recs, _ := userRecords(t, ks.ReadAll(t, stream))
	seen := map[string]bool{}
	last := map[string]time.Time{}
	var worst time.Duration
	var worstKey string
	for _, r := range recs {
		s := string(r.Data)
		if seen[s] {
			continue
		}
		seen[s] = true
		k, _, _ := strings.Cut(s, "/")
		prev, ok := last[k]
		last[k] = r.ArrivalTime
		if !ok || r.ArrivalTime.Before(since) {
			continue
		}
		if prev.Before(since) {
			prev = since
		}
		if gap := r.ArrivalTime.Sub(prev); gap > worst {
			worst, worstKey = gap, k
		}
	}
	return worst, worstKey
}

// TestClusterWorkerLost SIGKILLs, mid-run, the broker (and so the
// functions worker embedded in it) that hosts half the sink's instances
// and owns part of the input partitions: the worker cluster must
// reschedule those instances onto the surviving worker, the partitions
// move to the surviving broker, and every record still reaches Kinesis
// with first copies in publish order per key. It states how long delivery
// stalled and how long the rescheduling took, and restarts the broker
// afterwards.
func TestClusterWorkerLost(t *testing.T) {
	cl := testenv.Cluster(t)
	ks := testenv.Kinesis(t)
	n := clusterN(t)
	// broker-2 is lost; broker-1 (PULSAR_WEB_URL) answers the admin calls.
	const survivor, lost = 0, 1
	d := deployOnCluster(t, cl, ks, survivor, viaFunctionsCreate, failover)
	survivorWorker, lostWorker := cl.WorkerID(t, survivor), cl.WorkerID(t, lost)

	var assigned map[int]string
	cl.WaitFor(t, 3*time.Minute, func() bool { assigned = d.placement(t, survivor); return assigned != nil },
		"%d instances of %s in the worker assignments", clusterParallelism, d.fqfn)
	byWorker := perWorker(assigned)
	if len(byWorker[lostWorker]) == 0 || len(byWorker[survivorWorker]) == 0 {
		t.Fatalf("instances not on both workers: %v", byWorker)
	}
	cl.WaitFor(t, 3*time.Minute, func() bool { _, ok := d.runningOn(t, survivor, assigned); return ok },
		"every instance running on its assigned worker")
	lostPID := cl.BrokerPID(t, lost+1)
	var orphans []int
	for _, p := range cl.ProcessesOf(fmt.Sprintf("broker-%d", lost+1)) {
		if p != lostPID {
			orphans = append(orphans, p)
		}
	}
	leader := workerLeader(t, cl, survivor)
	t.Logf("placement %v; leader %s; broker-%d (pid %d, instance processes %v) will be lost",
		byWorker, leader, lost+1, lostPID, orphans)

	// The load manager put every bundle on one broker here; losing a broker
	// that owns none of the input would test the worker alone. Half the
	// partitions' bundles go to the broker that will be lost, as a loaded
	// cluster would have spread them.
	d.moveBundles(t, survivor, cl.Brokers[lost], func(i int) bool { return i%2 == 0 })
	cl.WaitFor(t, 2*time.Minute, func() bool { return len(d.partitionsOwnedBy(t, survivor, cl.Brokers[lost])) > 0 },
		"input partitions owned by broker-%d", lost+1)
	cl.WaitFor(t, 2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := cl.Brokers[survivor].ConsumersOf(ctx, d.topic, d.sub)
		return err == nil && c >= clusterPartitions*clusterParallelism
	}, "every instance's consumer back on each partition")

	client := cl.Brokers[survivor].Client(t)
	start := time.Now()
	published := make(chan struct{})
	go func() { defer close(published); publishCluster(t, client, d.topic, n, 60*time.Second) }()
	cl.WaitFor(t, 3*time.Minute, func() bool { return d.stored(t) >= n/5 }, "a fifth of the records in Kinesis")

	owned := d.partitionsOwnedBy(t, survivor, cl.Brokers[lost])
	// The whole process group: the broker's JVM and the instances its
	// worker spawned, as when the machine is lost. The JVM alone would leave
	// its Go instances running (see the end of the test).
	if err := syscall.Kill(-lostPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("SIGKILLed broker-%d's process group (pid %d and its instances) with %d records stored, %s into the run; "+
		"it owned input partitions %v", lost+1, lostPID, d.stored(t), time.Since(start).Round(100*time.Millisecond), owned)
	t.Cleanup(func() { cl.Repair(t) })

	// Rescheduled: the assignments put every instance on the survivor, and
	// each runs there.
	var rescheduled, running time.Duration
	cl.WaitFor(t, 6*time.Minute, func() bool {
		if rescheduled == 0 {
			if a := d.placement(t, survivor); a != nil && len(perWorker(a)[survivorWorker]) == clusterParallelism {
				rescheduled = time.Since(killed)
			}
		}
		if rescheduled != 0 && running == 0 {
			if _, ok := d.runningOn(t, survivor, map[int]string{0: survivorWorker, 1: survivorWorker,
				2: survivorWorker, 3: survivorWorker}); ok {
				running = time.Since(killed)
			}
		}
		return running != 0
	}, "the instances of the lost worker rescheduled and running on %s", survivorWorker)
	t.Logf("rescheduled onto the survivor %s after the kill, all %d running there after %s",
		rescheduled.Round(100*time.Millisecond), clusterParallelism, running.Round(100*time.Millisecond))

	<-published
	waitBacklogDrained(t, cl.Brokers[survivor], d.topic, d.sub)
	took := time.Since(start)

	res, distinctN := readScale(t, ks, d.stream, n)
	stall, key := longestStall(t, ks, d.stream, killed)
	t.Logf("worker-lost: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s; "+
		"longest stall of a key after the kill %s (%s); rescheduled after %s",
		n, distinctN, res.missing, res.duplicates, res.outOfOrder, took.Round(100*time.Millisecond),
		stall.Round(100*time.Millisecond), key, rescheduled.Round(100*time.Millisecond))
	if res.missing != 0 {
		t.Errorf("%d records missing", res.missing)
	}
	if res.outOfOrder != 0 {
		t.Errorf("%d first copies out of publish order per key with FAILOVER and retainOrdering", res.outOfOrder)
	}

	for _, p := range orphans {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("the lost worker's instance process %d survived the SIGKILL of its process group", p)
		}
	}
}

// moveBundles unloads the namespace bundles holding the input partitions
// for which pick is true, naming broker b as their next owner.
func (d *clusterDeployment) moveBundles(t *testing.T, via int, b *testenv.PulsarEnv, pick func(int) bool) {
	dest := b.WebURL[strings.LastIndex(b.WebURL, "/")+1:]
	moved := map[string]bool{}
	for i := 0; i < clusterPartitions; i++ {
		if !pick(i) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code, bundle, err := d.cl.Brokers[via].AdminREST(ctx, http.MethodGet,
			"/lookup/v2/topic/"+strings.Replace(d.topic, "://", "/", 1)+"-partition-"+strconv.Itoa(i)+"/bundle", nil)
		if err != nil || code != http.StatusOK {
			cancel()
			t.Fatalf("bundle of partition %d: HTTP %d %v %s", i, code, err, bundle)
		}
		if r := strings.Trim(string(bundle), "\" \n"); !moved[r] {
			moved[r] = true
			code, body, err := d.cl.Brokers[via].AdminREST(ctx, http.MethodPut,
				"/admin/v2/namespaces/public/default/"+r+"/unload?destinationBroker="+dest, nil)
			if err != nil || code >= 300 {
				cancel()
				t.Fatalf("unload bundle %s to %s: HTTP %d %v %s", r, dest, code, err, body)
			}
		}
		cancel()
	}
}

// partitionsOwnedBy lists the input partitions whose owner (a lookup
// asked of broker via) is broker b.
func (d *clusterDeployment) partitionsOwnedBy(t *testing.T, via int, b *testenv.PulsarEnv) []int {
	host := b.WebURL[strings.LastIndex(b.WebURL, "/")+1:]
	var out []int
	for i := 0; i < clusterPartitions; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, body, err := d.cl.Brokers[via].AdminREST(ctx, http.MethodGet,
			"/lookup/v2/topic/"+strings.Replace(d.topic, "://", "/", 1)+"-partition-"+strconv.Itoa(i), nil)
		cancel()
		var l struct {
			HTTPURL string `json:"httpUrl"`
		}
		if err == nil && json.Unmarshal(body, &l) == nil && strings.HasSuffix(strings.TrimRight(l.HTTPURL, "/"), host) {
			out = append(out, i)
		}
	}
	return out
}

func workerLeader(t *testing.T, cl *testenv.ClusterEnv, via int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, body, err := cl.Brokers[via].AdminREST(ctx, http.MethodGet, "/admin/v2/worker/cluster/leader", nil)
	if err != nil {
		return "?"
	}
	var l struct {
		WorkerID string `json:"workerId"`
	}
	_ = json.Unmarshal(body, &l)
	return l.WorkerID
}

// instanceProcesses returns the pids of the instance processes the
// cluster's workers run (every marked process of a broker but the broker).
func instanceProcesses(t *testing.T, cl *testenv.ClusterEnv) []int {
	var out []int
	for i := range cl.Brokers {
		broker := cl.BrokerPID(t, i+1)
		for _, p := range cl.ProcessesOf(fmt.Sprintf("broker-%d", i+1)) {
			if p != broker {
				out = append(out, p)
			}
		}
	}
	return out
}

// TestClusterGracefulDrain stops the whole deployment (functions stop)
// mid-run, checks that its instances end and nothing more reaches Kinesis
// while the backlog grows, starts it again with functions start, and reads
// everything back: delivery resumes from where the acknowledgements
// stopped, nothing missing.
//
// The instances come back one after the other on a backlog, and each
// newcomer takes over keys or partitions from one already running. With
// KEY_SHARED the broker gives a newcomer a key only once the previous
// holder has acknowledged what it had of that key, so first copies must
// keep publish order per key. With FAILOVER it hands a partition over
// while the previous consumer still holds records of it (after its
// failover delay, and sometimes with a read issued before the switch), so
// a key's records can be stored as two interleaved runs: the FAILOVER run
// reports how many were out of order and checks only that nothing is
// missing (docs/cluster.md).
func TestClusterGracefulDrain(t *testing.T) {
	cl := testenv.Cluster(t)
	ks := testenv.Kinesis(t)
	for _, sub := range []subscription{keyShared, failover} {
		t.Run(string(sub), func(t *testing.T) { runClusterDrain(t, cl, ks, sub) })
	}
}

func runClusterDrain(t *testing.T, cl *testenv.ClusterEnv, ks *testenv.KinesisEnv, sub subscription) {
	n := clusterN(t)
	d := deployOnCluster(t, cl, ks, 0, viaFunctionsCreate, sub)
	var assigned map[int]string
	cl.WaitFor(t, 3*time.Minute, func() bool { assigned = d.placement(t, 0); return assigned != nil },
		"%d instances of %s in the worker assignments", clusterParallelism, d.fqfn)
	cl.WaitFor(t, 3*time.Minute, func() bool { _, ok := d.runningOn(t, 0, assigned); return ok },
		"every instance running on its assigned worker")
	t.Logf("placement %v", perWorker(assigned))
	want := map[subscription]string{keyShared: "Key_Shared", failover: "Failover"}[sub]
	cl.Brokers[0].WaitSubscriptionType(t, 2*time.Minute, d.topic, d.sub, want)

	client := cl.Brokers[0].Client(t)
	start := time.Now()
	published := make(chan struct{})
	go func() { defer close(published); publishCluster(t, client, d.topic, n, 40*time.Second) }()
	cl.WaitFor(t, 3*time.Minute, func() bool { return d.stored(t) >= n/4 }, "a quarter of the records in Kinesis")

	action := func(verb string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code, body, err := cl.Brokers[0].AdminREST(ctx, http.MethodPost, "/admin/v3/functions/"+d.fqfn+"/"+verb, nil)
		if err != nil || code >= 300 {
			t.Fatalf("functions %s: HTTP %d %v %s", verb, code, err, body)
		}
	}
	action("stop")
	stopped := time.Now()
	t.Logf("functions stop with %d records stored, %s into the run", d.stored(t), stopped.Sub(start).Round(100*time.Millisecond))
	cl.WaitFor(t, 2*time.Minute, func() bool { return len(instanceProcesses(t, cl)) == 0 },
		"every instance process to end after functions stop")
	ended := time.Since(stopped)
	atStop := d.stored(t)
	// While stopped, the records published go to the backlog only.
	time.Sleep(10 * time.Second)
	if got := d.stored(t); got != atStop {
		t.Errorf("%d records reached Kinesis while the deployment was stopped", got-atStop)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	backlog, err := cl.Brokers[0].BacklogOf(ctx, d.topic, d.sub)
	cancel()
	t.Logf("instances ended %s after the stop; %d records stored, backlog %d entries (%v) after 10 s stopped",
		ended.Round(100*time.Millisecond), atStop, backlog, err)

	action("start")
	restarted := time.Now()
	var resumed time.Duration
	cl.WaitFor(t, 3*time.Minute, func() bool {
		if d.stored(t) > atStop {
			resumed = time.Since(restarted)
			return true
		}
		return false
	}, "delivery to resume after functions start")
	<-published
	waitBacklogDrained(t, cl.Brokers[0], d.topic, d.sub)
	took := time.Since(start)

	res, distinctN := readScale(t, ks, d.stream, n)
	t.Logf("graceful-drain %s: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s; "+
		"instances ended %s after stop, delivery resumed %s after start",
		sub, n, distinctN, res.missing, res.duplicates, res.outOfOrder, took.Round(100*time.Millisecond),
		ended.Round(100*time.Millisecond), resumed.Round(100*time.Millisecond))
	t.Logf("functions stop at %s, start at %s", stopped.Format("15:04:05.000"), restarted.Format("15:04:05.000"))
	if res.missing != 0 {
		t.Errorf("%d records missing", res.missing)
	}
	switch {
	case res.outOfOrder == 0:
	case sub == keyShared:
		t.Errorf("%d first copies out of publish order per key with KEY_SHARED and retainOrdering, e.g.\n%s",
			res.outOfOrder, strings.Join(orderExamples(t, ks, d.stream, 8), "\n"))
	default:
		t.Logf("%d first copies out of publish order per key with FAILOVER (the instances joined on a backlog), e.g.\n%s",
			res.outOfOrder, strings.Join(orderExamples(t, ks, d.stream, 8), "\n"))
	}
}

// orderExamples describes up to max first copies stored after a later
// record of their key: the record, the later one stored before it, and
// both arrival times, for the log of a failing run.
func orderExamples(t *testing.T, ks *testenv.KinesisEnv, stream string, max int) []string {
	recs, _ := userRecords(t, ks.ReadAll(t, stream))
	seen := map[string]bool{}
	type stored struct {
		seq     int
		arrival time.Time
		shard   string
	}
	last := map[string]stored{}
	var out []string
	for _, r := range recs {
		s := string(r.Data)
		if seen[s] {
			continue
		}
		seen[s] = true
		k, seqText, _ := strings.Cut(s, "/")
		seq, _ := strconv.Atoi(seqText)
		if prev, ok := last[k]; ok && seq < prev.seq && len(out) < max {
			out = append(out, fmt.Sprintf("%s seq %d (shard %s, arrived %s) after seq %d (arrived %s)", k, seq, r.ShardID,
				r.ArrivalTime.Format("15:04:05.000"), prev.seq, prev.arrival.Format("15:04:05.000")))
		}
		if prev, ok := last[k]; !ok || seq > prev.seq {
			last[k] = stored{seq, r.ArrivalTime, r.ShardID}
		}
	}
	return out
}

// TestClusterRolledUpdate replaces the build of a running deployment
// while records flow: functions update --go with a binary, or sinks update
// with a NAR, stamped with another version. The worker restarts every
// instance on the new package; every record arrives, first copies keep
// publish order per key (KEY_SHARED, as TestClusterGracefulDrain shows a
// FAILOVER restart on a backlog does not), and each instance then reports
// the new version in kinesis_sink_build_info.
func TestClusterRolledUpdate(t *testing.T) {
	cl := testenv.Cluster(t)
	ks := testenv.Kinesis(t)
	for _, way := range []clusterWay{viaFunctionsCreate, viaNAR} {
		t.Run(string(way), func(t *testing.T) { runClusterRolledUpdate(t, cl, ks, way) })
	}
}

func runClusterRolledUpdate(t *testing.T, cl *testenv.ClusterEnv, ks *testenv.KinesisEnv, way clusterWay) {
	n := clusterN(t)
	const newVersion = "0.0.0-rolled"
	update := []string{"functions", "update", "--go", e2e.KinesisSinkVersion(t, newVersion)}
	if way == viaNAR {
		update = []string{"sinks", "update", "--archive", e2e.NARVersion(t, newVersion)}
	}
	d := deployOnCluster(t, cl, ks, 0, way, keyShared)
	var assigned map[int]string
	cl.WaitFor(t, 3*time.Minute, func() bool { assigned = d.placement(t, 0); return assigned != nil },
		"%d instances of %s in the worker assignments", clusterParallelism, d.fqfn)
	cl.WaitFor(t, 3*time.Minute, func() bool { _, ok := d.runningOn(t, 0, assigned); return ok },
		"every instance running on its assigned worker")
	cl.Brokers[0].WaitSubscriptionType(t, 2*time.Minute, d.topic, d.sub, "Key_Shared")
	var before map[int]string
	cl.WaitFor(t, time.Minute, func() bool { before = d.versions(t); return len(before) == clusterParallelism },
		"%d instances serving kinesis_sink_build_info", clusterParallelism)
	for pid, v := range before {
		if v == newVersion {
			t.Fatalf("instance %d reports %s before the update", pid, v)
		}
	}
	t.Logf("placement %v; versions before the update %v", perWorker(assigned), before)

	client := cl.Brokers[0].Client(t)
	start := time.Now()
	published := make(chan struct{})
	go func() { defer close(published); publishCluster(t, client, d.topic, n, 40*time.Second) }()
	cl.WaitFor(t, 3*time.Minute, func() bool { return d.stored(t) >= n/4 }, "a quarter of the records in Kinesis")

	updated := time.Now()
	if out, err := cl.Brokers[0].Admin(t, append(update, "--tenant", "public", "--namespace", "default", "--name", d.name)...); err != nil {
		t.Fatalf("%s update: %v\n%s", d.kind(), err, out)
	}
	t.Logf("%s update with %d records stored, %s into the run", d.kind(), d.stored(t), updated.Sub(start).Round(100*time.Millisecond))
	var rolled time.Duration
	var after map[int]string
	cl.WaitFor(t, 4*time.Minute, func() bool {
		after = d.versions(t)
		if len(after) != clusterParallelism {
			return false
		}
		for _, v := range after {
			if v != newVersion {
				return false
			}
		}
		rolled = time.Since(updated)
		return true
	}, "every instance reporting version %s", newVersion)
	<-published
	waitBacklogDrained(t, cl.Brokers[0], d.topic, d.sub)
	took := time.Since(start)
	if _, ok := d.runningOn(t, 0, assigned); !ok {
		t.Logf("after the update the placement changed: %v", perWorker(d.placement(t, 0)))
	}

	res, distinctN := readScale(t, ks, d.stream, n)
	stall, key := longestStall(t, ks, d.stream, updated)
	t.Logf("rolled-update %s: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s; every instance on %s %s after the update (%v); "+
		"longest stall of a key after the update %s (%s)",
		way, n, distinctN, res.missing, res.duplicates, res.outOfOrder, took.Round(100*time.Millisecond), newVersion,
		rolled.Round(100*time.Millisecond), after, stall.Round(100*time.Millisecond), key)
	if res.missing != 0 {
		t.Errorf("%d records missing", res.missing)
	}
	if res.outOfOrder != 0 {
		t.Errorf("%d first copies out of publish order per key with KEY_SHARED and retainOrdering, e.g.\n%s",
			res.outOfOrder, strings.Join(orderExamples(t, ks, d.stream, 8), "\n"))
	}
}

// versions asks every instance for the version in its
// kinesis_sink_build_info, keyed by instance id (the NAR's children, on
// sidecarMetricsAddress's port plus the id) or by process id (the Go
// instances, on the metrics port the worker gave each); an instance that
// does not answer (starting, stopping) is left out.
func (d *clusterDeployment) versions(t *testing.T) map[int]string {
	out := map[int]string{}
	if d.way == viaNAR {
		for id := range clusterParallelism {
			if v := buildVersion(fmt.Sprintf("http://127.0.0.1:%d/metrics", d.childMetrics+id)); v != "" {
				out[id] = v
			}
		}
		return out
	}
	for _, pid := range instanceProcesses(t, d.cl) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		var conf struct {
			MetricsPort int `json:"metricsPort"`
		}
		for i, a := range args {
			if a == "-instance-conf" && i+1 < len(args) {
				_ = json.Unmarshal([]byte(args[i+1]), &conf)
			}
		}
		if conf.MetricsPort == 0 {
			continue
		}
		if v := buildVersion(fmt.Sprintf("http://127.0.0.1:%d/metrics", conf.MetricsPort)); v != "" {
			out[pid] = v
		}
	}
	return out
}

// buildVersion is the version label of kinesis_sink_build_info at url, or
// "" when it cannot be read.
func buildVersion(url string) string {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "kinesis_sink_build_info{")
		end := strings.IndexByte(rest, '}')
		if !ok || end < 0 {
			continue
		}
		for _, kv := range strings.Split(rest[:end], ",") {
			if v, ok := strings.CutPrefix(kv, `version="`); ok {
				return strings.TrimSuffix(v, `"`)
			}
		}
	}
	return ""
}
