package faultsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// The sinks the functions worker runs (KS_FAULTS_SINKS with nar or java):
// this sink's NAR, and Apache Pulsar's Kinesis sink NAR, both deployed with
// pulsar-admin sinks create. Ours takes the suite's configuration as it is;
// the Java sink takes it where it has the key, and reaches the same fault
// proxy behind a TLS front (the KPL speaks HTTPS only; the front passes its
// STS call to moto).

// javaKeys are the sink config keys the Java sink has; the suite's others
// are this sink's own and go to the KPL where it has them.
var javaKeys = map[string]bool{
	"awsEndpoint": true, "awsEndpointPort": true, "skipCertificateValidation": true, "awsRegion": true,
	"awsKinesisStreamName": true, "awsCredentialPluginName": true, "awsCredentialPluginParam": true,
	"awsStsEndpoint": true, "awsStsPort": true, "cloudwatchEndpoint": true, "messageFormat": true,
	"jsonIncludeNonNulls": true, "jsonFlatten": true, "retainOrdering": true, "retryInitialDelayInMillis": true,
	"retryMaxDelayInMillis": true, "aggregationEnabled": true, "extraKinesisProducerConfig": true,
}

// kplKeys map this sink's keys the suite sets onto the KPL's, as the Java
// sink's extraKinesisProducerConfig names them (the KPL configuration's
// bean properties).
var kplKeys = map[string]string{"requestTimeout": "requestTimeout", "recordTtl": "recordTtl"}

// javaSinkConfig turns the suite's sink config into the Java sink's, with
// the endpoints at the TLS front on port.
func javaSinkConfig(ours map[string]any, port int) map[string]any {
	extra := map[string]string{"metricsLevel": "none"}
	out := map[string]any{}
	for k, v := range ours {
		switch {
		case javaKeys[k]:
			out[k] = v
		case kplKeys[k] != "":
			extra[kplKeys[k]] = fmt.Sprint(v)
		}
	}
	out["awsEndpoint"] = "127.0.0.1"
	out["awsEndpointPort"] = port
	out["awsStsEndpoint"] = "127.0.0.1"
	out["awsStsPort"] = port
	out["cloudwatchEndpoint"] = "127.0.0.1"
	out["skipCertificateValidation"] = true
	out["extraKinesisProducerConfig"] = extra
	return out
}

// workerName is the sink's name: the topic's, which is unique to the run (the
// worker keeps a deleted sink's package, and a name used again fails).
func (r *run) workerName() string { return r.topic[strings.LastIndex(r.topic, "/")+1:] }

func (r *run) admin(args ...string) (string, error) {
	return r.pulsar.Admin(r.t, args...)
}

// startWorkerSink deploys the sink the first time and otherwise waits for the
// worker to start its instance again (after a SIGKILL).
func (r *run) startWorkerSink() *sinkProc {
	r.t.Helper()
	if !r.deployed {
		cfg, err := os.ReadFile(r.cfgPath)
		if err != nil {
			r.t.Fatal(err)
		}
		args := []string{"sinks", "create", "--archive", r.archive, "--tenant", "public", "--namespace", "default",
			"--name", r.workerName(), "--inputs", r.topic, "--subs-name", r.sub, "--sink-config", string(cfg),
			"--processing-guarantees", "ATLEAST_ONCE"}
		if r.ordered {
			args = append(args, "--retain-ordering")
		}
		if out, err := r.admin(args...); err != nil {
			// Not err itself: it quotes the arguments, the secret among them.
			r.t.Fatalf("pulsar-admin sinks create %s failed:\n%s", r.workerName(), out)
		}
		r.deployed = true
		name := r.workerName()
		r.t.Cleanup(func() {
			_, _ = r.admin("sinks", "delete", "--tenant", "public", "--namespace", "default", "--name", name)
		})
	}
	p, err := r.workerInstance(3 * time.Minute)
	if err != nil {
		r.t.Fatal(err)
	}
	r.cur = p
	// The instance JVM takes seconds to subscribe; ours takes milliseconds.
	// The scenario's clock starts when the sink consumes, for both.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && p.running() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := r.pulsar.ConsumersOf(ctx, r.topic, r.sub)
		cancel()
		if err == nil && n > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p
}

// workerStatus is the worker's word on the sink, for the table: how many
// instances run, and the error of those that do not.
func (r *run) workerStatus() string {
	out, err := r.admin("sinks", "status", "--tenant", "public", "--namespace", "default", "--name", r.workerName())
	if err != nil {
		return "sinks status failed"
	}
	i := strings.Index(out, "{")
	if i < 0 {
		return "sinks status: " + strings.Join(strings.Fields(out), " ")
	}
	var st struct {
		NumInstances, NumRunning int
		Instances                []struct {
			Status struct {
				Running bool
				Error   string
			}
		}
	}
	if json.Unmarshal([]byte(out[i:]), &st) != nil {
		return "sinks status: " + strings.Join(strings.Fields(out), " ")
	}
	s := fmt.Sprintf("worker: %d of %d instances running", st.NumRunning, st.NumInstances)
	for _, in := range st.Instances {
		if !in.Status.Running && in.Status.Error != "" {
			s += " (" + errtext.Truncate(errtext.OneLine(in.Status.Error), 160) + ")"
			break
		}
	}
	return s
}

// workerInstance waits for an instance process of the sink other than the
// last one seen.
func (r *run) workerInstance(timeout time.Duration) (*sinkProc, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("pgrep", "-f", "JavaInstanceMain.*"+r.workerName()).Output()
		for _, f := range strings.Fields(string(out)) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid == r.lastPID {
				continue
			}
			r.lastPID = pid
			p := &sinkProc{pid: pid, logPath: r.workerLog(), done: make(chan struct{})}
			p.watchPID()
			return p, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, _ := r.admin("sinks", "status", "--tenant", "public", "--namespace", "default", "--name", r.workerName())
	return nil, fmt.Errorf("no instance of the sink %s within %s; sinks status: %s", r.workerName(), timeout, strings.Join(strings.Fields(status), " "))
}

// workerLog is the instance's log file under the worker's log directory.
func (r *run) workerLog() string {
	var dirs []string
	if r.pulsar.Home != "" {
		dirs = append(dirs, r.pulsar.Home)
	}
	if s := os.Getenv("KS_STATE_DIR"); s != "" {
		dirs = append(dirs, s)
	}
	dirs = append(dirs, filepath.Join(repoRoot(r.t), ".local-env"))
	for _, d := range dirs {
		for _, pat := range []string{"logs", "*/logs"} {
			m, _ := filepath.Glob(filepath.Join(d, pat, "functions", "public", "default", r.workerName(), "*.log"))
			if len(m) > 0 {
				return m[0]
			}
		}
	}
	return ""
}

// terminate is what a clean stop is for each sink: SIGTERM for localrun,
// sinks stop for a sink the worker runs (the worker sends the instance
// SIGTERM and does not start it again).
func (r *run) terminate(p *sinkProc) {
	if !r.viaWorker() {
		p.signal(syscall.SIGTERM)
		return
	}
	if out, err := r.admin("sinks", "stop", "--tenant", "public", "--namespace", "default", "--name", r.workerName()); err != nil {
		r.t.Errorf("pulsar-admin sinks stop: %v\n%s", err, out)
	}
}

func (r *run) deleteWorkerSink() {
	if !r.deployed {
		return
	}
	if out, err := r.admin("sinks", "delete", "--tenant", "public", "--namespace", "default", "--name", r.workerName()); err != nil {
		r.t.Logf("pulsar-admin sinks delete: %v\n%s", err, out)
	}
	r.deployed = false
	if r.cur != nil {
		r.cur.wait(15 * time.Second)
	}
}

// viaWorker says whether the functions worker runs the sink (the NARs) or
// the suite runs it (localrun).
func (r *run) viaWorker() bool { return r.sink != "go" }

// archive is the NAR sinks create deploys for sink: this checkout's
// (built once, or KINESIS_SINK_NAR), or the Java sink's
// (KS_FAULTS_JAVA_NAR); "" for go.
func (s *suite) archive(t *testing.T, sink string) string {
	t.Helper()
	switch sink {
	case "nar":
		return e2e.NAR(t)
	case "java":
		if s.javaNAR == "" {
			t.Fatal("KS_FAULTS_JAVA_NAR is not set: the Java sink's NAR is needed for KS_FAULTS_SINKS=java (scripts/fault-suite.sh fetches it)")
		}
		return s.javaNAR
	}
	return ""
}

// workerBack waits for the worker to run the sink's instance again after a
// restart of the standalone that holds it. Pulsar's standalone worker starts
// its instances before its own package service answers: the download of
// the sink's package fails (HTTP 503) and the worker does not try again, so
// the instance stays down whatever the sink (the Java sink's column shows
// it too). What an operator does then is sinks restart; the table says so.
func (r *run) workerBack() error {
	if r.cur != nil && r.cur.running() {
		return nil
	}
	p, err := r.workerInstance(time.Minute)
	if err == nil {
		r.cur = p
		return nil
	}
	status := r.workerStatus()
	if out, err := r.admin("sinks", "restart", "--tenant", "public", "--namespace", "default", "--name", r.workerName()); err != nil {
		return fmt.Errorf("sinks restart after the worker left the instance down (%s): %v\n%s", status, err, out)
	}
	r.notes = append(r.notes, "the restarted worker left the instance down ("+status+"): sinks restart")
	if p, err = r.workerInstance(2 * time.Minute); err != nil {
		return err
	}
	r.cur = p
	return nil
}
