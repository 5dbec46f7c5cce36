package sink_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// startTLSKinesalite runs a kinesalite that serves HTTPS with its own
// self-signed certificate, as the LocalStack-style endpoint a Java sink
// config points at (the KPL only speaks HTTPS, hence
// skipCertificateValidation in such configs). It uses the kinesalite that
// scripts/local-env.sh installed.
func startTLSKinesalite(t *testing.T) (port int) {
	t.Helper()
	modules, _ := filepath.Abs("../.cache/kinesalite/node_modules")
	if d := os.Getenv("KS_CACHE_DIR"); d != "" {
		modules = filepath.Join(d, "kinesalite", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(modules, "kinesalite")); err != nil {
		if testenv.RequireServices() {
			t.Fatalf("kinesalite is not installed at %s (scripts/local-env.sh up installs it)", modules)
		}
		t.Skip("kinesalite not installed")
	}
	port = e2e.FreePort(t)
	js := fmt.Sprintf(`require('kinesalite')({ssl:true,createStreamMs:50,deleteStreamMs:50,shardLimit:100}).listen(%d,'127.0.0.1',function(){console.log('ready')})`, port)
	cmd := exec.Command("node", "-e", js)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("TLS kinesalite did not start")
	}
	return port
}

// TestJavaSinkConfigFileWorksUnchanged runs `kinesis-sink localrun` with the
// sink config file written for the Java sink (conf/examples), changing only
// the port of its local endpoint and the topic/stream names: the https
// endpoint split into host and port, skipCertificateValidation, string-typed
// numbers and booleans, the KPL pass-through map and nativeExecutable.
func TestJavaSinkConfigFileWorksUnchanged(t *testing.T) {
	env := testenv.Pulsar(t)
	port := startTLSKinesalite(t)

	// A Kinesis client for the test itself, trusting the self-signed cert.
	kc := kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(fmt.Sprintf("https://127.0.0.1:%d", port)),
		Credentials: aws.AnonymousCredentials{},
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
	})
	kc = kinesis.New(kc.Options(), func(o *kinesis.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})
	})
	stream := fmt.Sprintf("events-%d", time.Now().UnixNano()%1e9)
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if err := kinesis.NewStreamExistsWaiter(kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &stream}, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	topic := env.UniqueTopic(t, "java-conf")
	src, err := os.ReadFile("../conf/examples/java-sink-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for old, new := range map[string]string{
		"4566":                               fmt.Sprint(port),
		"localhost":                          "127.0.0.1",
		"awsKinesisStreamName: events":       "awsKinesisStreamName: " + stream,
		"persistent://public/default/events": topic,
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("example no longer contains %q", old)
		}
		text = strings.ReplaceAll(text, old, new)
	}
	file := filepath.Join(t.TempDir(), "kinesis.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	client := e2e.NewClient(t, env)
	sent := e2e.Produce(t, client, topic, 20, func(i int) string { return fmt.Sprintf("java-%d", i) })
	bin := e2e.KinesisSinkBinary(t)
	// sourceSubscriptionPosition is not in the Java file; the records were
	// produced first, so start from the earliest.
	in := e2e.Start(t, bin, []string{"localrun", "--service-url", env.ServiceURL, "--sink-config-file", file,
		"--subscription-position", "Earliest"}, nil)

	got := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < len(sent) && time.Now().Before(deadline) {
		if !in.Running() {
			t.Fatalf("localrun exited: %v", in.Err)
		}
		got = readJSONPayloads(t, kc, stream)
		time.Sleep(300 * time.Millisecond)
	}
	for _, s := range sent {
		if !got[s] {
			t.Fatalf("record %q missing from Kinesis (got %d of %d)", s, len(got), len(sent))
		}
	}
	_ = in.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.Done:
	case <-time.After(10 * time.Second):
		t.Fatal("localrun did not stop within 10 s of SIGTERM")
	}
	out := in.Output()
	for _, w := range []string{"nativeExecutable", "skipCertificateValidation"} {
		if !strings.Contains(out, w) {
			t.Errorf("expected a warning mentioning %s in the output", w)
		}
	}
	if strings.Contains(out, `"secretKey":"test"`) {
		t.Error("the credential param leaked into the output")
	}
}

// readJSONPayloads reads the stream and decodes the FULL_MESSAGE_IN_JSON
// records the example config asks for.
func readJSONPayloads(t *testing.T, kc *kinesis.Client, stream string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	out := map[string]bool{}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return out
	}
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
			ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			return out
		}
		recs, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			return out
		}
		for _, r := range recs.Records {
			var m struct {
				PayloadBase64 []byte `json:"payloadBase64"`
			}
			if err := json.Unmarshal(r.Data, &m); err != nil {
				t.Fatalf("record is not FULL_MESSAGE_IN_JSON: %q", r.Data)
			}
			out[string(m.PayloadBase64)] = true
		}
	}
	return out
}
