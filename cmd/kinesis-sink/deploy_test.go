package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testsink"
)

// TestDeployCLIErrors runs the command: exit codes, one-line messages, and
// that refused files never reach the network (the admin URL is unroutable).
func TestDeployCLIErrors(t *testing.T) {
	good := e2e.SinkConfigFile(t, "name: n\ninputs: [t]\nconfigs: {awsKinesisStreamName: s, awsRegion: us-east-1, awsCredentialPluginName: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin}\n")
	badCfg := e2e.SinkConfigFile(t, "name: n\ninputs: [t]\nconfigs: {awsKinesisStreamName: s, awsCredentialPluginName: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin, collectionMaxCount: -5}\n")
	archive := e2e.SinkConfigFile(t, "name: n\ninputs: [t]\narchive: ./kinesis-sink\nconfigs: {awsKinesisStreamName: s, awsRegion: us-east-1, awsCredentialPluginName: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin}\n")
	dlq := e2e.SinkConfigFile(t, "name: n\ninputs: [t]\nmaxMessageRetries: 2\ndeadLetterTopic: persistent://public/default/dlq\n"+
		"secrets: {other: hush-secret-1}\n"+
		"configs: {awsKinesisStreamName: s, awsRegion: us-east-1, awsCredentialPluginParam: '{\"accessKey\":\"AK\",\"secretKey\":\"hush-secret-2\"}'}\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "an action is required"},
		{[]string{"launch"}, 2, `unknown action "launch"`},
		{[]string{"create"}, 1, "--sink-config-file is required"},
		{[]string{"create", "--sink-config-file", good, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"create", "--sink-config-file", badCfg, "--binary", "/bin/true"}, 1, `configs: "collectionMaxCount"`},
		{[]string{"create", "--sink-config-file", good, "--binary", "/etc/hostname"}, 1, "not a Linux executable"},
		{[]string{"create", "--sink-config-file", good, "--binary", "/nonexistent/x"}, 1, "no such file"},
		{[]string{"create", "--sink-config-file", archive}, 1, `"archive" "./kinesis-sink": not found at ./kinesis-sink (from the working directory) or ` +
			filepath.Join(filepath.Dir(archive), "kinesis-sink") + ` (next to the file); remove archive: from the file to upload this executable, or give --binary PATH`},
		{[]string{"status", "--sink-config-file", good, "--admin-url", "ftp://x"}, 1, "--admin-url"},
		{[]string{"status", "--sink-config-file", good, "--auth-plugin", "kerberos"}, 1, `--auth-plugin: "kerberos" is not supported`},
		{[]string{"status", "--sink-config-file", good, "--auth-plugin", "token", "--auth-params", "file:/nonexistent/tok"}, 1, "cannot read the token file"},
	} {
		var out, errb bytes.Buffer
		code := runDeploy(context.Background(), c.args, &out, &errb)
		last := strings.TrimSpace(errb.String())
		if i := strings.LastIndex(last, "\n"); i >= 0 {
			last = last[i+1:]
		}
		if code != c.code || !strings.Contains(last, c.want) {
			t.Errorf("%q: exit %d, last line %q; want exit %d and %q", c.args, code, last, c.code, c.want)
		}
	}

	// --dry-run shows the translated config and the notes, sending nothing.
	var out, errb bytes.Buffer
	if code := runDeploy(context.Background(), []string{"create", "--sink-config-file", dlq, "--binary", "/bin/true",
		"--dry-run", "--admin-url", "http://192.0.2.1:1"}, &out, &errb); code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"failurePolicy": "deadLetter"`) || !strings.Contains(out.String(), `"go": "true"`) ||
		!strings.Contains(errb.String(), "note: deadLetterTopic") || strings.Contains(out.String()+errb.String(), "hush-secret") {
		t.Fatalf("dry run output:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
}

// TestReadmeDeployCommand: the README's first deploy command, as written,
// gets as far as the upload with the example file: no archive to find, the
// running executable goes.
func TestReadmeDeployCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := runDeploy(context.Background(), []string{"create", "--admin-url", "http://127.0.0.1:1", "--sink-config-file",
		"../../conf/examples/kinesis-sink.yaml", "--wait", "2m", "--dry-run"}, &out, &errb)
	exe, _ := os.Executable()
	if code != 0 || !strings.Contains(out.String(), "package: "+exe+"\n") {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

// TestAdminAuthAndTLS talks to a local HTTPS server: the token reaches it
// as a bearer header (also after a redirect to another host name), the
// trust store is used, and host name verification is off unless asked for,
// as in pulsar-admin. The server only records what it receives: this tests
// our client side, which the auth-less standalone cannot.
func TestAdminAuthAndTLS(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/v3/functions/public/default/n/status", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if strings.HasPrefix(r.Host, "127.0.0.1") {
			// Like a worker forwarding to the owner: another host name.
			u := *r.URL
			u.Scheme, u.Host = "https", strings.Replace(r.Host, "127.0.0.1", "localhost", 1)
			http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
			return
		}
		io.WriteString(w, `{"numInstances":1,"numRunning":1,"instances":[{"instanceId":0,"status":{"running":true,"numReceived":7,"numSuccessfullyProcessed":7,"averageLatency":1.5,"lastInvocationTime":1700000000000,"workerId":"w1"}}]}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	// The refused handshakes below are expected; keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("tok-from-file\n"), 0o600)
	file := e2e.SinkConfigFile(t, "name: n\ninputs: [t]\n")

	run := func(extra ...string) (int, string, string) {
		var out, errb bytes.Buffer
		args := append([]string{"status", "--sink-config-file", file, "--admin-url", srv.URL}, extra...)
		code := runDeploy(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	// The httptest certificate names 127.0.0.1 and example.com, not
	// localhost: the redirect target fails only with host name checks on.
	code, out, errs := run("--tls-trust-cert-path", caFile, "--auth-plugin", deploy.AuthTokenPlugin, "--auth-params", "file:"+tokFile)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "1 of 1 instances running") || !strings.Contains(out, "2023-11-14T22:13:20Z") {
		t.Fatalf("status output:\n%s", out)
	}
	mu.Lock()
	got := append([]string(nil), seen...)
	seen = nil
	mu.Unlock()
	if len(got) != 2 || !strings.HasSuffix(got[0], " Bearer tok-from-file") || !strings.HasPrefix(got[1], "localhost:") ||
		!strings.HasSuffix(got[1], " Bearer tok-from-file") {
		t.Fatalf("requests seen: %q", got)
	}

	code, _, errs = run("--tls-trust-cert-path", caFile, "--tls-enable-hostname-verification")
	if code != 1 || !strings.Contains(errs, "certificate") {
		t.Fatalf("host name verification on: exit %d: %s", code, errs)
	}
	code, _, errs = run()
	if code != 1 || !strings.Contains(errs, "certificate") {
		t.Fatalf("no trust store: exit %d: %s", code, errs)
	}
	mu.Lock()
	seen = nil
	mu.Unlock()
	code, _, errs = run("--tls-allow-insecure", "--auth-plugin", "token", "--auth-params", "token:abc")
	if code != 0 {
		t.Fatalf("allow insecure: exit %d: %s", code, errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || !strings.HasSuffix(seen[1], " Bearer abc") {
		t.Fatalf("requests seen: %q", seen)
	}
}

func deployLines(path string) []testsink.Line {
	l, _ := testsink.ReadLines(path)
	return l
}

// deployInstancePIDs finds the instance processes the worker started for
// the function (its name is in their -instance-conf).
func deployInstancePIDs(bin, name string) []string {
	out, _ := exec.Command("pgrep", "-f", filepath.Base(bin)+" -instance-conf .*\""+name+"\"").Output()
	return strings.Fields(string(out))
}

// deployWaitReplaced waits until none of the old instance processes is left
// and n new ones run: deploy --wait cannot see the process change, and
// records published to an old instance would go to the old output.
func deployWaitReplaced(t *testing.T, env *testenv.PulsarEnv, bin, name string, old []string, n int) {
	t.Helper()
	env.WaitFor(t, 60*time.Second, func() bool {
		now := deployInstancePIDs(bin, name)
		for _, p := range now {
			if slices.Contains(old, p) {
				return false
			}
		}
		return len(now) == n
	}, "%d new instance processes replacing %v", n, old)
}

// TestDeployLifecycle deploys through the standalone's functions worker:
// create (records flow), create again (refused, naming the field), update
// with a new binary, parallelism and config (takes effect), a config-only
// update, status (counters), delete (the processes end).
func TestDeployLifecycle(t *testing.T) {
	env := testenv.Pulsar(t)
	// The file-writing test sink checks delivery through the deployed
	// function without Kinesis; its userConfig ({"path": ...}) is not this
	// sink's, hence --skip-config-check below.
	bin := e2e.TestsinkBinary(t)
	topic := env.UniqueTopic(t, "deploy")
	env.CreateTopic(t, topic)
	name := "deploy-" + topic[strings.LastIndex(topic, "-")+1:]
	dir := t.TempDir()
	out := func(i int) string { return filepath.Join(dir, fmt.Sprintf("out%d.jsonl", i)) }
	file := filepath.Join(dir, "kinesis.yaml")
	writeConf := func(parallelism, outN int) {
		t.Helper()
		y := fmt.Sprintf(`tenant: public
namespace: default
name: %s
inputs: [%s]
sourceSubscriptionPosition: Earliest
parallelism: %d
processingGuarantees: ATLEAST_ONCE
timeoutMs: 30000
configs:
  path: %s
`, name, topic, parallelism, out(outN))
		if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var o, e bytes.Buffer
		all := append(args[:1:1], append([]string{"--admin-url", env.WebURL, "--sink-config-file", file}, args[1:]...)...)
		code := runDeploy(context.Background(), all, &o, &e)
		t.Logf("deploy %s -> %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
		return code, o.String(), e.String()
	}
	status := func() (*deploy.FunctionStatus, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		code, body, err := env.AdminREST(ctx, http.MethodGet, "/admin/v3/functions/public/default/"+url.PathEscape(name)+"/status", nil)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("status: HTTP %d %v %s", code, err, body)
		}
		var st deploy.FunctionStatus
		return &st, json.Unmarshal(body, &st)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			env.AdminREST(ctx, http.MethodDelete, "/admin/v3/functions/public/default/"+url.PathEscape(name), nil)
		}
	})
	client := env.Client(t)
	produce := func(prefix string, n int) {
		t.Helper()
		p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := 0; i < n; i++ {
			if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("%s-%d", prefix, i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	payloads := func(path, prefix string) map[string]int {
		m := map[string]int{}
		for _, l := range deployLines(path) {
			if strings.HasPrefix(l.Payload, prefix+"-") {
				m[l.Payload]++
			}
		}
		return m
	}

	// create
	writeConf(1, 1)
	if code, _, errs := run("create", "--binary", bin, "--skip-config-check", "--wait", "90s"); code != 0 {
		t.Fatalf("deploy create: exit %d: %s", code, errs)
	}
	produce("one", 20)
	env.WaitFor(t, 60*time.Second, func() bool { return len(payloads(out(1), "one")) == 20 }, "20 records in %s", out(1))

	// create again: refused by the worker, reported against the name.
	if code, _, errs := run("create", "--binary", bin, "--skip-config-check"); code != 1 ||
		!strings.Contains(errs, `"name"`) || !strings.Contains(errs, "deploy update") {
		t.Fatalf("second create: exit %d: %s", code, errs)
	}

	// update with the binary: two instances, new output file.
	writeConf(2, 2)
	old := deployInstancePIDs(bin, name)
	if code, stdout, errs := run("update", "--binary", bin, "--skip-config-check", "--wait", "90s"); code != 0 ||
		!strings.Contains(stdout, "2 of 2 instances running") {
		t.Fatalf("deploy update to parallelism 2: exit %d: %s%s", code, stdout, errs)
	}
	deployWaitReplaced(t, env, bin, name, old, 2)
	st, err := status()
	if err != nil || st.NumInstances != 2 || st.NumRunning != 2 {
		t.Fatalf("after update: %+v %v", st, err)
	}
	produce("two", 20)
	env.WaitFor(t, 60*time.Second, func() bool { return len(payloads(out(2), "two")) == 20 }, "20 records in %s", out(2))
	if n := len(payloads(out(1), "two")); n != 0 {
		t.Fatalf("%d records of the second batch reached the old output", n)
	}

	// update without --binary: configuration only.
	writeConf(2, 3)
	old = deployInstancePIDs(bin, name)
	code, stdout, errs := run("update", "--skip-config-check", "--wait", "90s")
	if code != 0 || !strings.Contains(stdout, "configuration only") {
		t.Fatalf("config-only update: exit %d: %s%s", code, stdout, errs)
	}
	deployWaitReplaced(t, env, bin, name, old, 2)
	produce("three", 10)
	env.WaitFor(t, 60*time.Second, func() bool { return len(payloads(out(3), "three")) == 10 }, "10 records in %s", out(3))

	// status: readable counters, and the JSON form.
	var st3 *deploy.FunctionStatus
	env.WaitFor(t, 30*time.Second, func() bool {
		s, err := status()
		if err != nil || len(s.Instances) != 2 {
			return false
		}
		var n int64
		for _, in := range s.Instances {
			n += in.Status.NumSuccessfullyProcessed
		}
		st3 = s
		return n == 10
	}, "status to count the 10 records since the last restart")
	code, stdout, errs = run("status")
	if code != 0 || !strings.Contains(stdout, "2 of 2 instances running") || !strings.Contains(stdout, "PROCESSED") {
		t.Fatalf("deploy status: exit %d: %s%s", code, stdout, errs)
	}
	code, stdout, _ = run("status", "--json")
	var js deploy.FunctionStatus
	if code != 0 || json.Unmarshal([]byte(stdout), &js) != nil || js.NumRunning != 2 {
		t.Fatalf("deploy status --json: exit %d: %s", code, stdout)
	}
	t.Logf("status: %+v", st3)

	// delete: the function is gone and its processes end.
	pids := deployInstancePIDs(bin, name)
	if len(pids) != 2 {
		t.Fatalf("want 2 instance processes, found %v", pids)
	}
	if code, _, errs := run("delete", "--wait", "30s"); code != 0 {
		t.Fatalf("deploy delete: exit %d: %s", code, errs)
	}
	deleted = true
	env.WaitFor(t, 15*time.Second, func() bool { return len(deployInstancePIDs(bin, name)) == 0 }, "instance processes %v to end", pids)
	if code, _, errs := run("status"); code != 1 || !strings.Contains(errs, "deploy create") {
		t.Fatalf("status after delete: exit %d: %s", code, errs)
	}
}

// TestDeployKinesisSink deploys the product binary through the worker with a
// sink config file as a Java sink user writes it (validated before
// upload), and reads the records back from Kinesis.
func TestDeployKinesisSink(t *testing.T) {
	env := testenv.Pulsar(t)
	k := testenv.Kinesis(t)
	bin := e2e.KinesisSinkBinary(t)
	stream := k.UniqueStream(t, "deploy")
	k.CreateStream(t, stream, 1)
	topic := env.UniqueTopic(t, "deploy-ks")
	env.CreateTopic(t, topic)
	name := "deploy-ks-" + topic[strings.LastIndex(topic, "-")+1:]
	file := filepath.Join(t.TempDir(), "kinesis.yaml")
	y := fmt.Sprintf(`tenant: public
namespace: default
name: %s
inputs: [%s]
sourceSubscriptionPosition: Earliest
retainOrdering: true
# Under the process runtime the secretsMap value is the clear-text secret;
# the runtime resolves it for the sink.
secrets:
  awsCredentialPluginParam: '{"accessKey":"AKIDDEPLOY","secretKey":"deploy-secret"}'
configs:
  awsEndpoint: %s
  awsRegion: %s
  awsKinesisStreamName: %s
  messageFormat: ONLY_RAW_PAYLOAD
  metricsLevel: none
  retainOrdering: true
  aggregationEnabled: false
`, name, topic, k.Endpoint, k.Region, stream)
	if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var o, e bytes.Buffer
		all := append(args[:1:1], append([]string{"--admin-url", env.WebURL, "--sink-config-file", file}, args[1:]...)...)
		code := runDeploy(context.Background(), all, &o, &e)
		t.Logf("deploy %s -> %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
		return code, e.String()
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			env.AdminREST(ctx, http.MethodDelete, "/admin/v3/functions/public/default/"+url.PathEscape(name), nil)
		}
	})
	if code, errs := run("create", "--binary", bin, "--wait", "90s"); code != 0 {
		t.Fatalf("deploy create: exit %d: %s", code, errs)
	}
	client := env.Client(t)
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i := 0; i < 10; i++ {
		pl := fmt.Sprintf("deployed-%d", i)
		sent = append(sent, pl)
		if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte(pl), Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	recs := k.WaitForRecords(t, stream, len(sent), 90*time.Second)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Data))
	}
	// One key, retainOrdering: the stream holds them once each, in order.
	if strings.Join(got, ",") != strings.Join(sent, ",") {
		t.Fatalf("stream holds %q, want %q", got, sent)
	}
	if code, errs := run("delete", "--wait", "30s"); code != 0 {
		t.Fatalf("deploy delete: exit %d: %s", code, errs)
	}
	deleted = true
}
