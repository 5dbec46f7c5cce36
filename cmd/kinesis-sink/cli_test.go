package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// runBinary runs the product binary to its end (at most limit) and returns
// its exit code, stdout and stderr.
func runBinary(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	bin := e2e.KinesisSinkBinary(t) // built before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "KINESIS_SINK_GRPC_BIND=127.0.0.1", "KINESIS_SINK_METRICS_BIND=127.0.0.1")
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%q still running after %s: %s%s", args, limit, stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// TestCLIThroughBinary: help goes to stdout with exit 0, a usage error is one
// line on stderr with exit 2, and the forms users and the worker already
// type (one dash) still parse.
func TestCLIThroughBinary(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	for _, c := range []struct {
		args       []string
		code       int
		stdout     []string // each must appear
		stderrLine string   // the whole of stderr, one line; "" means empty
	}{
		{[]string{"--help"}, 0, []string{"Available Commands:", "\n  deploy ", "\n  localrun ", "\n  sidecar ", "\n  version ", "\n  completion ", "--instance-conf string", "Examples:"}, ""},
		{[]string{"-help"}, 0, []string{"Available Commands:"}, ""},
		{[]string{"-h"}, 0, []string{"Available Commands:"}, ""},
		{[]string{"help", "deploy"}, 0, []string{"kinesis-sink deploy create|update|delete|status [flags]", "\n  create ", "\n  status ", "--sink-config-file string", "Examples:"}, ""},
		{[]string{"deploy", "--help"}, 0, []string{"kinesis-sink deploy create|update|delete|status [flags]"}, ""},
		{[]string{"deploy", "create", "-h"}, 0, []string{"--wait duration", "--binary string", "--admin-url string", "Examples:"}, ""},
		{[]string{"help", "deploy", "create"}, 0, []string{"--wait duration"}, ""},
		{[]string{"localrun", "-h"}, 0, []string{"--service-url string", "Examples:"}, ""},
		{[]string{"help", "localrun"}, 0, []string{"--service-url string"}, ""},
		{[]string{"sidecar", "--help"}, 0, []string{"--metrics-addr string"}, ""},
		{[]string{"deplyo"}, 2, nil, `kinesis-sink: unknown command "deplyo"; did you mean "deploy"?`},
		{[]string{"help", "deplyo"}, 2, nil, `kinesis-sink help: unknown command "deplyo"; did you mean "deploy"?`},
		{[]string{"launch"}, 2, nil, `kinesis-sink: unknown command "launch"; the commands are completion, deploy, localrun, sidecar, version (see 'kinesis-sink --help')`},
		{[]string{"deploy", "creat"}, 2, nil, `kinesis-sink deploy: unknown action "creat"; did you mean "create"?`},
		{[]string{"deploy", "create", "--sink-config-file", missing, "--wait", "2"}, 2, nil,
			`kinesis-sink deploy create: invalid argument "2" for "--wait": time: missing unit in duration "2" (use e.g. 2m or 90s)`},
		{[]string{"deploy", "create", "--sink-confg-file", missing}, 2, nil, `kinesis-sink deploy create: unknown flag --sink-confg-file; did you mean --sink-config-file?`},
		{[]string{"deploy", "status", "--wait", "1m"}, 2, nil, `kinesis-sink deploy status: unknown flag --wait (see 'kinesis-sink deploy status --help')`},
		{[]string{"localrun", "--parallelism"}, 2, nil, `kinesis-sink localrun: flag needs an argument: --parallelism`},
		{[]string{"localrun", "--sink-config-file", missing, "extra"}, 2, nil, `kinesis-sink localrun: unexpected argument "extra"`},
		{[]string{"completion"}, 2, nil, `kinesis-sink completion: a shell is required: bash, fish, powershell, zsh`},
		{[]string{"completion", "bsh"}, 2, nil, `kinesis-sink completion: unknown command "bsh"; did you mean "bash"?`},
		{[]string{"completion", "bash"}, 0, []string{"# bash completion V2 for kinesis-sink"}, ""},
		{[]string{"completion", "zsh"}, 0, []string{"#compdef kinesis-sink"}, ""},
		{[]string{"completion", "fish"}, 0, []string{"complete -c kinesis-sink"}, ""},
		// What the shell asks when completing: commands, then fixed values.
		{[]string{"__complete", "dep"}, 0, []string{"deploy\t"}, "Completion ended with directive: ShellCompDirectiveNoFileComp"},
		{[]string{"__complete", "localrun", "--subscription-type", ""}, 0, []string{"Shared\n", "Failover\n", "Key_Shared\n"},
			"Completion ended with directive: ShellCompDirectiveNoFileComp"},
		// One dash, as Go's flag package took it: the same run as with two.
		{[]string{"localrun", "-sink-config-file", missing, "-service-url", "pulsar://127.0.0.1:1"}, 1, nil,
			`kinesis-sink localrun: sink config file "` + missing + `": open ` + missing + `: no such file or directory`},
		{[]string{"localrun", "-sink-config-file=" + missing}, 1, nil,
			`kinesis-sink localrun: sink config file "` + missing + `": open ` + missing + `: no such file or directory`},
		{[]string{"localrun", "--sink-config-file", missing, "--parallelism", "-1"}, 1, nil,
			`kinesis-sink localrun: sink config file "` + missing + `": open ` + missing + `: no such file or directory`},
		// The worker's flags, one dash, reach the instance config reader.
		{[]string{"-instance-conf", `{`}, 1, nil, `kinesis-sink: instance conf: invalid JSON in -instance-conf: unexpected end of JSON input`},
		{[]string{"-instance-conf-path", missing}, 1, nil, `kinesis-sink: instance conf: -instance-conf-path "` + missing + `": file not found and no -instance-conf given`},
		{[]string{"-instance-conf", `{}`, "extra"}, 2, nil, `kinesis-sink: unexpected argument "extra"`},
	} {
		code, stdout, stderr := runBinary(t, 10*time.Second, c.args...)
		want := ""
		if c.stderrLine != "" {
			want = c.stderrLine + "\n"
		}
		if code != c.code || stderr != want {
			t.Errorf("%q: exit %d, stderr %q; want exit %d, stderr %q", c.args, code, stderr, c.code, want)
		}
		for _, w := range c.stdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("%q: stdout lacks %q:\n%s", c.args, w, stdout)
			}
		}
		if c.stdout == nil && stdout != "" {
			t.Errorf("%q: stdout %q, want none", c.args, stdout)
		}
	}

	// Without a command: the help, on stderr since nobody asked for it.
	code, stdout, stderr := runBinary(t, 10*time.Second)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "Available Commands:") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// The NAR's Java sink starts "sidecar -metrics-addr ADDR" with one dash;
	// with stdin at its end (no Java side) it stops as after a dead parent.
	code, _, stderr = runBinary(t, 10*time.Second, "sidecar", "-metrics-addr", "127.0.0.1:0")
	if code != 3 || !strings.Contains(stderr, "closed the pipe without CLOSE") {
		t.Errorf("sidecar -metrics-addr: exit %d: %s", code, stderr)
	}

	// version: the same line three ways, with the toolchain's build info
	// when the build was not stamped (e2e builds are not).
	var lines []string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, stdout, stderr := runBinary(t, 10*time.Second, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		lines = append(lines, stdout)
	}
	re := regexp.MustCompile(`^kinesis-sink \S+ \(commit \S+, go1\.[0-9.]+\S*, [a-z0-9]+/[a-z0-9]+\)\n$`)
	if lines[0] != lines[1] || lines[0] != lines[2] || !re.MatchString(lines[0]) {
		t.Errorf("version lines: %q", lines)
	}
}

// TestEveryCommandHasExamples walks the command tree.
func TestEveryCommandHasExamples(t *testing.T) {
	c := &cli{ctx: context.Background(), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	var walk func(*cobra.Command)
	n := 0
	walk = func(cmd *cobra.Command) {
		if cmd.IsAvailableCommand() || !cmd.HasParent() || cmd.Name() == "help" {
			n++
			if strings.TrimSpace(cmd.Example) == "" {
				t.Errorf("%q has no examples", cmd.CommandPath())
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(c.rootCmd())
	if n < 14 {
		t.Errorf("only %d commands", n)
	}
}

// TestDoubleDash: what is rewritten and what is left to the flag parser.
func TestDoubleDash(t *testing.T) {
	root := (&cli{ctx: context.Background()}).rootCmd()
	for _, c := range []struct{ in, want string }{
		{"-instance-conf {\"a\":1}", "--instance-conf {\"a\":1}"},
		{"-instance-conf -x", "--instance-conf -x"}, // a value is never touched
		{"localrun -parallelism -1 -dry-run", "localrun --parallelism -1 --dry-run"},
		{"localrun -sink-config-file=f.yaml -h", "localrun --sink-config-file=f.yaml -h"},
		{"sidecar -metrics-addr 127.0.0.1:9464", "sidecar --metrics-addr 127.0.0.1:9464"},
		{"localrun -- -x", "localrun -- -x"},
		{"deploy create -wait 2m -binary -odd", "deploy create --wait 2m --binary -odd"},
		{"localrun -nosuch 1", "localrun --nosuch 1"},
	} {
		if got := strings.Join(doubleDash(root, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s -> %s, want %s", c.in, got, c.want)
		}
	}
	// A flag name that takes a value in one command and not in another
	// could not be rewritten safely.
	kinds := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			v := f.NoOptDefVal == ""
			if k, ok := kinds[f.Name]; ok && k != v {
				t.Errorf("flag --%s takes a value in one command and not in another", f.Name)
			}
			kinds[f.Name] = v
		})
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// testSinkFile is a sink config file for a Kinesis endpoint nobody listens
// on either: the sink logs the stream as unusable at open and goes on, so
// these tests need no local services.
func testSinkFile(t *testing.T) string {
	return e2e.SinkConfigFile(t, fmt.Sprintf("name: cli-probe\ninputs: [persistent://public/default/cli-probe]\nconfigs:\n"+
		"  awsEndpoint: http://127.0.0.1:%d\n  awsRegion: us-east-1\n  awsKinesisStreamName: cli-probe\n  metricsLevel: none\n"+
		"  awsCredentialPluginParam: '{\"accessKey\":\"AK\",\"secretKey\":\"SK\"}'\n", e2e.FreePort(t)))
}

// workerConf is an instance conf as the worker passes it, for the broker at
// serviceURL (and a Kinesis endpoint nobody listens on).
func workerConf(t *testing.T, serviceURL string) string {
	uc, _ := json.Marshal(map[string]any{"awsEndpoint": fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t)), "awsRegion": "us-east-1",
		"awsKinesisStreamName": "cli-probe", "metricsLevel": "none", "awsCredentialPluginParam": `{"accessKey":"AK","secretKey":"SK"}`})
	b, _ := json.Marshal(map[string]any{"pulsarServiceURL": serviceURL, "port": e2e.FreePort(t), "metricsPort": e2e.FreePort(t),
		"tenant": "public", "nameSpace": "default", "name": "cli-probe", "sourceSpecsTopic": "persistent://public/default/cli-probe",
		"userConfig": string(uc), "autoAck": true, "runtime": 3})
	return string(b)
}

// TestServiceURLWithoutScheme: refused at once, in one line naming what the
// user gave (the flag, or the instance conf's key) and the URL to use.
func TestServiceURLWithoutScheme(t *testing.T) {
	file := testSinkFile(t)
	e2e.KinesisSinkBinary(t) // built before the first run is timed
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"localrun", "--service-url", "localhost:6650", "--sink-config-file", file},
			`kinesis-sink localrun: --service-url: "localhost:6650" has no scheme; use pulsar://localhost:6650 (or pulsar+ssl://localhost:6650 for TLS)`},
		{[]string{"localrun", "--service-url", "localhost:6650", "--sink-config-file", file, "--dry-run"},
			`kinesis-sink localrun: --service-url: "localhost:6650" has no scheme; use pulsar://localhost:6650 (or pulsar+ssl://localhost:6650 for TLS)`},
		{[]string{"localrun", "--service-url", "tcp://broker:6650", "--sink-config-file", file},
			`kinesis-sink localrun: --service-url: must use scheme pulsar, pulsar+ssl, http or https, got "tcp://broker:6650"`},
		{[]string{"-instance-conf", workerConf(t, "broker-1.example:6650")},
			`kinesis-sink: instance conf: "pulsarServiceURL": "broker-1.example:6650" has no scheme; use pulsar://broker-1.example:6650 (or pulsar+ssl://broker-1.example:6650 for TLS)`},
	} {
		start := time.Now()
		code, stdout, stderr := runBinary(t, 10*time.Second, c.args...)
		if code != 1 || stdout != "" || stderr != c.want+"\n" || time.Since(start) > 2*time.Second {
			t.Errorf("%q: exit %d after %s, stdout %q, stderr %q; want exit 1 at once and %q", c.args[:3], code, time.Since(start), stdout, stderr, c.want)
		}
	}
}

// startBinary starts the product binary; its stderr goes to the returned
// buffer.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, *e2e.LockedBuffer) {
	t.Helper()
	cmd := exec.Command(e2e.KinesisSinkBinary(t), args...)
	stderr := &e2e.LockedBuffer{}
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), "KINESIS_SINK_GRPC_BIND=127.0.0.1", "KINESIS_SINK_METRICS_BIND=127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, stderr
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

// TestSignalDuringStartup: SIGINT or SIGTERM while the broker cannot be
// reached (a closed local port) ends the process within 2 s, with a last
// line saying so, for localrun and for the worker's launch.
func TestSignalDuringStartup(t *testing.T) {
	file := testSinkFile(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, form := range []string{"localrun", "instance"} {
			t.Run(fmt.Sprintf("%s/%s", form, sig), func(t *testing.T) {
				t.Parallel()
				broker := fmt.Sprintf("pulsar://127.0.0.1:%d", e2e.FreePort(t))
				args := []string{"localrun", "--service-url", broker, "--sink-config-file", file}
				if form == "instance" {
					args = []string{"-instance-conf", workerConf(t, broker)}
				}
				cmd, stderr := startBinary(t, args...)
				// Into the broker connection's retries: the signal must meet
				// the start-up, not a process that has not set its handler.
				deadline := time.Now().Add(30 * time.Second)
				for !strings.Contains(stderr.String(), "Failed to connect to broker") {
					if time.Now().After(deadline) {
						t.Fatalf("no broker connection attempt within 30 s; stderr:\n%s", stderr.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				sent := time.Now()
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				err := cmd.Wait()
				took := time.Since(sent)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || took > 2*time.Second {
					t.Fatalf("exit %v %s after the signal; want 1 within 2 s:\n%s", err, took, stderr.String())
				}
				name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]
				want := regexp.MustCompile(`^kinesis-sink: stopped by ` + name + ` during start-up \([0-9.]+m?s in, not yet subscribed at ` + regexp.QuoteMeta(broker) + `\)$`)
				if l := lastLine(stderr.String()); !want.MatchString(l) || strings.Contains(stderr.String(), "shutdown took too long") {
					t.Fatalf("last line %q; stderr:\n%s", l, stderr.String())
				}
				t.Logf("exited %s after %s", took.Round(time.Millisecond), name)
			})
		}
	}
}

// TestUnreachableBroker: a broker nobody listens on (a closed local port)
// ends start-up after the client's operation timeout with one last line that
// names the address, how long it tried and why.
func TestUnreachableBroker(t *testing.T) {
	file := testSinkFile(t)
	for _, form := range []string{"localrun", "instance"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			broker := fmt.Sprintf("pulsar://127.0.0.1:%d", e2e.FreePort(t))
			args := []string{"localrun", "--service-url", broker, "--sink-config-file", file}
			if form == "instance" {
				args = []string{"-instance-conf", workerConf(t, broker)}
			}
			code, stdout, stderr := runBinary(t, 60*time.Second, args...)
			want := regexp.MustCompile(`^kinesis-sink: broker ` + regexp.QuoteMeta(broker) + ` unreachable: no connection after [0-9.]+s ` +
				`\(dial tcp 127\.0\.0\.1:[0-9]+: connect: connection refused\); check the service URL and that the broker runs$`)
			if code != 1 || stdout != "" || !want.MatchString(lastLine(stderr)) {
				t.Fatalf("exit %d, last line %q; stderr:\n%s", code, lastLine(stderr), stderr)
			}
			t.Logf("%s", lastLine(stderr))
		})
	}
}

// TestInstanceStopsWithItsWorker: an instance the worker started stops, as on
// SIGTERM, once its parent is gone (a worker JVM SIGKILLed left its Go
// instances consuming beside the ones its successor started, and nothing
// could stop them). The parent here is a shell that starts the binary as
// the worker does and is then SIGKILLed.
func TestInstanceStopsWithItsWorker(t *testing.T) {
	pulsarEnv := testenv.Pulsar(t)
	conf := workerConf(t, pulsarEnv.ServiceURL)
	log := filepath.Join(t.TempDir(), "instance.log")
	shell := exec.Command("bash", "-c", `"$0" -instance-conf "$1" 2>"$2" & echo $!; wait`, e2e.KinesisSinkBinary(t), conf, log)
	shell.Env = append(os.Environ(), "KINESIS_SINK_GRPC_BIND=127.0.0.1", "KINESIS_SINK_METRICS_BIND=127.0.0.1")
	out, err := shell.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	logText := func() string { b, _ := os.ReadFile(log); return string(b) }
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(logText(), "msg=subscribed") {
		if time.Now().After(deadline) {
			t.Fatalf("the instance did not subscribe within 2 minutes:\n%s", logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	shell.Process.Kill()
	shell.Wait()
	// Gone, or a zombie its new parent has not reaped yet: either way it
	// no longer runs.
	alive := func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(f) > 0 && f[0] != "Z"
	}
	deadline = time.Now().Add(30 * time.Second)
	for alive() {
		if time.Now().After(deadline) {
			t.Fatalf("the instance (pid %d) still runs 30 s after its parent was killed:\n%s", pid, logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l := logText(); !strings.Contains(l, "the process that started this instance is gone") || !strings.Contains(l, "msg=stopped") {
		t.Fatalf("the instance's log does not say it stopped because its parent went:\n%s", l)
	}
}

// TestSidecarIgnoresSIGINT: the sidecar ignores SIGINT (Ctrl-C reaches the
// JVM and its child alike, and the JVM's close must find the child there
// to flush), as the kernel's view of the process shows, and a SIGINT sent
// does not end it.
func TestSidecarIgnoresSIGINT(t *testing.T) {
	// A process started with SIGINT ignored (a background job of a
	// non-interactive shell) hands that on: the child would ignore it
	// whatever the sidecar does, and the test would prove nothing.
	if self, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(self), "\n") {
			if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
				var m uint64
				fmt.Sscanf(strings.TrimSpace(v), "%x", &m)
				if m&(1<<(uint(syscall.SIGINT)-1)) != 0 {
					t.Skip("this test process ignores SIGINT already; its children inherit that")
				}
			}
		}
	}
	bin := e2e.KinesisSinkBinary(t)
	cmd := exec.Command(bin, "sidecar")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mask := func(line string) uint64 {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, line+":"); ok {
				var m uint64
				fmt.Sscanf(strings.TrimSpace(v), "%x", &m)
				return m
			}
		}
		t.Fatalf("no %s in /proc/%d/status", line, cmd.Process.Pid)
		return 0
	}
	bit := func(s syscall.Signal) uint64 { return 1 << (uint(s) - 1) }
	// The Go runtime catches every signal from its start; the sidecar sets
	// SIGINT's disposition to ignored once it runs.
	deadline := time.Now().Add(10 * time.Second)
	for mask("SigIgn")&bit(syscall.SIGINT) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("SIGINT not ignored within 10 s of the start (SigIgn %x)", mask("SigIgn"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// Its stdin, the Java side's pipe, is what ends it.
	stdin.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "closed the pipe without CLOSE") {
		t.Errorf("after SIGINT and the end of stdin: %v: %s", err, stderr.String())
	}
}
