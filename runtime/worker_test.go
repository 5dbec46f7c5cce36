package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

func functionsStatus(t *testing.T, env *testenv.PulsarEnv, name string) (*deploy.FunctionStatus, error) {
	out, err := env.Admin(t, "functions", "status", "--tenant", "public", "--namespace", "default", "--name", name)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var st deploy.FunctionStatus
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
		return nil, fmt.Errorf("parse status %q: %v", out, err)
	}
	return &st, nil
}

// instancePIDs finds the processes the worker launched for a function: their
// command line holds the instance conf, which names the function.
func instancePIDs(bin, name string) []string {
	out, _ := exec.Command("pgrep", "-f", filepath.Base(bin)+" -instance-conf .*\""+name+"\"").Output()
	return strings.Fields(string(out))
}

// TestDeployThroughFunctionsWorker deploys the binary with
// `pulsar-admin functions create --go`, checks that `functions status`
// (served by our gRPC InstanceControl) reports its counters, and that stop
// and delete end the process within 10 s.
func TestDeployThroughFunctionsWorker(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := e2e.TestsinkBinary(t)
	topic := env.UniqueTopic(t, "rt-worker")
	env.CreateTopic(t, topic)
	// Unique across runs: the shared worker keeps each deleted function's
	// package, and a second create of the same name fails.
	name := fmt.Sprintf("rtworker%d", time.Now().UnixNano()%1e12)
	// The worker runs on this machine, so the instance writes where the
	// test can read.
	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.jsonl")
	uc, _ := json.Marshal(map[string]any{"path": out})

	if o, err := env.Admin(t, "functions", "create", "--go", bin, "--tenant", "public", "--namespace", "default",
		"--name", name, "--inputs", topic, "--user-config", string(uc), "--subs-position", "Earliest"); err != nil {
		t.Fatalf("functions create: %v\n%s", err, o)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			env.Admin(t, "functions", "delete", "--tenant", "public", "--namespace", "default", "--name", name)
		}
	})

	env.WaitFor(t, 90*time.Second, func() bool {
		st, err := functionsStatus(t, env, name)
		return err == nil && st.NumRunning == 1
	}, "function %s running", name)

	client := e2e.NewClient(t, env)
	const n = 500
	e2e.Produce(t, client, topic, n, func(i int) string { return fmt.Sprintf("w-%d", i) })
	e2e.WaitLines(t, out, n, 60*time.Second, nil)

	var last *deploy.FunctionStatus
	env.WaitFor(t, 30*time.Second, func() bool {
		st, err := functionsStatus(t, env, name)
		if err != nil || len(st.Instances) != 1 {
			return false
		}
		last = st
		s := st.Instances[0].Status
		return s.Running && s.NumReceived == n && s.NumSuccessfullyProcessed == n
	}, "functions status to report numReceived=%d", n)
	t.Logf("functions status: %+v", last.Instances[0].Status)

	pids := instancePIDs(bin, name)
	if len(pids) != 1 {
		t.Fatalf("want one instance process, found %v", pids)
	}
	alive := func() bool { return exec.Command("kill", "-0", pids[0]).Run() == nil }

	start := time.Now()
	if o, err := env.Admin(t, "functions", "stop", "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
		t.Fatalf("functions stop: %v\n%s", err, o)
	}
	env.WaitFor(t, 10*time.Second, func() bool { return !alive() }, "instance process %s to end after stop", pids[0])
	t.Logf("process ended %s after functions stop", time.Since(start).Round(time.Millisecond))

	if o, err := env.Admin(t, "functions", "start", "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
		t.Fatalf("functions start: %v\n%s", err, o)
	}
	env.WaitFor(t, 60*time.Second, func() bool { return len(instancePIDs(bin, name)) == 1 }, "instance to restart")
	pids = instancePIDs(bin, name)
	start = time.Now()
	if o, err := env.Admin(t, "functions", "delete", "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
		t.Fatalf("functions delete: %v\n%s", err, o)
	}
	deleted = true
	env.WaitFor(t, 10*time.Second, func() bool { return exec.Command("kill", "-0", pids[0]).Run() != nil },
		"instance process to end after delete")
	t.Logf("process ended %s after functions delete", time.Since(start).Round(time.Millisecond))
	_ = os.Remove(out)
}
