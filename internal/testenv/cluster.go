package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables of a multi-node cluster, printed by `KS_TOPOLOGY=cluster scripts/local-env.sh env`.
const (
	// EnvClusterWebURLs lists the brokers' admin URLs (each also its embedded functions worker), comma-separated.
	EnvClusterWebURLs = "PULSAR_CLUSTER_WEB_URLS"
	// EnvClusterServiceURLs is a multi-host service URL naming every broker, e.g. pulsar://127.0.0.1:26650,127.0.0.1:26651.
	EnvClusterServiceURLs = "PULSAR_CLUSTER_SERVICE_URLS"
	// EnvClusterStateDir is the cluster's state directory (pid files of its processes).
	EnvClusterStateDir = "KS_CLUSTER_STATE_DIR"
	// EnvRequireCluster set to "1" (make test-cluster) fails the cluster tests instead of skipping them when the
	// cluster is not configured. KS_REQUIRE_SERVICES alone does not: make test runs on a standalone.
	EnvRequireCluster = "KS_REQUIRE_CLUSTER"
)

// ClusterEnv is a running multi-node Pulsar cluster: brokers with embedded functions workers.
type ClusterEnv struct {
	// Brokers has one PulsarEnv per broker, in the order of PULSAR_CLUSTER_WEB_URLS; each one's ServiceURL names
	// every broker, so that a client made from it survives the loss of any one.
	Brokers []*PulsarEnv
	// ServiceURL names every broker.
	ServiceURL string
	// StateDir holds the pid files (broker-N/broker-N.pid); empty when not printed by local-env.sh.
	StateDir string
}

// Cluster returns the cluster named by PULSAR_CLUSTER_WEB_URLS and PULSAR_CLUSTER_SERVICE_URLS after checking that
// every broker answers. Without those variables it skips (fails under KS_REQUIRE_CLUSTER=1); when they are set and a
// broker does not answer it skips, or fails under KS_REQUIRE_SERVICES=1 or KS_REQUIRE_CLUSTER=1.
func Cluster(t testing.TB) *ClusterEnv {
	t.Helper()
	required := os.Getenv(EnvRequireCluster) == "1"
	if testing.Short() && !required {
		t.Skip("cluster test: skipped in -short mode")
	}
	webs, svc := os.Getenv(EnvClusterWebURLs), os.Getenv(EnvClusterServiceURLs)
	if webs == "" || svc == "" {
		msg := fmt.Sprintf("no multi-node cluster configured (%s, %s); start one with make cluster-up and "+
			`eval "$(KS_TOPOLOGY=cluster scripts/local-env.sh env)", or run make test-cluster`, EnvClusterWebURLs, EnvClusterServiceURLs)
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c := &ClusterEnv{ServiceURL: svc, StateDir: os.Getenv(EnvClusterStateDir)}
	for _, w := range strings.Split(webs, ",") {
		p := &PulsarEnv{ServiceURL: svc, WebURL: strings.TrimRight(strings.TrimSpace(w), "/"), Home: os.Getenv(EnvPulsarHome)}
		if code, err := probeHTTP(p.WebURL + "/admin/v2/brokers/ready"); err != nil || code != http.StatusOK {
			msg := fmt.Sprintf("cluster broker %s does not answer /admin/v2/brokers/ready (HTTP %d, %v)", p.WebURL, code, err)
			if required || RequireServices() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		c.Brokers = append(c.Brokers, p)
	}
	if len(c.Brokers) < 2 {
		t.Fatalf("%s=%q names %d broker; a cluster test needs at least 2", EnvClusterWebURLs, webs, len(c.Brokers))
	}
	return c
}

// WorkerID is the id the functions worker embedded in broker i takes ("c-<cluster>-fw-<host>-<web port>"), read
// from the worker cluster's membership.
func (c *ClusterEnv) WorkerID(t testing.TB, i int) string {
	t.Helper()
	var members []struct {
		WorkerID string `json:"workerId"`
		Port     int    `json:"port"`
	}
	body := c.Brokers[i].adminOK(t, http.MethodGet, "/admin/v2/worker/cluster", nil, http.StatusOK)
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatalf("worker cluster: %v: %s", err, body)
	}
	port := c.Brokers[i].WebURL[strings.LastIndex(c.Brokers[i].WebURL, ":")+1:]
	for _, m := range members {
		if strconv.Itoa(m.Port) == port {
			return m.WorkerID
		}
	}
	t.Fatalf("no worker of port %s among the members %s", port, body)
	return ""
}

// AssignmentsOf returns, for the function tenant/namespace/name, the worker id each instance is assigned to, as
// the worker cluster's assignments (/admin/v2/worker/assignments) say, asked of the broker at index via.
func (c *ClusterEnv) AssignmentsOf(ctx context.Context, via int, fqfn string) (map[int]string, error) {
	code, body, err := c.Brokers[via].AdminREST(ctx, http.MethodGet, "/admin/v2/worker/assignments", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("worker assignments: HTTP %d: %s", code, strings.TrimSpace(string(body)))
	}
	var byWorker map[string][]string
	if err := json.Unmarshal(body, &byWorker); err != nil {
		return nil, fmt.Errorf("worker assignments: %w: %s", err, body)
	}
	out := map[int]string{}
	for worker, instances := range byWorker {
		for _, in := range instances {
			// "tenant/namespace/name:instanceId"
			name, id, ok := strings.Cut(in, ":")
			if !ok || name != fqfn {
				continue
			}
			n, err := strconv.Atoi(id)
			if err != nil {
				return nil, fmt.Errorf("worker assignments: instance %q", in)
			}
			out[n] = worker
		}
	}
	return out, nil
}

// InstanceStatus is one instance's line of functions status or sinks status.
type InstanceStatus struct {
	InstanceID int           `json:"instanceId"`
	Status     InstanceState `json:"status"`
}

// InstanceState is what the worker reports of one instance.
type InstanceState struct {
	Running     bool   `json:"running"`
	Error       string `json:"error"`
	NumReceived int64  `json:"numReceived"`       // functions status
	NumRead     int64  `json:"numReadFromPulsar"` // sinks status
	WorkerID    string `json:"workerId"`
}

// Received is how many records the instance took from Pulsar, whichever status reported it.
func (s InstanceState) Received() int64 { return max(s.NumReceived, s.NumRead) }

// InstancesStatus returns the instances' status of a function or sink (kind "functions" or "sinks";
// GET /admin/v3/<kind>/.../status), asked of broker via.
func (c *ClusterEnv) InstancesStatus(ctx context.Context, via int, kind, tenant, namespace, name string) ([]InstanceStatus, error) {
	code, body, err := c.Brokers[via].AdminREST(ctx, http.MethodGet,
		"/admin/v3/"+kind+"/"+tenant+"/"+namespace+"/"+name+"/status", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s status: HTTP %d: %s", kind, code, strings.TrimSpace(string(body)))
	}
	var st struct {
		Instances []InstanceStatus `json:"instances"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%s status: %w: %s", kind, err, body)
	}
	sort.Slice(st.Instances, func(i, j int) bool { return st.Instances[i].InstanceID < st.Instances[j].InstanceID })
	return st.Instances, nil
}

// BrokerPID returns the pid of broker i (1-based, as local-env.sh names them: broker-1, broker-2), from the
// cluster's pid file; it skips without KS_CLUSTER_STATE_DIR.
func (c *ClusterEnv) BrokerPID(t testing.TB, i int) int {
	t.Helper()
	if c.StateDir == "" {
		t.Skipf("%s is not set: the broker processes cannot be found", EnvClusterStateDir)
	}
	name := fmt.Sprintf("broker-%d", i)
	b, err := os.ReadFile(filepath.Join(c.StateDir, name, name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		t.Fatalf("%s: pid file holds %q, not a live process", name, b)
	}
	return pid
}

// WaitFor polls cond; see the package-level WaitFor.
func (c *ClusterEnv) WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msgf string, args ...any) {
	t.Helper()
	WaitFor(t, timeout, cond, msgf, args...)
}

// Repair starts again the brokers of the cluster that are not running (a scenario SIGKILLed one), with
// `KS_TOPOLOGY=cluster scripts/local-env.sh up pulsar` on the cluster's state directory, and waits until both
// workers are members again. Its metadata store and bookies are left as they are.
func (c *ClusterEnv) Repair(t testing.TB) {
	t.Helper()
	script, err := findScript("scripts/local-env.sh")
	if err != nil {
		t.Fatalf("scripts/local-env.sh: %v", err)
	}
	if c.StateDir == "" {
		t.Fatalf("%s is not set: cannot restart the cluster's brokers", EnvClusterStateDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "up", "pulsar")
	cmd.Env = append(withoutVars(os.Environ(), "KS_STATE_DIR", "KS_TOPOLOGY"), "KS_TOPOLOGY=cluster", "KS_STATE_DIR="+c.StateDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restarting the cluster's lost brokers: %v\n%s", err, out)
	}
}

// ProcessesOf returns the pids of the live processes local-env.sh started for component (zookeeper, bookie-N,
// broker-N) of this cluster, and of those they spawned (function instances inherit their broker's mark).
func (c *ClusterEnv) ProcessesOf(component string) []int {
	if c.StateDir == "" {
		return nil
	}
	id := []byte("KS_LOCAL_ENV_ID=" + c.StateDir + "\x00")
	svc := []byte("KS_LOCAL_ENV_SVC=" + component + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []int
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// Whole entries only: each is NUL-terminated, and a leading NUL makes the first one match too.
		b = append([]byte{0}, b...)
		if !bytes.Contains(b, append([]byte{0}, id...)) || !bytes.Contains(b, append([]byte{0}, svc...)) {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(f, "/proc/"), "/environ")); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}
