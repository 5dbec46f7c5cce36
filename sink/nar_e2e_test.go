package sink_test

// The second way in: the kinesis-go NAR deployed with pulsar-admin sinks
// create on the local standalone's functions worker, whose Java instance
// runs kinesis-sink as its child (docs/sidecar-protocol.md). Everything
// here is real: the worker, the Java instance, the child, kinesalite (and
// the fault proxy in front of it where kinesalite cannot throttle).

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
	"syscall"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

// deployNAR deploys the NAR as sink name with parallelism 2, from the
// archive or (sinkType) as --sink-type kinesis-go from the worker's
// connectors directory, and waits for both instances' children; the
// function it returns says why they do not run, or nil.
func deployNAR(t *testing.T, env *testenv.PulsarEnv, name string, topics []string, userConfig map[string]any, sinkType bool) func() error {
	t.Helper()
	nar := e2e.NAR(t)
	from := []string{"--archive", nar}
	if sinkType {
		installConnector(t, env, nar)
		from = []string{"--sink-type", "kinesis-go"}
	}
	// One address for the sink: instance N's child serves its metrics on
	// the port plus N, so both instances of this host serve theirs.
	metricsBase := e2e.FreePorts(t, 2)
	userConfig = maps.Clone(userConfig)
	userConfig["sidecarMetricsAddress"] = fmt.Sprintf("127.0.0.1:%d", metricsBase)
	// The KPL's tempDirectory: where the instance copies the binary to run.
	binDir := t.TempDir()
	userConfig["extraKinesisProducerConfig"] = map[string]any{"tempDirectory": binDir}
	uc, _ := json.Marshal(userConfig)
	args := append([]string{"sinks", "create"}, from...)
	args = append(args, "--tenant", "public", "--namespace", "default",
		"--name", name, "--inputs", strings.Join(topics, ","), "--parallelism", "2",
		"--sink-config", string(uc))
	if out, err := env.Admin(t, args...); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 2 }, "2 kinesis-sink children of %s", name)
	waitSubscribed(t, env, "public/default/"+name, topics, 2)
	for pid := range sidecarProcs(name) {
		// Unlinked once running: the kernel still names the file it ran.
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); !strings.HasPrefix(exe, filepath.Join(binDir, "kinesis-sink-")) {
			t.Errorf("child %d runs %q, not a copy in tempDirectory %s", pid, exe, binDir)
		}
	}
	for port := metricsBase; port < metricsBase+2; port++ {
		env.WaitFor(t, time.Minute, func() bool {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), "kinesis_sink_")
		}, "a child serving kinesis_sink_* on 127.0.0.1:%d", port)
	}
	return func() error {
		if n := len(sidecarProcs(name)); n != 2 {
			return fmt.Errorf("%d of 2 kinesis-sink children of %s run; sinks status:\n%s", n, name, sinkStatus(t, env, name))
		}
		return nil
	}
}

func deleteSink(t *testing.T, env *testenv.PulsarEnv, name string) {
	env.Admin(t, "sinks", "delete", "--tenant", "public", "--namespace", "default", "--name", name)
}

func sinkStatus(t *testing.T, env *testenv.PulsarEnv, name string) string {
	out, _ := env.Admin(t, "sinks", "status", "--tenant", "public", "--namespace", "default", "--name", name)
	return out
}

// waitSubscribed waits until n consumers of subscription sub (a sink's
// default is public/default/<name>) read every topic. The Java
// instance may open the sink before its multi-topic consumer has subscribed
// to every topic, and a sink's subscription starts at the latest message:
// what is published before would never reach it.
func waitSubscribed(t *testing.T, env *testenv.PulsarEnv, sub string, topics []string, n int) {
	t.Helper()
	for _, topic := range topics {
		env.WaitFor(t, 2*time.Minute, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := env.ConsumersOf(ctx, topic, sub)
			return err == nil && c >= n
		}, "%d consumers of %s on %s", n, sub, topic)
	}
}

// sidecars lists the pids of every `kinesis-sink sidecar` process (the
// NAR copies the binary to a temporary kinesis-sink-<n> and runs it).
func sidecars() []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 2 || args[1] != "sidecar" || !strings.HasPrefix(filepath.Base(args[0]), "kinesis-sink") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		out = append(out, pid)
	}
	return out
}

// sidecarProcs maps the pid of every `kinesis-sink sidecar` child of an
// instance of sink name to its parent, the Java instance (whose command
// line names the sink in its log directory).
func sidecarProcs(name string) map[int]int {
	out := map[int]int{}
	for _, pid := range sidecars() {
		ppid := parentOf(pid)
		pb, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", ppid))
		if err != nil || !strings.Contains(string(pb), "/"+name+"\x00") && !strings.Contains(string(pb), "/"+name+"/") {
			continue
		}
		out[pid] = ppid
	}
	return out
}

// orphanSidecars lists `kinesis-sink sidecar` processes whose parent is
// not a Java instance any more (reparented to init or a subreaper).
func orphanSidecars() []int {
	var out []int
	for _, pid := range sidecars() {
		pb, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", parentOf(pid)))
		if !strings.Contains(string(pb), "JavaInstanceMain") {
			out = append(out, pid)
		}
	}
	return out
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// sinkStats are the counts pulsar-admin sinks status reports.
type sinkStats struct {
	NumRunning int `json:"numRunning"`
	Instances  []struct {
		Status struct {
			Running            bool   `json:"running"`
			Error              string `json:"error"`
			NumReadFromPulsar  int64  `json:"numReadFromPulsar"`
			NumWrittenToSink   int64  `json:"numWrittenToSink"`
			NumSinkExceptions  int64  `json:"numSinkExceptions"`
			NumSystemException int64  `json:"numSystemExceptions"`
			NumRestarts        int64  `json:"numRestarts"`
		} `json:"status"`
	} `json:"instances"`
}

func statusOf(t *testing.T, env *testenv.PulsarEnv, name string) (sinkStats, string) {
	out := sinkStatus(t, env, name)
	var st sinkStats
	_ = json.Unmarshal([]byte(out), &st)
	return st, out
}

// writeJavaSinkConfigFile writes a sink config file as a user of the Java
// Kinesis sink writes one for sinks create --sink-config-file.
func writeJavaSinkConfigFile(t *testing.T, name string, inputs []string, configs map[string]any) string {
	t.Helper()
	f := map[string]any{
		"tenant": "public", "namespace": "default", "name": name,
		"inputs": inputs, "parallelism": 1, "configs": configs,
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	// JSON is YAML: sinks create reads either.
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func publishN(t *testing.T, client pulsar.Client, topic string, from, n, keys int) map[string][]string {
	t.Helper()
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := map[string][]string{}
	for i := from; i < from+n; i++ {
		k := fmt.Sprintf("key-%d", i%keys)
		v := fmt.Sprintf("nar-%06d-%s", i, k)
		sent[k] = append(sent[k], v)
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Key: k, Payload: []byte(v)}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				t.Errorf("publish: %v", err)
			}
		})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sent
}

// checkStored checks that every sent value is in recs, and, with ordered,
// that each key's values first appear in the order they were sent. It
// returns the number of duplicates.
func checkStored(t *testing.T, recs []testenv.KinesisRecord, sent map[string][]string, ordered bool) int {
	t.Helper()
	seen := map[string]int{}
	firstPos := map[string]int{}
	for i, r := range recs {
		v := string(r.Data)
		if seen[v] == 0 {
			firstPos[v] = i
		}
		seen[v]++
	}
	missing, dupes, outOfOrder := 0, 0, 0
	for k, vs := range sent {
		last := -1
		for _, v := range vs {
			if seen[v] == 0 {
				missing++
				continue
			}
			dupes += seen[v] - 1
			if ordered && firstPos[v] < last {
				outOfOrder++
				if outOfOrder <= 3 {
					t.Errorf("key %s: %s stored before an earlier record of its key", k, v)
				}
			}
			last = max(last, firstPos[v])
		}
	}
	if missing > 0 {
		t.Errorf("%d sent records missing from Kinesis", missing)
	}
	t.Logf("stored %d, missing %d, duplicates %d, out of order %d", len(recs), missing, dupes, outOfOrder)
	return dupes
}

// installConnector puts the NAR in the worker's connectors directory
// ($PULSAR_HOME/connectors, what scripts/local-env.sh configures) and
// reloads, until t ends.
func installConnector(t *testing.T, env *testenv.PulsarEnv, nar string) {
	t.Helper()
	if os.Getenv("PULSAR_HOME") == "" {
		t.Fatal("PULSAR_HOME is not set: the worker's connectors directory is $PULSAR_HOME/connectors")
	}
	dir := filepath.Join(os.Getenv("PULSAR_HOME"), "connectors")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "pulsar-io-kinesis-go-e2e.nar")
	b, err := os.ReadFile(nar)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(dst)
		env.Admin(t, "sinks", "reload")
	})
	if out, err := env.Admin(t, "sinks", "reload"); err != nil {
		t.Fatalf("sinks reload: %v\n%s", err, out)
	}
	env.WaitFor(t, time.Minute, func() bool {
		out, _ := env.Admin(t, "sinks", "available-sinks")
		return strings.Contains(out, "kinesis-go")
	}, "kinesis-go in sinks available-sinks")

	// The worker shows every key the sink reads, the secret one marked.
	resp, err := http.Get(env.WebURL + "/admin/v3/sinks/builtinsinks/kinesis-go/configdefinition")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fields []struct {
		FieldName  string
		Attributes map[string]string
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("config definition of kinesis-go: HTTP %d %v: %.300s", resp.StatusCode, err, body)
	}
	got := map[string]map[string]string{}
	for _, f := range fields {
		got[f.FieldName] = f.Attributes
	}
	for _, k := range conf.Keys() {
		if _, ok := got[k]; !ok {
			t.Errorf("the worker's config definition of kinesis-go lacks %s", k)
		}
	}
	if len(got) != len(conf.Keys()) || got["awsCredentialPluginParam"]["sensitive"] != "true" {
		t.Errorf("config definition: %d fields for %d keys; awsCredentialPluginParam %v", len(got), len(conf.Keys()), got["awsCredentialPluginParam"])
	}
}

// waitAllStored reads the stream until every sent value is in it, or
// timeout; it returns what it read last.
func waitAllStored(t *testing.T, ks *testenv.KinesisEnv, stream string, sent map[string][]string, timeout time.Duration) []testenv.KinesisRecord {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := ks.ReadAll(t, stream)
		have := make(map[string]bool, len(recs))
		for _, r := range recs {
			have[string(r.Data)] = true
		}
		missing := 0
		for _, vs := range sent {
			for _, v := range vs {
				if !have[v] {
					missing++
				}
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(2 * time.Second)
	}
}

// TestNARSink: create from a Java sink config file with --archive, status
// counts, update, stop / start / restart / delete (no child left behind),
// a bad config failing with one line and no secret in the log, and the NAR
// from the worker's connectors directory with --sink-type kinesis-go.
func TestNARSink(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	nar := e2e.NAR(t)
	client := e2e.NewClient(t, env)
	const secret = "nar-secret-value-7f3a"
	cfg := func(stream string) map[string]any {
		return map[string]any{
			"awsEndpoint": ks.Endpoint, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
			"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"` + secret + `"}`,
			"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
			"retainOrdering": true,
		}
	}

	t.Run("lifecycle", func(t *testing.T) {
		streamA, streamB := ks.UniqueStream(t, "nar-a"), ks.UniqueStream(t, "nar-b")
		ks.CreateStream(t, streamA, 2)
		ks.CreateStream(t, streamB, 2)
		topic := env.UniqueTopic(t, "nar")
		name := uniqueName(t, "nar")
		file := writeJavaSinkConfigFile(t, name, []string{topic}, cfg(streamA))
		if out, err := env.Admin(t, "sinks", "create", "--archive", nar, "--sink-config-file", file); err != nil {
			t.Fatalf("sinks create: %v\n%s", err, out)
		}
		t.Cleanup(func() { deleteSink(t, env, name) })
		env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
		waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)

		sent := publishN(t, client, topic, 0, 500, 10)
		recs := ks.WaitForRecords(t, streamA, 500, 2*time.Minute)
		checkStored(t, recs, sent, true)
		env.WaitFor(t, time.Minute, func() bool {
			st, _ := statusOf(t, env, name)
			return len(st.Instances) == 1 && st.Instances[0].Status.NumReadFromPulsar == 500 && st.Instances[0].Status.NumWrittenToSink == 500
		}, "sinks status to count 500 read and 500 written")
		st, raw := statusOf(t, env, name)
		t.Logf("sinks status after 500 records: %s", strings.Join(strings.Fields(raw), " "))
		if st.Instances[0].Status.NumSinkExceptions != 0 {
			t.Errorf("numSinkExceptions = %d, want 0", st.Instances[0].Status.NumSinkExceptions)
		}

		// update: the new config goes to stream B.
		before := sidecarProcs(name)
		ub, _ := json.Marshal(cfg(streamB))
		if out, err := env.Admin(t, "sinks", "update", "--tenant", "public", "--namespace", "default", "--name", name,
			"--sink-config", string(ub)); err != nil {
			t.Fatalf("sinks update: %v\n%s", err, out)
		}
		env.WaitFor(t, 2*time.Minute, func() bool {
			now := sidecarProcs(name)
			if len(now) != 1 {
				return false
			}
			for pid := range now {
				if _, old := before[pid]; old {
					return false
				}
			}
			return true
		}, "a new kinesis-sink child after sinks update")
		sent = publishN(t, client, topic, 500, 200, 10)
		checkStored(t, ks.WaitForRecords(t, streamB, 200, 2*time.Minute), sent, true)
		if n := len(ks.ReadAll(t, streamA)); n != 500 {
			t.Errorf("stream A holds %d records after the update, want the 500 from before", n)
		}

		// stop / start / restart / delete, by process id.
		admin := func(verb string) {
			if out, err := env.Admin(t, "sinks", verb, "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
				t.Fatalf("sinks %s: %v\n%s", verb, err, out)
			}
		}
		old := sidecarProcs(name)
		admin("stop")
		env.WaitFor(t, time.Minute, func() bool { return len(sidecarProcs(name)) == 0 }, "no child after sinks stop")
		for pid := range old {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("child %d still runs after sinks stop", pid)
			}
		}
		admin("start")
		env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "a child after sinks start")
		old = sidecarProcs(name)
		admin("restart")
		env.WaitFor(t, 2*time.Minute, func() bool {
			now := sidecarProcs(name)
			for pid := range now {
				if _, was := old[pid]; was {
					return false
				}
			}
			return len(now) == 1
		}, "a new child after sinks restart")
		for pid := range old {
			env.WaitFor(t, 30*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }, "child %d gone after sinks restart", pid)
		}
		old = sidecarProcs(name)
		admin("delete")
		env.WaitFor(t, time.Minute, func() bool { return len(sidecarProcs(name)) == 0 }, "no child after sinks delete")
		for pid := range old {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("child %d still runs after sinks delete", pid)
			}
		}
	})

	t.Run("bad-config", func(t *testing.T) {
		topic := env.UniqueTopic(t, "nar-bad")
		name := uniqueName(t, "nar-bad")
		c := cfg("")
		delete(c, "awsKinesisStreamName")
		file := writeJavaSinkConfigFile(t, name, []string{topic}, c)
		if out, err := env.Admin(t, "sinks", "create", "--archive", nar, "--sink-config-file", file); err != nil {
			t.Fatalf("sinks create: %v\n%s", err, out)
		}
		t.Cleanup(func() { deleteSink(t, env, name) })
		// The instance fails in open and the worker restarts it, again and
		// again; between two tries status may only say the instance is
		// unreachable. The error open threw is in the instance's log.
		var errLine, status string
		env.WaitFor(t, 2*time.Minute, func() bool {
			st, raw := statusOf(t, env, name)
			status = raw
			for _, l := range strings.Split(instanceLog(t, env, name), "\n") {
				if _, msg, ok := strings.Cut(l, "java.lang.IllegalArgumentException: "); ok {
					errLine = msg
				}
			}
			return errLine != "" && len(st.Instances) == 1 && !st.Instances[0].Status.Running
		}, "the instance to fail in open")
		t.Logf("open failed: %s; sinks status: %s", errLine, strings.Join(strings.Fields(status), " "))
		if !strings.Contains(errLine, "awsKinesisStreamName") {
			t.Errorf("open failed with %q: want one line naming awsKinesisStreamName", errLine)
		}
		// The worker's own start-up lines print the function details, the
		// configs included (Pulsar's doing, for every connector): the scan
		// covers what the NAR's class and its child write.
		var ours []string
		for _, l := range strings.Split(instanceLog(t, env, name), "\n") {
			if strings.Contains(l, "KinesisGoSink") || strings.Contains(l, "[kinesis-sink]") {
				ours = append(ours, l)
			}
		}
		log := strings.Join(ours, "\n")
		if strings.Contains(log, secret) || strings.Contains(errLine, secret) {
			t.Errorf("the secret appears in the sink's log lines or its status")
		}
		if !strings.Contains(log, "awsKinesisStreamName") {
			t.Errorf("the sink's log lines do not say what was wrong:\n%s", e2e.Tail(log, 20))
		}
		if strings.Contains(status, secret) {
			t.Errorf("the secret appears in sinks status")
		}
	})

	t.Run("connectors-directory", func(t *testing.T) {
		installConnector(t, env, nar)

		stream := ks.UniqueStream(t, "nar-type")
		ks.CreateStream(t, stream, 1)
		topic := env.UniqueTopic(t, "nar-type")
		name := uniqueName(t, "nar-type")
		file := writeJavaSinkConfigFile(t, name, []string{topic}, cfg(stream))
		if out, err := env.Admin(t, "sinks", "create", "--sink-type", "kinesis-go", "--sink-config-file", file); err != nil {
			t.Fatalf("sinks create --sink-type kinesis-go: %v\n%s", err, out)
		}
		t.Cleanup(func() { deleteSink(t, env, name) })
		// The instance subscribes before it opens the sink: once the child
		// runs, nothing published is missed.
		env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
		waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)
		sent := publishN(t, client, topic, 0, 100, 5)
		checkStored(t, ks.WaitForRecords(t, stream, 100, 2*time.Minute), sent, true)
	})
}

// TestNARSinkFaults: 30% of entries throttled (the fault proxy in front of
// kinesalite, which never throttles), retainOrdering, and the child
// SIGKILLed three times mid-run: nothing missing, keys in order. Then the
// Java instance SIGKILLed: its child must not outlive it.
func TestNARSinkFaults(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)
	px, err := faultproxy.New(ks.Endpoint, 12)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	px.SetRules(faultproxy.Rules{DropFraction: 0.3})

	stream := ks.UniqueStream(t, "nar-faults")
	ks.CreateStream(t, stream, 2)
	topic := env.UniqueTopic(t, "nar-faults")
	name := uniqueName(t, "nar-faults")
	cfg := map[string]any{
		"awsEndpoint": px.URL(), "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-faults"}`,
		"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
		"retainOrdering": true,
	}
	file := writeJavaSinkConfigFile(t, name, []string{topic}, cfg)
	if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--sink-config-file", file); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
	waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)

	const n = 6000
	done := make(chan map[string][]string)
	go func() {
		// Published over about 6 s, so that the kills land mid-run.
		all := map[string][]string{}
		for i := 0; i < n; i += 500 {
			for k, v := range publishN(t, client, topic, i, 500, 40) {
				all[k] = append(all[k], v...)
			}
			time.Sleep(500 * time.Millisecond)
		}
		done <- all
	}()
	for kill := 1; kill <= 3; kill++ {
		time.Sleep(2 * time.Second)
		var pid int
		env.WaitFor(t, 2*time.Minute, func() bool {
			for p := range sidecarProcs(name) {
				pid = p
			}
			return pid != 0
		}, "a child to kill (kill %d)", kill)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
		t.Logf("SIGKILLed child %d (kill %d)", pid, kill)
		env.WaitFor(t, 3*time.Minute, func() bool {
			_, there := sidecarProcs(name)[pid]
			return !there && len(sidecarProcs(name)) == 1
		}, "the worker to restart the instance after kill %d", kill)
	}
	sent := <-done
	// Redelivered records come back after the restarts, duplicates of
	// written but unacked ones among them: wait for every value, not for
	// a count.
	recs := waitAllStored(t, ks, stream, sent, 5*time.Minute)
	checkStored(t, recs, sent, true)
	pc := px.Counters()
	t.Logf("proxy: %d entries dropped as throttled", pc.EntriesDropped)
	if pc.EntriesDropped == 0 {
		t.Error("the proxy throttled nothing: the run did not test throttling")
	}

	// The Java instance SIGKILLed: its child must not outlive it.
	var child, java int
	for c, p := range sidecarProcs(name) {
		child, java = c, p
	}
	if java == 0 {
		t.Fatal("no running instance to kill")
	}
	if err := syscall.Kill(java, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	env.WaitFor(t, 30*time.Second, func() bool { return syscall.Kill(child, 0) != nil }, "child %d to exit after its instance %d was SIGKILLed", child, java)
	if o := orphanSidecars(); len(o) > 0 {
		t.Errorf("kinesis-sink children without their Java instance: %v", o)
	}
}

// instanceLog is the first instance's log of sink name, under the
// worker's log directory (.local-env, or KS_STATE_DIR under make test).
func instanceLog(t *testing.T, env *testenv.PulsarEnv, name string) string {
	t.Helper()
	var roots []string
	if s := os.Getenv("KS_STATE_DIR"); s != "" {
		roots = append(roots, s)
	}
	if gomod, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		roots = append(roots, filepath.Join(filepath.Dir(strings.TrimSpace(string(gomod))), ".local-env"))
	}
	for _, r := range roots {
		for _, pat := range []string{"*/logs/functions/public/default", "*/logs/functions/functions/public/default", "logs/functions/public/default"} {
			m, _ := filepath.Glob(filepath.Join(r, pat, name, "*.log"))
			if len(m) > 0 {
				b, err := os.ReadFile(m[0])
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
		}
	}
	t.Fatalf("no log of sink %s under %v", name, roots)
	return ""
}

// TestNARSinkFailurePolicies: the failure policies on the NAR path.
// deadLetter: bad records go to the dead-letter topic through the Java
// instance's client, with the reason and their own message ids, and are
// acked with the good ones; failOnError: a bad record fails the instance
// (the worker restarts it, with a new child) and is not acked.
func TestNARSinkFailurePolicies(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	client := e2e.NewClient(t, env)
	nar := e2e.NAR(t)
	create := func(t *testing.T, name, topic string, extra map[string]any) {
		t.Helper()
		stream := ks.UniqueStream(t, "nar-policy")
		ks.CreateStream(t, stream, 1)
		c := map[string]any{
			"awsEndpoint": ks.Endpoint, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
			"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-policy"}`,
			"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
			"explicitHashKeyProperty": "ehk",
		}
		for k, v := range extra {
			c[k] = v
		}
		file := writeJavaSinkConfigFile(t, name, []string{topic}, c)
		if out, err := env.Admin(t, "sinks", "create", "--archive", nar, "--sink-config-file", file, "--subs-name", name); err != nil {
			t.Fatalf("sinks create: %v\n%s", err, out)
		}
		t.Cleanup(func() { deleteSink(t, env, name) })
		env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
		waitSubscribed(t, env, name, []string{topic}, 1)
	}
	send := func(t *testing.T, topic string, bad, good int) {
		t.Helper()
		p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := range bad + good {
			m := &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("good-%d", i))}
			if i < bad {
				// A malformed explicit hash key: not a record any retry can write.
				m = &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("bad-%d", i)), Properties: map[string]string{"ehk": "x"}}
			}
			p.SendAsync(context.Background(), m, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					t.Errorf("send: %v", err)
				}
			})
		}
		if err := p.FlushWithCtx(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("deadLetter", func(t *testing.T) {
		topic := env.UniqueTopic(t, "nar-dl-in")
		dlt := env.UniqueTopic(t, "nar-dl-out")
		name := uniqueName(t, "nar-dl")
		dlc, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlt, SubscriptionName: "check",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		if err != nil {
			t.Fatal(err)
		}
		defer dlc.Close()
		create(t, name, topic, map[string]any{"failurePolicy": "deadLetter", "deadLetterTopic": dlt})
		send(t, topic, 3, 3)
		ids := map[string]bool{}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for len(ids) < 3 {
			m, err := dlc.Receive(ctx)
			if err != nil {
				t.Fatalf("%d of 3 dead letters: %v", len(ids), err)
			}
			dlc.Ack(m)
			if !strings.HasPrefix(string(m.Payload()), "bad-") {
				t.Errorf("dead letter %q: not one of the bad records", m.Payload())
			}
			if r := m.Properties()[sink.PropDeadLetterReason]; !strings.Contains(r, "ehk") && !strings.Contains(r, "explicit hash key") {
				t.Errorf("dead letter %q: reason %q does not say what was wrong", m.Payload(), r)
			}
			ids[m.Properties()[sink.PropOriginMessageID]] = true
		}
		if len(ids) != 3 {
			t.Errorf("the 3 dead letters name %d origin messages: %v", len(ids), ids)
		}
		env.WaitFor(t, time.Minute, func() bool { return env.Backlog(t, topic, name) == 0 }, "the input's backlog to drain (dead letters acked)")
		st, raw := statusOf(t, env, name)
		if len(st.Instances) != 1 || st.Instances[0].Status.NumRestarts != 0 {
			t.Errorf("the instance restarted under deadLetter: %s", strings.Join(strings.Fields(raw), " "))
		}
	})

	t.Run("failOnError", func(t *testing.T) {
		topic := env.UniqueTopic(t, "nar-foe")
		name := uniqueName(t, "nar-foe")
		create(t, name, topic, map[string]any{"failurePolicy": "failOnError"})
		send(t, topic, 1, 0)
		// Each restarted instance gets the bad record again and fails within
		// a second, so a new child may never be seen running: the
		// instance's log tells the story (the worker appends each run's).
		env.WaitFor(t, 3*time.Minute, func() bool {
			log := instanceLog(t, env, name)
			return strings.Count(log, `msg="sidecar open"`) >= 2 &&
				strings.Contains(log, "kinesis-sink failed: failurePolicy failOnError")
		}, "the instance to fail on the bad record and the worker to start it again")
		time.Sleep(3 * time.Second)
		if b := env.Backlog(t, topic, name); b < 1 {
			t.Errorf("backlog %d after failOnError: the bad record was acked", b)
		}
	})
}
