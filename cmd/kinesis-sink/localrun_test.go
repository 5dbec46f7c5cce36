package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// localrunCLI runs the localrun command; a run that gets past the file
// fails the test unless allowRun.
func localrunCLI(t *testing.T, allowRun bool, args ...string) (code int, stdout, stderr string, ran *deploy.Local) {
	t.Helper()
	var o, e bytes.Buffer
	code = runLocalrun(args, &o, &e, func(l *deploy.Local, _ runtime.Options) int {
		if !allowRun {
			t.Errorf("localrun %q started an instance", args)
		}
		ran = l
		return 0
	})
	return code, o.String(), e.String(), ran
}

func notesOf(stderr string) []string {
	var n []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "note: ") {
			n = append(n, l)
		}
	}
	return n
}

// TestMisspeltKeyHintSameFromDeployAndLocalrun: the same file gives the same
// did-you-mean lines from both commands, for a key of the configs: block
// (a note, the command goes on) and for a field of the file (an error).
func TestMisspeltKeyHintSameFromDeployAndLocalrun(t *testing.T) {
	typo := e2e.SinkConfigFile(t, "name: typo\ninputs: [persistent://public/default/t]\ndeadLetterTopic: persistent://public/default/dlq\n"+
		"configs:\n  awsRegion: us-east-1\n  awsKinesisStreamName: s\n  awsKinesisStreamNmae: s\n"+
		"  awsCredentialPluginName: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin\n")
	var dOut, dErr bytes.Buffer
	if code := runDeploy(context.Background(), []string{"create", "--sink-config-file", typo, "--binary", "/bin/true", "--dry-run",
		"--admin-url", "http://192.0.2.1:1"}, &dOut, &dErr); code != 0 {
		t.Fatalf("deploy: exit %d: %s", code, dErr.String())
	}
	code, _, lErr, _ := localrunCLI(t, false, "--sink-config-file", typo, "--dry-run")
	if code != 0 {
		t.Fatalf("localrun: exit %d: %s", code, lErr)
	}
	hint := `note: configs: unknown key "awsKinesisStreamNmae" ignored; did you mean "awsKinesisStreamName"?`
	dNotes, lNotes := notesOf(dErr.String()), notesOf(lErr)
	if !slices.Equal(dNotes, lNotes) || !slices.Contains(dNotes, hint) {
		t.Fatalf("want the same notes with %q:\ndeploy   %q\nlocalrun %q", hint, dNotes, lNotes)
	}
	if !slices.ContainsFunc(dNotes, func(n string) bool { return strings.HasPrefix(n, "note: deadLetterTopic:") }) {
		t.Errorf("no dead-letter note: %q", dNotes)
	}

	field := e2e.SinkConfigFile(t, "name: typo\ninputs: [t]\ndeadLetterTopik: d\nconfigs: {awsKinesisStreamName: s}\n")
	dErr.Reset()
	dc := runDeploy(context.Background(), []string{"create", "--sink-config-file", field, "--binary", "/bin/true", "--dry-run"}, &dOut, &dErr)
	lc, _, lErr, _ := localrunCLI(t, false, "--sink-config-file", field, "--dry-run")
	dMsg := strings.TrimPrefix(strings.TrimSpace(dErr.String()), prog+" deploy create: ")
	lMsg := strings.TrimPrefix(strings.TrimSpace(lErr), prog+" localrun: ")
	if dc != 1 || lc != 1 || dMsg != lMsg || !strings.HasSuffix(dMsg, `unknown field "deadLetterTopik"; did you mean "deadLetterTopic"?`) {
		t.Fatalf("want the same error:\ndeploy   %d %q\nlocalrun %d %q", dc, dMsg, lc, lMsg)
	}
}

// TestLocalrunCLI: what the flags change, what the file says, and the
// refusals, all before anything connects.
func TestLocalrunCLI(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if code, _, errs, _ := localrunCLI(t, false, "--sink-config-file", missing); code != 1 ||
		errs != prog+` localrun: sink config file "`+missing+`": open `+missing+": no such file or directory\n" {
		t.Errorf("missing file: exit %d: %q", code, errs)
	}
	if code, _, errs, _ := localrunCLI(t, false); code != 1 || !strings.Contains(errs, "--sink-config-file is required") {
		t.Errorf("no file: exit %d: %q", code, errs)
	}

	example := "../../conf/examples/kinesis-sink.yaml"
	code, _, errs, l := localrunCLI(t, true, "--sink-config-file", example, "--service-url", "pulsar://192.0.2.1:6650")
	if code != 0 || l == nil {
		t.Fatalf("example: exit %d: %s", code, errs)
	}
	c := l.Config
	if c.FQFN() != "public/default/kinesis-sink" || c.SubscriptionName != "kinesis-sink" || c.SubscriptionPosition != runtime.Earliest ||
		c.SubscriptionType != runtime.Failover || len(c.Inputs) != 2 || c.Inputs[0].ReceiverQueueSize != 2000 ||
		c.UserConfig["failurePolicy"] != "deadLetter" || c.UserConfig["deadLetterTopic"] != "persistent://public/default/kinesis-sink-dlq" ||
		c.ServiceURL != "pulsar://192.0.2.1:6650" || c.Parallelism != 2 {
		t.Errorf("example: %+v", c)
	}
	if n := notesOf(errs); len(n) != 1 || !strings.HasPrefix(n[0], "note: deadLetterTopic:") {
		t.Errorf("example notes: %q", n)
	}

	// Flags replace the file's fields as pulsar-admin's do; the inputSpecs
	// topic is still read, as the worker would.
	code, out, errs, _ := localrunCLI(t, false, "--sink-config-file", example, "--dry-run", "--inputs", "a, b,", "--subscription", "s2",
		"--subscription-position", "latest", "--name", "n2", "--parallelism", "3", "--instance-id", "2")
	var view struct {
		Name                 string `json:"name"`
		InstanceID           int    `json:"instanceId"`
		Parallelism          int    `json:"parallelism"`
		Inputs               []struct{ Topic string }
		SubscriptionName     string `json:"subscriptionName"`
		SubscriptionPosition string `json:"subscriptionPosition"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &view) != nil {
		t.Fatalf("dry run: exit %d: %s%s", code, out, errs)
	}
	var topics []string
	for _, in := range view.Inputs {
		topics = append(topics, in.Topic)
	}
	if view.Name != "n2" || view.InstanceID != 2 || view.Parallelism != 3 || view.SubscriptionName != "s2" || view.SubscriptionPosition != "Latest" ||
		strings.Join(topics, ",") != "a,b,persistent://public/default/orders" {
		t.Errorf("dry run: %+v", view)
	}

	secret := e2e.SinkConfigFile(t, "name: s\ninputs: [t]\nsecrets: {awsCredentialPluginParam: '{\"accessKey\":\"AK\",\"secretKey\":\"hush-1\"}'}\n"+
		"configs: {awsKinesisStreamName: s, awsRegion: us-east-1}\n")
	if code, out, errs, _ := localrunCLI(t, false, "--sink-config-file", secret, "--dry-run"); code != 0 || strings.Contains(out+errs, "hush-1") {
		t.Errorf("secrets: exit %d: %s%s", code, out, errs)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--subscription-type", "Shared"}, "retainOrdering: true needs Failover"},
		{[]string{"--subscription-type", "Exclusive"}, "--subscription-type: must be Shared, Failover or Key_Shared"},
		{[]string{"--subscription-position", "middle"}, "--subscription-position: must be Latest or Earliest"},
		{[]string{"--instance-id", "2"}, "--instance-id: must be 0 to 1 (parallelism 2)"},
		{[]string{"--parallelism", "-1"}, "--parallelism: must be at least 1"},
	} {
		code, _, errs, _ := localrunCLI(t, false, append([]string{"--sink-config-file", example}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d: %q; want %q", c.args, code, errs, c.want)
		}
	}

	// A file of sink keys alone: inputs from the flags.
	keys := e2e.SinkConfigFile(t, "awsKinesisStreamName: s\nawsRegion: us-east-1\nawsCredentialPluginName: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin\n")
	if code, _, errs, l := localrunCLI(t, true, "--sink-config-file", keys, "--inputs", "t1"); code != 0 || l.Config.Inputs[0].Topic != "t1" ||
		l.Config.SubscriptionName != "public/default/kinesis-sink" {
		t.Errorf("keys file: exit %d: %s", code, errs)
	}
	if code, _, errs, _ := localrunCLI(t, false, "--sink-config-file", keys); code != 1 || !strings.Contains(errs, `"inputs": no input topics: give inputs, topicsPattern or inputSpecs, or --inputs or --topics-pattern`) {
		t.Errorf("keys file without inputs: exit %d: %s", code, errs)
	}
}

// TestLocalrunMatchesTheWorker deploys a file through the standalone's
// worker and reads the -instance-conf the worker started the instance with,
// as the instance does; localrun's reading of the same file must give the
// same instance config, apart from what only a worker assigns (ids, ports,
// URLs). It checks the worker model of internal/deploy's table test against
// the real worker.
func TestLocalrunMatchesTheWorker(t *testing.T) {
	env := testenv.Pulsar(t)
	bin := e2e.TestsinkBinary(t)
	topic := env.UniqueTopic(t, "lr-worker")
	env.CreateTopic(t, topic)
	name := "lr-worker-" + topic[strings.LastIndex(topic, "-")+1:]
	file := e2e.SinkConfigFile(t, fmt.Sprintf(`name: %[1]s
inputs: [%[2]s]
topicsPattern: %[2]s-p-.*
inputSpecs:
  %[2]s-q: {receiverQueueSize: 70, consumerProperties: {k: v}, cryptoConfig: {cryptoKeyReaderClassName: org.example.Keys, consumerCryptoFailureAction: CONSUME}}
sourceSubscriptionName: %[1]s-sub
sourceSubscriptionPosition: Earliest
retainOrdering: true
timeoutMs: 45000
cleanupSubscription: false
deadLetterTopic: %[2]s-dlq
resources: {ram: 268435456}
secrets: {awsCredentialPluginParam: '{"accessKey":"AK","secretKey":"SK"}'}
configs:
  path: %[3]s
  awsRegion: us-east-1
  awsKinesisStreamName: s
  recordTtl: 30000
`, name, topic, filepath.Join(t.TempDir(), "out.jsonl")))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		env.AdminREST(ctx, http.MethodDelete, "/admin/v3/functions/public/default/"+url.PathEscape(name), nil)
	})
	var out, errb bytes.Buffer
	if code := runDeploy(context.Background(), []string{"create", "--admin-url", env.WebURL, "--sink-config-file", file,
		"--binary", bin, "--wait", "90s"}, &out, &errb); code != 0 {
		t.Fatalf("deploy create: exit %d: %s%s", code, out.String(), errb.String())
	}
	var pids []string
	env.WaitFor(t, 30*time.Second, func() bool { pids = deployInstancePIDs(bin, name); return len(pids) == 1 }, "one instance process")
	cmdline, err := os.ReadFile("/proc/" + pids[0] + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(string(cmdline), "\x00")
	i := slices.Index(args, "-instance-conf")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("no -instance-conf in %q", args)
	}
	worker, err := runtime.LoadInstanceConfig(args[i+1], "")
	if err != nil {
		t.Fatal(err)
	}

	code, _, errs, l := localrunCLI(t, true, "--sink-config-file", file, "--service-url", worker.ServiceURL,
		"--port", strconv.Itoa(worker.Port), "--metrics-port", strconv.Itoa(worker.MetricsPort))
	if code != 0 {
		t.Fatalf("localrun: exit %d: %s", code, errs)
	}
	if !slices.Equal(notesOf(errs), notesOf(errb.String())) {
		t.Errorf("notes differ:\ndeploy   %q\nlocalrun %q", notesOf(errb.String()), notesOf(errs))
	}
	local := *l.Config
	local.FuncID, local.FuncVersion, local.ClusterName, local.MaxBufTuples = worker.FuncID, worker.FuncVersion, worker.ClusterName, worker.MaxBufTuples
	local.WebServiceURL, local.StateStorageURL = worker.WebServiceURL, worker.StateStorageURL
	local.KillAfterIdle, local.ExpectedHealthCheckInterval = worker.KillAfterIdle, worker.ExpectedHealthCheckInterval
	if !reflect.DeepEqual(worker, &local) {
		wj, _ := json.Marshal(worker)
		lj, _ := json.Marshal(&local)
		t.Fatalf("instance configs differ:\nworker   %s\nlocalrun %s", wj, lj)
	}
	if local.UserConfig["failurePolicy"] != "deadLetter" || len(local.Inputs) != 3 {
		t.Errorf("localrun: %+v", local)
	}
}
