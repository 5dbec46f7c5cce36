package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// target is one consumer of the backlog: the ceiling, our sink or the Java
// sink. start launches it on a topic whose subscription "bench" holds the
// backlog and returns the root pid of what to measure.
type target interface {
	start(ph *phase) (pid int, err error)
	// alive reports whether the measured process still runs.
	alive() bool
	stop()
	// diag explains a phase that did not complete: the real error, from the
	// process's own log.
	diag() string
}

// sinkConfig is the configuration both sinks get, the same keys and values
// (a Java sink config works unchanged with ours): the benchmark endpoint
// over HTTPS with certificate checks off, static keys, CloudWatch metrics
// off through extraKinesisProducerConfig as a Java user has to, and
// rateLimit lifted (-rate-limit): the KPL's per-shard limiter (150% of 1 MiB/s
// and 1,000 records/s per shard by default) would otherwise cap the Java sink
// at 6 MB/s on the benchmark's 4-shard streams and expire what waits longer
// than recordTtl, which measures the stream's size rather than the software.
func sinkConfig(b *bench, ph *phase) map[string]any {
	port := b.nullEP.port()
	switch ph.endpoint {
	case "kinesalite":
		port = b.kinEP.port()
	case "limit":
		port = b.limEP.port()
	}
	cfg := map[string]any{
		"awsRegion":                  "us-east-1",
		"awsEndpoint":                "127.0.0.1",
		"awsEndpointPort":            port,
		"awsStsEndpoint":             "127.0.0.1",
		"awsStsPort":                 port,
		"cloudwatchEndpoint":         "127.0.0.1",
		"awsKinesisStreamName":       ph.stream,
		"awsCredentialPluginParam":   `{"accessKey":"bench","secretKey":"bench"}`,
		"skipCertificateValidation":  true,
		"aggregationEnabled":         ph.agg,
		"rateLimit":                  b.rateLimit,
		"extraKinesisProducerConfig": map[string]string{"metricsLevel": "none"},
	}
	if ph.endpoint == "limit" {
		// At the shards' limits each sink runs its own rate limiter at its
		// default setting: that limiter is what these rows measure.
		delete(cfg, "rateLimit")
	}
	return cfg
}

// ---- ceiling ----

type ceilingTarget struct {
	b   *bench
	cmd *exec.Cmd
	log string
}

func (t *ceilingTarget) start(ph *phase) (int, error) {
	t.log = filepath.Join(t.b.logDir, ph.slug+".log")
	f, err := os.Create(t.log)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	t.cmd = exec.Command(self, "-ceiling-child", "-ceiling-config", ph.ceiling, "-service-url", t.b.serviceURL, "-topic", ph.topic,
		"-report", fmt.Sprintf("https://127.0.0.1:%d/ceiling", t.b.nullEP.port()))
	t.cmd.Stdout, t.cmd.Stderr = f, f
	if err := t.cmd.Start(); err != nil {
		return 0, err
	}
	go func() { _ = t.cmd.Wait() }()
	return t.cmd.Process.Pid, nil
}

func (t *ceilingTarget) alive() bool { return processAlive(t.cmd) }
func (t *ceilingTarget) stop()       { stopCmd(t.cmd) }
func (t *ceilingTarget) diag() string {
	return "consume-only child: " + tailFile(t.log, 15)
}

// ---- our sink ----

// goTarget runs bin/kinesis-sink localrun: the real runtime (consumers,
// async acks, backpressure) and sink, as one process.
type goTarget struct {
	b   *bench
	cmd *exec.Cmd
	log string
}

func (t *goTarget) start(ph *phase) (int, error) {
	t.log = filepath.Join(t.b.logDir, ph.slug+".log")
	f, err := os.Create(t.log)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cfgFile := filepath.Join(t.b.logDir, ph.slug+".json")
	cfg, _ := json.MarshalIndent(map[string]any{"configs": sinkConfig(t.b, ph)}, "", "  ")
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		return 0, err
	}
	t.cmd = exec.Command(t.b.sinkBin, "localrun", "--service-url", t.b.serviceURL,
		"--inputs", "persistent://public/default/"+ph.topic, "--subscription", "bench",
		"--name", ph.slug, "--sink-config-file", cfgFile)
	t.cmd.Stdout, t.cmd.Stderr = f, f
	t.cmd.Env = os.Environ()
	if t.b.profileDir != "" {
		// The sink writes CPU and heap profiles on exit when these are set
		// (see cmd/kinesis-sink); go tool pprof reads them.
		t.cmd.Env = append(t.cmd.Env,
			"KINESIS_SINK_CPUPROFILE="+filepath.Join(t.b.profileDir, ph.slug+".cpu.pprof"),
			"KINESIS_SINK_MEMPROFILE="+filepath.Join(t.b.profileDir, ph.slug+".allocs.pprof"))
	}
	if err := t.cmd.Start(); err != nil {
		return 0, err
	}
	go func() { _ = t.cmd.Wait() }()
	return t.cmd.Process.Pid, nil
}

func (t *goTarget) alive() bool { return processAlive(t.cmd) }
func (t *goTarget) stop()       { stopCmd(t.cmd) }
func (t *goTarget) diag() string {
	return "bin/kinesis-sink localrun log: " + tailFile(t.log, 15)
}

// ---- the Java sink ----

// javaTarget deploys a NAR through the functions worker: Pulsar's Java
// Kinesis sink (process runtime: one JVM per instance, plus the KPL's
// native child process), or our kinesis-go NAR (the JVM, plus our sink as
// its child).
type javaTarget struct {
	b       *bench
	archive string // the NAR: Apache Pulsar's, or our kinesis-go one
	name    string
	pid     int
	err     string
}

func (t *javaTarget) admin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(t.b.pulsarHome, "bin", "pulsar-admin"), args...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (t *javaTarget) start(ph *phase) (int, error) {
	t.name, t.pid, t.err = ph.slug, 0, ""
	if t.archive == "" {
		return 0, errors.New("no NAR")
	}
	cfg, _ := json.Marshal(sinkConfig(t.b, ph))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := t.admin(ctx, "sinks", "create", "--archive", t.archive, "--tenant", "public", "--namespace", "default",
		"--name", t.name, "--inputs", "persistent://public/default/"+ph.topic, "--subs-name", "bench",
		"--sink-config", string(cfg))
	if err != nil {
		return 0, fmt.Errorf("pulsar-admin sinks create: %v: %s", err, out)
	}
	// The worker starts the instance JVM shortly after; its command line
	// carries the sink's name and the instance main class.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if pid := findProcess(t.name, "JavaInstanceMain"); pid != 0 {
			t.pid = pid
			return pid, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("the worker started no instance process for %s within 2 minutes; %s", t.name, t.status())
}

func (t *javaTarget) status() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := t.admin(ctx, "sinks", "status", "--tenant", "public", "--namespace", "default", "--name", t.name)
	return "sinks status: " + strings.Join(strings.Fields(out), " ")
}

func (t *javaTarget) alive() bool {
	return t.pid != 0 && syscall.Kill(t.pid, 0) == nil
}

func (t *javaTarget) stop() {
	if t.name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := t.admin(ctx, "sinks", "delete", "--tenant", "public", "--namespace", "default", "--name", t.name); err != nil {
		fmt.Fprintf(os.Stderr, "bench: sinks delete %s: %v: %s\n", t.name, err, out)
	}
	// The worker stops the JVM; wait for it so that the next phase has the
	// machine to itself.
	for i := 0; i < 150 && t.alive(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

func (t *javaTarget) diag() string {
	var logs []string
	for _, dir := range []string{t.b.pulsarHome, os.Getenv("KS_STATE_DIR")} {
		if dir == "" {
			continue
		}
		m, _ := filepath.Glob(filepath.Join(dir, "logs", "functions", "public", "default", t.name, "*.log"))
		if len(m) == 0 {
			m, _ = filepath.Glob(filepath.Join(dir, "*", "logs", "functions", "public", "default", t.name, "*.log"))
		}
		logs = append(logs, m...)
	}
	s := t.status()
	for _, l := range logs {
		s += "\n  instance log " + l + ":\n" + errorLines(l, 25)
	}
	if len(logs) == 0 {
		s += " (no instance log found)"
	}
	return s
}

// ---- helpers ----

func processAlive(cmd *exec.Cmd) bool {
	return cmd != nil && cmd.Process != nil && syscall.Kill(cmd.Process.Pid, 0) == nil && cmd.ProcessState == nil
}

// stopCmd sends SIGTERM (the sink flushes and exits) and SIGKILL after 15 s.
func stopCmd(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 150; i++ {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// errorLines picks the lines of a Java log that say what went wrong
// (ERROR/WARN/Exception/Caused by), the last n of them.
func errorLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    " + err.Error()
	}
	var pick []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "WARN") || strings.Contains(l, "Exception") ||
			strings.Contains(l, "Caused by") || strings.Contains(l, "[error]") || strings.Contains(l, "[warning]") {
			if len(l) > 400 {
				l = l[:400] + "..."
			}
			pick = append(pick, l)
		}
	}
	if len(pick) == 0 {
		return tailFile(path, n)
	}
	if len(pick) > n {
		pick = pick[len(pick)-n:]
	}
	return "    " + strings.Join(pick, "\n    ")
}
