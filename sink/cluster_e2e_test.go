package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

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

// clusterDeployment is the sink deployed on the cluster with
// parallelism 4 over a 12-partition topic and a 4-shard stream, FAILOVER
// subscriptions (--retain-ordering) and the sink's retainOrdering, so that
// first copies must keep publish order per key.
type clusterDeployment struct {
	cl     *testenv.ClusterEnv
	ks     *testenv.KinesisEnv
	name   string
	fqfn   string
	topic  string
	sub    string
	stream string
}

func deployOnCluster(t *testing.T, cl *testenv.ClusterEnv, ks *testenv.KinesisEnv, admin int) *clusterDeployment {
	env := cl.Brokers[admin]
	bin := e2e.KinesisSinkBinary(t)
	d := &clusterDeployment{cl: cl, ks: ks, name: fmt.Sprintf("cl%d", time.Now().UnixNano()%1e12)}
	d.fqfn = "public/default/" + d.name
	d.stream = ks.UniqueStream(t, "cluster")
	ks.CreateStream(t, d.stream, 4)
	d.topic = env.UniqueTopic(t, "cluster")
	env.CreatePartitionedTopic(t, d.topic, clusterPartitions)
	d.sub = "cluster-" + d.name
	// At the earliest position before anything is published: whenever the
	// instances start, the backlog holds every record.
	env.CreateSubscription(t, d.topic, d.sub)
	uc, _ := json.Marshal(sinkConfig(ks.Endpoint, d.stream, map[string]any{"retainOrdering": true, "aggregationEnabled": true}))
	if out, err := env.Admin(t, "functions", "create", "--go", bin, "--tenant", "public", "--namespace", "default",
		"--name", d.name, "--inputs", d.topic, "--subs-name", d.sub, "--parallelism", strconv.Itoa(clusterParallelism),
		"--retain-ordering", "--user-config", string(uc)); err != nil {
		t.Fatalf("functions create: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Through whichever broker still answers (a scenario may have killed one).
		for _, b := range cl.Brokers {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			code, body, err := b.AdminREST(ctx, http.MethodDelete, "/admin/v3/functions/"+d.fqfn, nil)
			cancel()
			if err == nil && (code < 300 || code == http.StatusNotFound) {
				return
			}
			t.Logf("cleanup: delete %s via %s: HTTP %d %v %s", d.fqfn, b.WebURL, code, err, body)
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
	st, err := d.cl.FunctionStatus(ctx, via, "public", "default", d.name)
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

// TestClusterSpreadOverWorkers deploys the sink with functions create --go,
// parallelism 4, on a 12-partition topic, checks from the worker cluster's
// assignments that the instances are placed on both workers and run there,
// publishes keyed, sequenced records and reads every one back from
// Kinesis: none missing, first copies in publish order per key, and every
// instance took part.
func TestClusterSpreadOverWorkers(t *testing.T) {
	cl := testenv.Cluster(t)
	ks := testenv.Kinesis(t)
	n := clusterN(t)
	d := deployOnCluster(t, cl, ks, 0)

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
	t.Logf("spread: records=%d distinct=%d missing=%d duplicates=%d out-of-order=%d in %s",
		n, distinctN, res.missing, res.duplicates, res.outOfOrder, took.Round(100*time.Millisecond))
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
		t.Logf("instance %d on %s: received %d", in.InstanceID, in.Status.WorkerID, in.Status.NumReceived)
		if in.Status.NumReceived == 0 {
			t.Errorf("instance %d (worker %s) received nothing: its partitions were not its own", in.InstanceID, in.Status.WorkerID)
		}
	}
}
