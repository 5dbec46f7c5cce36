package faultsuite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// The credentials every sink under test gets. The secret key must appear in
// no log line: the suite scans what the processes wrote for it.
const (
	suiteAccessKey = "AKIDFAULTSUITE"
	suiteSecretKey = "faultsuite-secret-value-d41c7e"
)

// keys is the number of distinct message keys: records of one key go to one
// Pulsar partition and one Kinesis shard, so per-key order can be checked.
const keys = 50

func keyOf(id int) string { return fmt.Sprintf("key-%02d", id%keys) }
func seqOf(id int) int    { return id / keys }
func payloadOf(id int) []byte {
	// Padded to a size closer to real events than a bare counter.
	return []byte(fmt.Sprintf("faultsuite id=%07d key=%s seq=%06d pad=%s", id, keyOf(id), seqOf(id), strings.Repeat("x", 48)))
}

func idOf(data []byte) (int, bool) {
	const prefix = "faultsuite id="
	if !bytes.HasPrefix(data, []byte(prefix)) || len(data) < len(prefix)+7 {
		return 0, false
	}
	id, err := strconv.Atoi(string(data[len(prefix) : len(prefix)+7]))
	return id, err == nil
}

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 30m", name, v)
	}
	return d
}

func repoRoot(t testing.TB) string {
	// Tests run in the package directory.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// logDir prepares KS_FAULTS_LOG_DIR (default <repo>/.cache/fault-logs) and
// removes what an earlier run of the suite left there, so that a scan of it
// sees this run only.
func logDir(t testing.TB) string {
	dir := os.Getenv("KS_FAULTS_LOG_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), ".cache", "fault-logs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, pat := range []string{"*.log", "results.txt", "soak-results.txt"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	return dir
}

func sinkBinary(t testing.TB) string {
	if b := os.Getenv("KS_FAULTS_SINK_BIN"); b != "" {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("KS_FAULTS_SINK_BIN: %v", err)
		}
		return b
	}
	return e2e.KinesisSinkBinary(t)
}

// sinkProc is one run of the sink under test: our binary as a child
// process (cmd), or a Java sink instance the functions worker started (pid,
// watched until it is gone).
type sinkProc struct {
	cmd         *exec.Cmd
	pid         int
	logPath     string
	metricsPort int
	done        chan struct{}
	err         error
	exitedAt    time.Time
}

// watchPID makes p follow a process that is not our child.
func (p *sinkProc) watchPID() {
	go func() {
		for syscall.Kill(p.pid, 0) == nil {
			time.Sleep(100 * time.Millisecond)
		}
		p.exitedAt = time.Now()
		p.err = fmt.Errorf("process %d ended", p.pid)
		close(p.done)
	}()
}

func (p *sinkProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait returns whether the process exited within d.
func (p *sinkProc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *sinkProc) signal(sig syscall.Signal) {
	if p.cmd == nil {
		_ = syscall.Kill(p.pid, sig)
		return
	}
	_ = p.cmd.Process.Signal(sig)
}

// exitCode is the child's exit status, or -1 (still running, or not our
// child).
func (p *sinkProc) exitCode() int {
	if p.cmd == nil || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *sinkProc) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	return e2e.Tail(string(b), n)
}

// run is one scenario's topic, stream, proxy and sink processes.
type run struct {
	t       *testing.T
	name    string
	ordered bool
	pulsar  *testenv.PulsarEnv
	kin     *testenv.KinesisEnv
	client  pulsar.Client
	topic   string
	stream  string
	sub     string
	proxy   *faultproxy.Proxy
	cfgPath string
	bin     string
	logDir  string
	starts  int
	cur     *sinkProc
	notes   []string
	logName string // scenario name, prefixed by the sink unless it is go

	// sink is "go" (bin/kinesis-sink localrun), "nar" (this sink's NAR)
	// or "java" (Apache Pulsar's Kinesis sink NAR, reached through front,
	// since the KPL speaks HTTPS only); the NARs are deployed with
	// pulsar-admin sinks create from archive.
	sink     string
	archive  string
	front    *faultproxy.TLSFront
	deployed bool
	lastPID  int
	// leftUnacked is the subscription's backlog when a Java run's drain
	// wait ended: records the sink neither acked nor failed.
	leftUnacked int64

	pubMu     sync.Mutex
	published map[int]bool // ids whose publish Pulsar confirmed
}

type runOptions struct {
	// sink is "go" (default), "nar" or "java".
	sink    string
	ordered bool
	shards  int
	seed    uint64
	// config overrides the sink configuration's keys.
	config map[string]any
}

func newRun(t *testing.T, s *suite, p *testenv.PulsarEnv, name string, o runOptions) *run {
	t.Helper()
	if o.shards == 0 {
		o.shards = 4
	}
	if o.sink == "" {
		o.sink = "go"
	}
	r := &run{t: t, name: name, ordered: o.ordered, pulsar: p, kin: s.kin, bin: s.bin, logDir: s.logDir,
		published: map[int]bool{}, sink: o.sink, archive: s.archive(t, o.sink)}
	if o.sink != "go" {
		name = o.sink + "-" + name
	}
	r.stream = s.kin.UniqueStream(t, "fs-"+name)
	s.kin.CreateStream(t, r.stream, o.shards)
	r.topic = p.UniqueTopic(t, "fs-"+name)
	p.CreatePartitionedTopic(t, r.topic, 2)
	r.sub = "faultsuite-" + name
	r.logName = name
	// At the earliest position before anything is published: the backlog
	// then counts every record, and nothing depends on when the sink starts.
	p.CreateSubscription(t, r.topic, r.sub)
	px, err := faultproxy.New(s.kin.Endpoint, o.seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	r.proxy = px
	r.client = newClient(t, p)

	configs := map[string]any{
		"awsEndpoint":              px.URL(),
		"awsRegion":                "us-east-1",
		"awsKinesisStreamName":     r.stream,
		"awsCredentialPluginParam": fmt.Sprintf(`{"accessKey":%q,"secretKey":%q}`, suiteAccessKey, suiteSecretKey),
		"metricsLevel":             "none",
		"retainOrdering":           o.ordered,
	}
	if s.aggregation != "" {
		configs["aggregationEnabled"] = s.aggregation == "true"
	}
	for k, v := range o.config {
		configs[k] = v
	}
	if o.sink == "java" {
		front, err := faultproxy.NewTLSFront(px.URL(), os.Getenv("AWS_EMULATOR_ENDPOINT"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { front.Close() })
		r.front = front
		configs = javaSinkConfig(configs, front.Port())
	}
	file := map[string]any{
		"tenant": "public", "namespace": "default", "name": "faultsuite-" + name,
		"inputs":                     []string{r.topic},
		"sourceSubscriptionName":     r.sub,
		"sourceSubscriptionPosition": "Earliest",
		"processingGuarantees":       "ATLEAST_ONCE",
		// Failover: one consumer per partition, so Pulsar delivers each
		// partition in order, which retainOrdering needs.
		"retainOrdering": o.ordered,
		"configs":        configs,
	}
	if r.viaWorker() {
		// What sinks create takes as --sink-config.
		b, _ := json.Marshal(configs)
		r.cfgPath = filepath.Join(t.TempDir(), "worker-sink-config.json")
		if err := os.WriteFile(r.cfgPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return r
	}
	b, _ := json.MarshalIndent(file, "", "  ")
	r.cfgPath = filepath.Join(t.TempDir(), "sink.json")
	if err := os.WriteFile(r.cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func newClient(t testing.TB, p *testenv.PulsarEnv) pulsar.Client {
	// Silent: during the broker restart the client logs every reconnect
	// attempt; what matters is whether the sends succeed in the end.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := pulsar.NewClient(pulsar.ClientOptions{
		URL: p.ServiceURL, OperationTimeout: 30 * time.Second, ConnectionTimeout: 10 * time.Second,
		Logger: pulsarlog.NewLoggerWithSlog(logger),
	})
	if err != nil {
		t.Fatalf("pulsar client for %s: %v", p.ServiceURL, err)
	}
	t.Cleanup(c.Close)
	return c
}

// startSink starts the binary under test, with extra localrun flags; its
// output goes to <logDir>/<scenario>-sink-<n>.log.
func (r *run) startSink(extra ...string) *sinkProc {
	r.t.Helper()
	r.starts++
	if r.viaWorker() {
		return r.startWorkerSink()
	}
	logPath := filepath.Join(r.logDir, fmt.Sprintf("%s-sink-%d.log", r.logName, r.starts))
	f, err := os.Create(logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	mport := e2e.FreePort(r.t)
	cmd := exec.Command(r.bin, append([]string{"localrun", "--service-url", r.pulsar.ServiceURL,
		"--sink-config-file", r.cfgPath, "--metrics-port", strconv.Itoa(mport)}, extra...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "KINESIS_SINK_METRICS_BIND=127.0.0.1", "KINESIS_SINK_PROCESS_METRICS=1")
	if err := cmd.Start(); err != nil {
		f.Close()
		r.t.Fatalf("start %s: %v", r.bin, err)
	}
	p := &sinkProc{cmd: cmd, logPath: logPath, metricsPort: mport, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.exitedAt = time.Now()
		f.Close()
		close(p.done)
	}()
	r.t.Cleanup(func() {
		if p.running() {
			p.signal(syscall.SIGKILL)
			<-p.done
		}
	})
	r.cur = p
	return p
}

// stopSink ends the current sink with SIGTERM (a clean shutdown); a sink
// the worker runs is deleted, which stops its instance.
func (r *run) stopSink() {
	r.t.Helper()
	if r.viaWorker() {
		r.deleteWorkerSink()
		return
	}
	p := r.cur
	if p == nil || !p.running() {
		return
	}
	p.signal(syscall.SIGTERM)
	if !p.wait(15 * time.Second) {
		r.t.Errorf("%s: sink still running 15 s after SIGTERM; killing it", r.name)
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// publish sends ids [from, to) spread evenly over span (at once when span
// is 0), keyed by keyOf, and records which ones Pulsar confirmed.
func (r *run) publish(ctx context.Context, from, to int, span time.Duration, batching bool) error {
	prod, err := r.client.CreateProducer(pulsar.ProducerOptions{
		Topic: r.topic, DisableBatching: !batching,
		// Long enough to ride out a broker restart without failing sends.
		SendTimeout:        3 * time.Minute,
		MaxPendingMessages: 2000,
	})
	if err != nil {
		return fmt.Errorf("producer on %s: %w", r.topic, err)
	}
	defer prod.Close()
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		sendErr error
	)
	start := time.Now()
	n := to - from
	for i := from; i < to; i++ {
		if span > 0 {
			due := start.Add(time.Duration(int64(span) * int64(i-from) / int64(n)))
			if d := time.Until(due); d > 2*time.Millisecond {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		id := i
		wg.Add(1)
		prod.SendAsync(ctx, &pulsar.ProducerMessage{Key: keyOf(id), Payload: payloadOf(id)},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				defer wg.Done()
				if err != nil {
					errMu.Lock()
					if sendErr == nil {
						sendErr = err
					}
					errMu.Unlock()
					return
				}
				r.pubMu.Lock()
				r.published[id] = true
				r.pubMu.Unlock()
			})
	}
	if err := prod.FlushWithCtx(ctx); err != nil {
		return err
	}
	wg.Wait()
	return sendErr
}

func (r *run) publishedIDs() map[int]bool {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	out := make(map[int]bool, len(r.published))
	for k := range r.published {
		out[k] = true
	}
	return out
}

// waitDrained waits until the subscription's backlog is empty: every record
// acked. A sink that acked records it did not write shows up as missing
// records afterwards, which is what the suite looks for.
func (r *run) waitDrained(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last int64 = -1
	var lastErr error
	for time.Now().Before(deadline) {
		if r.viaWorker() && r.cur != nil && !r.cur.running() {
			// The worker restarts an instance that died; its records
			// wait for it, so the wait goes on.
			if p, err := r.workerInstance(time.Minute); err == nil {
				r.cur = p
			}
		}
		if r.sink == "go" && r.cur != nil && !r.cur.running() {
			return fmt.Errorf("sink exited (%v) with backlog %d; last output:\n%s", r.cur.err, last, r.cur.logTail(3000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		n, err := r.pulsar.BacklogOf(ctx, r.topic, r.sub)
		cancel()
		if err == nil && n == 0 {
			return nil
		}
		last, lastErr = n, err
		time.Sleep(time.Second)
	}
	if r.sink == "java" && lastErr == nil {
		// Reported, not failed: records the Java sink neither acked nor
		// failed stay in the backlog until its ack timeout (none is set).
		r.leftUnacked = last
		if last > 0 {
			// What the worker says of the sink, for the table.
			r.notes = append(r.notes, r.workerStatus())
		}
		return nil
	}
	return fmt.Errorf("backlog of %s not drained within %s: %d (last error %v)", r.sub, timeout, last, lastErr)
}

// check reads the stream back and compares it with the ids expected there.
func (r *run) check(expected map[int]bool) result {
	r.t.Helper()
	var (
		recs []testenv.KinesisRecord
		err  error
	)
	// kinesalite answers GetRecords slowly on a loaded machine; one slow
	// call must not cost the scenario's result.
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			time.Sleep(5 * time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		recs, err = r.kin.ReadAllContext(ctx, r.stream)
		cancel()
		if err == nil {
			return compare(r.t, recs, expected, r.ordered)
		}
		r.t.Logf("read back %s (attempt %d): %v", r.stream, attempt+1, err)
	}
	return result{Records: len(expected), OutOfOrder: -1, Err: fmt.Sprintf("read back %s: %v", r.stream, err)}
}

// compare counts, over the user records in recs (KPL records
// de-aggregated), how many expected ids are missing, how many extra copies
// there are and, for ordered runs, how many first copies of a key's record
// come after a later record of the same key.
func compare(t testing.TB, recs []testenv.KinesisRecord, expected map[int]bool, ordered bool) result {
	seen := make(map[int]int, len(expected))
	lastSeq := map[string]int{}
	var res result
	for _, kr := range recs {
		urs, err := userRecords(kr)
		if err != nil {
			t.Errorf("shard %s seq %s: %v", kr.ShardID, kr.SequenceNumber, err)
			continue
		}
		for _, ur := range urs {
			id, ok := idOf(ur.data)
			if !ok {
				t.Errorf("shard %s: record %.60q is not one of the suite's", kr.ShardID, ur.data)
				continue
			}
			if ur.partitionKey != keyOf(id) {
				t.Errorf("record %d has partition key %q, want %q", id, ur.partitionKey, keyOf(id))
			}
			res.Stored++
			seen[id]++
			if seen[id] > 1 {
				res.Duplicates++
				continue // order is judged on first copies
			}
			k := keyOf(id)
			if prev, ok := lastSeq[k]; ok && seqOf(id) < prev {
				res.OutOfOrder++
			}
			lastSeq[k] = seqOf(id)
		}
	}
	res.Records = len(expected)
	for id := range expected {
		if seen[id] == 0 {
			res.Missing++
			if res.Missing <= 10 {
				res.MissingIDs = append(res.MissingIDs, id)
			}
		}
	}
	res.Ordered = ordered
	if !ordered {
		res.OutOfOrder = -1
	}
	return res
}

// faultSummary says what the proxy injected.
func faultSummary(c faultproxy.Counters) string {
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.EntriesDropped, "entries failed")
	add(c.EntriesShardDown, "entries shard-throttled")
	add(c.HTTPErrors, "HTTP errors")
	add(c.Resets, "resets")
	add(c.ResetsAfterWrite, "resets after write")
	add(c.Delayed, "slow responses")
	add(c.Refused, "refused")
	return strings.Join(parts, ", ")
}

// scrape reads the named gauges from a sink's metrics endpoint.
func scrape(port int, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, n := range names {
			if strings.HasPrefix(line, n+" ") {
				v, err := strconv.ParseFloat(strings.TrimSpace(line[len(n)+1:]), 64)
				if err == nil {
					out[n] = v
				}
			}
		}
	}
	return out, sc.Err()
}

// rssOf is the resident set size of a process, from /proc.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// scanForSecret fails t if any file in dir contains the sinks' secret key.
func scanForSecret(t testing.TB, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("secret scan: %v", err)
			continue
		}
		if bytes.Contains(b, []byte(suiteSecretKey)) {
			t.Errorf("secret scan: %s contains the sink's AWS secret key", f)
		}
	}
}

// topicCopies reads the topic from the start and counts the messages that
// repeat an id: copies the producer made, resending what the broker had
// written but not confirmed when the connection dropped. To the sink they
// are messages of their own, so their copies in Kinesis are not the sink's.
func (r *run) topicCopies() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	parts, err := r.pulsar.Partitions(ctx, r.topic)
	if err != nil {
		return 0, err
	}
	seen := map[int]bool{}
	copies := 0
	for i := range max(parts, 1) {
		topic := r.topic
		if parts > 0 {
			topic = fmt.Sprintf("%s-partition-%d", r.topic, i)
		}
		rd, err := r.client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		if err != nil {
			return 0, err
		}
		for rd.HasNext() {
			m, err := rd.Next(ctx)
			if err != nil {
				rd.Close()
				return 0, err
			}
			if id, ok := idOf(m.Payload()); ok {
				if seen[id] {
					copies++
				}
				seen[id] = true
			}
		}
		rd.Close()
	}
	return copies, nil
}
