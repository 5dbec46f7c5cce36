// Package e2e holds what the end-to-end tests share: building the binaries,
// starting an instance the way the worker does, producing to Pulsar and
// talking to the instance's InstanceControl.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testsink"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

var (
	buildMu  sync.Mutex
	builds   = map[string]string{}
	buildDir string
)

// Binary builds a main package of this module once per test process and
// returns the executable's path.
func Binary(t testing.TB, pkg string) string { return build(t, pkg, "") }

// build builds pkg once per test process; a version other than "" is
// stamped into internal/version.Version, as a release's build stamps it.
func build(t testing.TB, pkg, version string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "@" + version
	if p, ok := builds[key]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "ks-e2e-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	args := []string{"build"}
	if version != "" {
		out += "-" + version
		args = append(args, "-ldflags", "-X github.com/pulsar-kinesis/kinesis-sink/internal/version.Version="+version)
	}
	args = append(args, "-o", out)
	cmd := exec.Command("go", append(args, "github.com/pulsar-kinesis/kinesis-sink/"+pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	builds[key] = out
	return out
}

// TestsinkBinary is the runtime with the file-writing test sink.
func TestsinkBinary(t testing.TB) string { return Binary(t, "internal/testsink/cmd/testsink") }

// KinesisSinkBinary is the product binary.
func KinesisSinkBinary(t testing.TB) string { return Binary(t, "cmd/kinesis-sink") }

// KinesisSinkVersion is the product binary stamped with version, as a
// release of that version would be.
func KinesisSinkVersion(t testing.TB, version string) string {
	return build(t, "cmd/kinesis-sink", version)
}

func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// instance is a running binary started by a test.
type Instance struct {
	Cmd    *exec.Cmd
	stderr *LockedBuffer
	Done   chan struct{}
	Err    error
}

func Start(t testing.TB, bin string, args []string, env []string) *Instance {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr := &LockedBuffer{}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.Env = append(append(os.Environ(), "KINESIS_SINK_GRPC_BIND=127.0.0.1", "KINESIS_SINK_METRICS_BIND=127.0.0.1"), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &Instance{Cmd: cmd, stderr: stderr, Done: make(chan struct{})}
	go func() { in.Err = cmd.Wait(); close(in.Done) }()
	t.Cleanup(func() {
		select {
		case <-in.Done:
		default:
			_ = cmd.Process.Kill()
			<-in.Done
		}
		if t.Failed() {
			t.Logf("instance output:\n%s", Tail(stderr.String(), 4000))
		}
	})
	return in
}

// Output is what the process wrote to stdout and stderr so far.
func (in *Instance) Output() string { return in.stderr.String() }

// LockedBuffer is a buffer a test may read while a process writes to it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (in *Instance) Running() bool {
	select {
	case <-in.Done:
		return false
	default:
		return true
	}
}

func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func StatusClient(t testing.TB, port int) pb.InstanceControlClient {
	t.Helper()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewInstanceControlClient(conn)
}

func FunctionStatus(t testing.TB, c pb.InstanceControlClient) *pb.FunctionStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.GetFunctionStatus(ctx, &emptypb.Empty{})
	if err != nil {
		return nil
	}
	return st
}

func Produce(t testing.TB, client pulsar.Client, topic string, n int, payload func(i int) string) []string {
	t.Helper()
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var (
		mu   sync.Mutex
		errs []error
		sent []string
	)
	for i := 0; i < n; i++ {
		pl := payload(i)
		sent = append(sent, pl)
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: []byte(pl), Key: fmt.Sprintf("k%d", i%17)},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("%d sends failed, first: %v", len(errs), errs[0])
	}
	return sent
}

// HasSubscription reports whether topic has the subscription yet.
func HasSubscription(t testing.TB, env *testenv.PulsarEnv, topic, sub string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := "/admin/v2/" + strings.Replace(topic, "://", "/", 1) + "/subscriptions"
	code, body, err := env.AdminREST(ctx, "GET", path, nil)
	if err != nil || code != 200 {
		return false
	}
	var subs []string
	_ = json.Unmarshal(body, &subs)
	for _, s := range subs {
		if s == sub {
			return true
		}
	}
	return false
}

func NewClient(t testing.TB, env *testenv.PulsarEnv) pulsar.Client {
	t.Helper()
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: env.ServiceURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// WorkerConf builds an instance conf the way the 4.0 worker does: flat
// keys plus the functionDetails protobuf JSON.
func WorkerConf(env *testenv.PulsarEnv, name string, port, metricsPort int, topics []string, userConfig map[string]any, source map[string]any) string {
	uc, _ := json.Marshal(userConfig)
	inputSpecs := map[string]any{}
	flatSpecs := map[string]string{}
	for _, tp := range topics {
		inputSpecs[tp] = map[string]any{}
		flatSpecs[tp] = "{}"
	}
	src := map[string]any{"inputSpecs": inputSpecs, "subscriptionPosition": "EARLIEST"}
	for k, v := range source {
		src[k] = v
	}
	details, _ := json.Marshal(map[string]any{
		"tenant": "public", "namespace": "default", "name": name,
		"runtime": "GO", "autoAck": true, "parallelism": 1,
		"source":     src,
		"sink":       map[string]any{},
		"userConfig": string(uc),
		"logLevel":   "INFO", // unknown to our proto: must be ignored
	})
	conf := map[string]any{
		"functionDetails":               string(details),
		"pulsarServiceURL":              env.ServiceURL,
		"port":                          port,
		"metricsPort":                   metricsPort,
		"tenant":                        "public",
		"nameSpace":                     "default",
		"name":                          name,
		"funcID":                        "fid-" + name,
		"funcVersion":                   "0",
		"clusterName":                   "standalone",
		"logTopic":                      "",
		"processingGuarantees":          0,
		"runtime":                       3,
		"secretsMap":                    "",
		"userConfig":                    string(uc),
		"autoAck":                       true,
		"subscriptionName":              "",
		"subscriptionPosition":          1,
		"sourceInputSpecs":              flatSpecs,
		"sourceSpecsTopic":              topics[len(topics)-1],
		"sinkSpecsTopic":                "",
		"deadLetterTopic":               "",
		"tlsAllowInsecureConnection":    false,
		"tlsHostnameVerificationEnable": false,
	}
	b, _ := json.Marshal(conf)
	return string(b)
}

func WaitLines(t testing.TB, path string, n int, timeout time.Duration, in *Instance) []testsink.Line {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lines []testsink.Line
	for time.Now().Before(deadline) {
		lines, _ = testsink.ReadLines(path)
		if len(lines) >= n {
			return lines
		}
		if in != nil && !in.Running() {
			t.Fatalf("instance exited early: %v", in.Err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("got %d of %d records in %s after %s", len(lines), n, path, timeout)
	return nil
}

// SinkConfigFile writes content as a sink config file (the file `sinks
// create --sink-config-file` and `kinesis-sink deploy` read) into a
// temporary directory and returns its path.
func SinkConfigFile(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sink.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// NAR builds the kinesis-go NAR (scripts/build-nar.sh, for this machine's
// architecture only) once per test process and returns its path. It needs
// Maven; KINESIS_SINK_NAR names a NAR already built instead.
func NAR(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KINESIS_SINK_NAR"); p != "" {
		return p
	}
	return NARVersion(t, "0.0.0-e2e")
}

// NARVersion is the kinesis-go NAR of this checkout stamped with version,
// as a release of that version would be, built once per test process.
func NARVersion(t testing.TB, version string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := "nar@" + version
	if p, ok := builds[key]; ok {
		return p
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	dir, err := os.MkdirTemp("", "ks-e2e-nar-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pulsar-io-kinesis-go.nar")
	cmd := exec.Command(filepath.Join(filepath.Dir(strings.TrimSpace(string(root))), "scripts", "build-nar.sh"), out)
	cmd.Env = append(os.Environ(), "ARCHES="+goruntime.GOARCH, "VERSION="+version)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-nar.sh: %v\n%s", err, b)
	}
	builds[key] = out
	return out
}
