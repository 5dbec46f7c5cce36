package sink_test

// The NAR's memory with large records: a backlog of 900 KiB records and
// one of 9 MiB records (chunked in Pulsar) drains through sinks create with
// default settings, against the in-process Kinesis model (kinesalite takes
// no record over 1 MiB; the model's stream takes 10 MiB), and the peak RSS
// of the instance (the Java instance's process and its kinesis-sink child)
// is logged. The JVM's window of unresolved records must hold its byte
// bound, which the sink's log lines report.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// fakeKinesis serves a Kinesis model on a local port for children of the
// worker (kinesalite takes no record over 1 MiB). It keeps no large data:
// which records (by their first 10 bytes) arrived and how often, and
// records under 1 KiB whole, in the order they were stored.
type fakeKinesis struct {
	URL   string
	model *kinesisfake.Model
	mu    sync.Mutex
	seen  map[string]int
	small []testenv.KinesisRecord
}

func startFakeKinesis(t *testing.T, rules kinesisfake.Rules) *fakeKinesis {
	t.Helper()
	fk := &fakeKinesis{seen: map[string]int{}}
	fk.model = kinesisfake.New(kinesisfake.Config{NoShardLimit: true, Discard: true, Faults: rules.Func(),
		OnStored: func(_ string, r kinesisfake.Record) {
			id := string(r.Data[:min(len(r.Data), 10)])
			fk.mu.Lock()
			fk.seen[id]++
			if len(r.Data) < 1024 {
				fk.small = append(fk.small, testenv.KinesisRecord{PartitionKey: r.PartitionKey, Data: r.Data})
			}
			fk.mu.Unlock()
		}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fk.model.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	fk.URL = "http://" + ln.Addr().String()
	return fk
}

func (fk *fakeKinesis) records() []testenv.KinesisRecord {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	return append([]testenv.KinesisRecord(nil), fk.small...)
}

func (fk *fakeKinesis) counts() (distinct, total int) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	for _, n := range fk.seen {
		distinct++
		total += n
	}
	return distinct, total
}

// vmHWM is a process's peak resident set in KiB, 0 if it is gone.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

var windowLine = regexp.MustCompile(`kinesis-sink window: peak (\d+) records, (\d+) bytes unresolved \(bound (\d+) records, (\d+) bytes; largest record taken alone past it: (\d+) bytes\)`)

// TestNARSinkLargeRecords: 400 records of 900 KiB, and 40 of 9 MiB, as a
// backlog (published while the sink is stopped), drained through the NAR
// with default settings and aggregation off, Kinesis answering each
// request after 300 ms so that records pile up in the sink. Every record
// arrives; the JVM's unresolved bytes never pass the window's bound (twice
// maxBufferedBytes, 128 MiB) but by a record taken alone, by the
// high-water marks the sink logs; the peak RSS of the Java instance and
// of its child is logged.
//
// NAR_WINDOW_BASELINE=1 with KINESIS_SINK_NAR set to an older NAR measures
// it without the window checks (it logs no window line).
func TestNARSinkLargeRecords(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		size     int
		chunk    bool
		buffered int64 // maxBufferedBytes; 0: the default
	}{
		{"900KiB", 400, 900 << 10, false, 0},
		{"9MiB", 40, 9 << 20, true, 0},
		// Each record larger than the whole window (2 MiB): each goes alone.
		{"9MiB-past-window", 6, 9 << 20, true, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) { largeRecordDrain(t, tc.n, tc.size, tc.chunk, tc.buffered) })
	}
}

func largeRecordDrain(t *testing.T, n, size int, chunk bool, buffered int64) {
	env := testenv.Pulsar(t)
	client := e2e.NewClient(t, env)
	baseline := os.Getenv("NAR_WINDOW_BASELINE") != ""
	fk := startFakeKinesis(t, kinesisfake.Rules{DelayFraction: 1, Delay: 300 * time.Millisecond})
	stream := fmt.Sprintf("nar-large-%d", time.Now().UnixNano())
	if _, err := fk.model.CreateStream(kinesisfake.StreamSpec{Name: stream, Shards: 2, MaxRecordSizeInKiB: 10240}); err != nil {
		t.Fatal(err)
	}
	topic := env.UniqueTopic(t, "nar-large")
	name := uniqueName(t, "nar-large")
	cfg := map[string]any{
		"awsEndpoint": fk.URL, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-large"}`,
		"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
	}
	wantBound := int64(128 << 20)
	if buffered > 0 {
		cfg["maxBufferedBytes"] = buffered
		wantBound = 2 * buffered
	}
	file := writeJavaSinkConfigFile(t, name, []string{topic}, cfg)
	if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--sink-config-file", file); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
	waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)
	admin := func(verb string) {
		t.Helper()
		if out, err := env.Admin(t, "sinks", verb, "--tenant", "public", "--namespace", "default", "--name", name); err != nil {
			t.Fatalf("sinks %s: %v\n%s", verb, err, out)
		}
	}
	admin("stop")
	env.WaitFor(t, time.Minute, func() bool { return len(sidecarProcs(name)) == 0 }, "no child after sinks stop")

	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true, EnableChunking: chunk,
		SendTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	for i := range n {
		b := append([]byte(fmt.Sprintf("rec-%06d", i)), payload[10:]...)
		if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Key: fmt.Sprintf("k%d", i%8), Payload: b}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	p.Close()
	t.Logf("backlog: %d records of %d KiB (%d MiB)", n, size>>10, n*size>>20)

	start := time.Now()
	admin("start")
	var child, java int
	env.WaitFor(t, 2*time.Minute, func() bool {
		for c, j := range sidecarProcs(name) {
			child, java = c, j
		}
		return child != 0
	}, "a child after sinks start")
	var hwmJava, hwmChild int64
	env.WaitFor(t, 5*time.Minute, func() bool {
		// VmHWM is the peak since the process started; read it while it runs.
		hwmJava, hwmChild = max(hwmJava, vmHWM(java)), max(hwmChild, vmHWM(child))
		d, _ := fk.counts()
		return d == n && env.Backlog(t, topic, "public/default/"+name) == 0
	}, "%d records in Kinesis and the backlog drained", n)
	hwmJava, hwmChild = max(hwmJava, vmHWM(java)), max(hwmChild, vmHWM(child))
	d, total := fk.counts()
	t.Logf("drained %d records (%d stored, %d duplicates) in %s; peak RSS: Java instance %d MiB + child %d MiB = %d MiB",
		d, total, total-d, time.Since(start).Round(time.Second), hwmJava>>10, hwmChild>>10, (hwmJava+hwmChild)>>10)
	if now := sidecarProcs(name); len(now) != 1 || now[child] != java {
		t.Errorf("the instance restarted during the drain: children %v, first %d of %d", now, child, java)
	}

	if baseline {
		return
	}
	// The sink logs its window's high-water marks every 10 s while they
	// rise; the drain's are in the last line, once 10 s have passed.
	time.Sleep(12 * time.Second)
	m := windowLine.FindAllStringSubmatch(instanceLog(t, env, name), -1)
	if len(m) == 0 {
		t.Fatalf("no window line in the instance log:\n%s", e2e.Tail(instanceLog(t, env, name), 20))
	}
	last := m[len(m)-1]
	num := func(i int) int64 { v, _ := strconv.ParseInt(last[i], 10, 64); return v }
	peakRecs, peakBytes, boundRecs, boundBytes, alone := num(1), num(2), num(3), num(4), num(5)
	t.Logf("window: peak %d records, %d MiB unresolved; bound %d records, %d MiB; largest alone %d bytes",
		peakRecs, peakBytes>>20, boundRecs, boundBytes>>20, alone)
	if boundBytes != wantBound {
		t.Errorf("window bound %d bytes, want twice maxBufferedBytes (%d)", boundBytes, wantBound)
	}
	if peakBytes > max(boundBytes, alone) || peakRecs > boundRecs {
		t.Errorf("the window did not hold: peak %d records, %d bytes; bound %d records, %d bytes", peakRecs, peakBytes, boundRecs, boundBytes)
	}
	if int64(size) > boundBytes {
		// Past the window, a record goes only alone.
		if peakRecs != 1 || alone < int64(size) {
			t.Errorf("records larger than the window: peak %d unresolved (want 1, alone), largest taken alone %d bytes", peakRecs, alone)
		}
		return
	}
	// The window must have bound at all for the run to show it holds:
	// the backlog is more than twice its bytes.
	if peakBytes < boundBytes/2 {
		t.Errorf("peak %d bytes unresolved: the window never came near its bound, so the run shows nothing", peakBytes)
	}
}
