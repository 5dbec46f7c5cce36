// Command bench measures the sink against a consume-only ceiling and against
// Apache Pulsar's Java Kinesis sink, on the local standalone (`make bench`
// runs it under scripts/lib/with-services.sh). It is a program, not a test:
// speed and memory targets are read from its table, never asserted.
//
// For every row and record size it pre-fills a backlog on a fresh topic,
// starts the consumer and measures the drain (records/s and MB/s between the
// first and the last record accepted, CPU seconds of the process tree from
// its first PutRecords request to the last record accepted, peak RSS), then publishes at half the measured rate for a
// few seconds and reports p50/p99 of publish-to-acceptance latency. Rows:
//
//   - ceiling: a pulsar-client-go consumer that receives and acks, nothing
//     else (its acceptance time is its receive time);
//   - go: bin/kinesis-sink localrun (the real runtime and sink);
//   - java: the pulsar-io-kinesis NAR deployed with pulsar-admin sinks create;
//   - nar: our kinesis-go NAR deployed the same way (a Java instance whose
//     child process is our sink);
//
// into the do-nothing endpoint ("null", our HTTPS server that answers like
// Kinesis and stores nothing) and into kinesalite (through the same server
// acting as a TLS front, as the KPL speaks HTTPS only), aggregation on and
// off. A 1,000,000-record drain of our sink checks peak memory.
//
// The "at the limit" rows put the fault proxy in shard-limit mode between
// that TLS front and kinesalite: each shard takes what a Kinesis shard
// takes (1,000 records/s, 1 MiB/s, a second of burst) and refuses the rest
// as Kinesis does, which no emulator does. Both sinks run at their default
// rateLimit (the KPL's limiter and ours), on a backlog of about -at-limit-for
// at the shards' limits; the row gives what Kinesis accepted as a share of
// what the shards could take over the window, the share of entries
// refused, and p50/p99 of a paced run at 0.9 of the drain rate.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
)

type bench struct {
	serviceURL, adminURL string
	kinesaliteURL        string
	pulsarHome           string
	sinkBin              string
	nar, narErr          string
	goNAR, goNARErr      string // our kinesis-go NAR (the nar rows)
	logDir, profileDir   string
	linger               time.Duration
	pacedFor             time.Duration
	shards               int
	rateLimit            int64

	client pulsar.Client
	nullEP *endpoint
	kinEP  *endpoint
	// limEP forwards through limProxy, the fault proxy in shard-limit mode,
	// to kinesalite: the "at the limit" rows.
	limEP      *endpoint
	limProxy   *faultproxy.Proxy
	atLimitFor time.Duration
	kin        *kinesis.Client
	runID      string
}

type phase struct {
	sink string // ceiling | go | java | nar
	// ceiling is the consume-only configuration of a ceiling phase (see
	// ceilingConfigs).
	ceiling  string
	endpoint string // none | null | kinesalite | limit
	agg      bool
	size     int
	n        int
	paced    bool
	slug     string
	topic    string
	stream   string
}

// Result is one row of the results file.
type Result struct {
	Row         string  `json:"row"`
	Sink        string  `json:"sink"`
	Endpoint    string  `json:"endpoint"`
	Aggregation *bool   `json:"aggregation,omitempty"`
	Size        int     `json:"recordBytes"`
	Records     int     `json:"records"`
	Received    int     `json:"received"`
	Seconds     float64 `json:"seconds"`
	RecPerSec   float64 `json:"recordsPerSecond"`
	MBPerSec    float64 `json:"mbPerSecond"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	CPUPerM     float64 `json:"cpuSecondsPerMillionRecords"`
	PeakRSSMiB  float64 `json:"peakRssMiB"`
	// Processes is how many processes were measured (the Java sink: the
	// instance JVM and the KPL's native child).
	Processes int `json:"processes"`
	// BenchCPU is the benchmark process's own CPU over the same window (the
	// endpoint, TLS, deaggregation; the ceiling's reports): load on the same
	// two cores that the measured consumer did not cause.
	BenchCPU  float64 `json:"benchCpuSeconds"`
	PacedRate float64 `json:"pacedRecordsPerSecond,omitempty"`
	PacedN    int     `json:"pacedRecords,omitempty"`
	P50Ms     float64 `json:"p50Ms,omitempty"`
	P99Ms     float64 `json:"p99Ms,omitempty"`
	// The "at the limit" rows (endpoint "limit"): what Kinesis accepted, in
	// its own records (an aggregate is one) and bytes (data + partition
	// key, as Kinesis counts them), as a fraction of the shards' write
	// limits (the larger of the records and the bytes fraction), and the
	// share of entries the shard limit refused.
	KinesisRecPerSec float64  `json:"kinesisRecordsPerSecond,omitempty"`
	KinesisMBPerSec  float64  `json:"kinesisMBPerSecond,omitempty"`
	OfLimit          float64  `json:"fractionOfShardLimit,omitempty"`
	ThrottledPct     *float64 `json:"throttledPercent,omitempty"`
	// TooShort says why the drain gave no figures: a window shorter than
	// minWindow or fewer than minRecords records. Rates and CPU from such a
	// window are noise (0 CPU seconds, impossible rates); they are left
	// out, and nothing is paced from them.
	TooShort string `json:"tooShort,omitempty"`
	Error    string `json:"error,omitempty"`
}

// The smallest drain window figures are taken from: below it a start-up
// hiccup or one timer tick is a large share of the window.
const (
	minWindow  = 2 * time.Second
	minRecords = 5000
)

// Report is the results file.
type Report struct {
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Machine   Machine   `json:"machine"`
	Commit    string    `json:"commit"`
	Args      []string  `json:"args"`
	LingerMs  int       `json:"lingerMs"`
	Shards    int       `json:"shards"`
	RateLimit int64     `json:"rateLimitPercent"`
	Results   []Result  `json:"results"`
	Targets   []string  `json:"targets"`
}

// Machine says where the numbers come from; Load and OtherProcs show how
// quiet it was.
type Machine struct {
	CPUs       int      `json:"cpus"`
	Model      string   `json:"cpuModel"`
	MemoryGiB  float64  `json:"memoryGiB"`
	Kernel     string   `json:"kernel"`
	Go         string   `json:"go"`
	LoadStart  string   `json:"loadAverageAtStart"`
	LoadEnd    string   `json:"loadAverageAtEnd"`
	OtherProcs []string `json:"busyProcessesAtStart,omitempty"`
}

func main() {
	var (
		ceilingChildMode = flag.Bool("ceiling-child", false, "internal: run the consume-only consumer")
		ceilingConfig    = flag.String("ceiling-config", "default", "internal: the consume-only configuration of -ceiling-child")
		topic            = flag.String("topic", "", "internal: topic for -ceiling-child")
		report           = flag.String("report", "", "internal: where -ceiling-child reports")
		serviceURL       = flag.String("service-url", envOr("PULSAR_SERVICE_URL", "pulsar://127.0.0.1:6650"), "Pulsar broker")
		adminURL         = flag.String("admin-url", envOr("PULSAR_WEB_URL", "http://127.0.0.1:8080"), "Pulsar admin REST")
		kinesaliteURL    = flag.String("kinesalite", envOr("KINESIS_ENDPOINT", "http://127.0.0.1:4567"), "kinesalite URL")
		pulsarHome       = flag.String("pulsar-home", os.Getenv("PULSAR_HOME"), "Pulsar installation (bin/pulsar-admin)")
		sinkBin          = flag.String("sink", "bin/kinesis-sink", "our sink's executable")
		nar              = flag.String("nar", "", "pulsar-io-kinesis NAR (make bench fetches it); empty: the Java rows report why they cannot run")
		narErr           = flag.String("nar-error", "", "internal: why there is no NAR")
		goNAR            = flag.String("go-nar", "", "our kinesis-go NAR (make bench builds it); empty: the nar rows report why they cannot run")
		goNARErr         = flag.String("go-nar-error", "", "internal: why there is no kinesis-go NAR")
		out              = flag.String("out", "bench/results", "directory for the JSON results and the PNG chart")
		quick            = flag.Bool("quick", false, "a tenth of the records, 2 s paced runs, no 1M drain (a smoke run)")
		rows             = flag.String("rows", "ceiling,go,java,nar", "which consumers: ceiling, go, java, nar")
		endpoints        = flag.String("endpoints", "null,kinesalite", "which Kinesis endpoints: null (do-nothing), kinesalite")
		aggs             = flag.String("aggregation", "on,off", "aggregation settings to run: on, off")
		sizesFlag        = flag.String("sizes", "100,1024,10240", "record sizes in bytes")
		counts           = flag.String("records", "100=200000,1024=100000,10240=20000", "backlog per size (do-nothing endpoint and ceiling)")
		kinScale         = flag.Float64("kinesalite-scale", 0.25, "kinesalite gets this fraction of the records (it is far slower than the sinks)")
		drain1M          = flag.Int("drain", 1000000, "records of the peak-memory drain of our sink (100 B, aggregation on, do-nothing endpoint); 0 skips it")
		pacedFor         = flag.Duration("paced", 5*time.Second, "length of the half-load latency run after each drain; 0 skips it")
		atLimitSizes     = flag.String("at-limit", "100,1024", "record sizes of the at-the-limit rows (kinesalite behind the fault proxy's shard limits, both sinks at their default rateLimit); empty skips them")
		atLimitFor       = flag.Duration("at-limit-for", 20*time.Second, "how long the at-the-limit backlog takes at the shards' limit")
		shards           = flag.Int("shards", 4, "shards of the benchmark streams")
		rateLimit        = flag.Int64("rate-limit", 1000000, "rateLimit given to both sinks, in percent of the shard limits (150 is the sinks' default)")
		profileDir       = flag.String("profile", "", "directory for CPU and allocation profiles of our sink (one per phase) and of the benchmark itself (bench.cpu.pprof)")
	)
	flag.Parse()
	if *ceilingChildMode {
		os.Exit(ceilingChild(*serviceURL, *topic, "bench", *report, *ceilingConfig))
	}
	scale := 1.0
	if *quick {
		scale = 0.1
		if *pacedFor > 2*time.Second {
			*pacedFor = 2 * time.Second
		}
		*drain1M = 0
		if *atLimitFor > 5*time.Second {
			*atLimitFor = 5 * time.Second
		}
	}
	b := &bench{
		serviceURL: *serviceURL, adminURL: strings.TrimRight(*adminURL, "/"), kinesaliteURL: *kinesaliteURL,
		pulsarHome: *pulsarHome, sinkBin: *sinkBin, nar: *nar, narErr: *narErr, goNAR: *goNAR, goNARErr: *goNARErr, profileDir: *profileDir,
		linger: 100 * time.Millisecond, pacedFor: *pacedFor, shards: *shards, rateLimit: *rateLimit, atLimitFor: *atLimitFor,
		runID: strconv.FormatInt(time.Now().Unix()%100000, 10),
	}
	if b.goNAR == "" && b.goNARErr == "" {
		b.goNARErr = "no kinesis-go NAR given (-go-nar); `make bench` builds it with scripts/build-nar.sh"
	}
	if b.nar == "" && b.narErr == "" {
		b.narErr = "no NAR given (-nar); `make bench` fetches org.apache.pulsar:pulsar-io-kinesis:4.0.8 with Maven"
	}
	if b.profileDir != "" {
		_ = os.MkdirAll(b.profileDir, 0o755)
		if f, err := os.Create(filepath.Join(b.profileDir, "bench.cpu.pprof")); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(b, *out, scale, *kinScale, split(*rows), split(*endpoints), split(*aggs), *sizesFlag, *atLimitSizes, *counts, *drain1M); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(b *bench, outDir string, scale, kinScale float64, rows, endpoints, aggs []string, sizesFlag, atLimitFlag, countsFlag string, drain int) error {
	started := time.Now()
	rep := &Report{Started: started.UTC(), Machine: machine(), Commit: gitCommit(), Args: os.Args[1:],
		LingerMs: int(b.linger / time.Millisecond), Shards: b.shards, RateLimit: b.rateLimit}
	parseSizes := func(flagName, v string) ([]int, error) {
		var sizes []int
		for _, s := range split(v) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 16 {
				return nil, fmt.Errorf("%s: %q is not a size of at least 16 bytes", flagName, s)
			}
			sizes = append(sizes, n)
		}
		return sizes, nil
	}
	sizes, err := parseSizes("-sizes", sizesFlag)
	if err != nil {
		return err
	}
	limitSizes, err := parseSizes("-at-limit", atLimitFlag)
	if err != nil {
		return err
	}
	counts := map[int]int{}
	for _, kv := range split(countsFlag) {
		k, v, _ := strings.Cut(kv, "=")
		ki, err1 := strconv.Atoi(k)
		vi, err2 := strconv.Atoi(v)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("-records: %q is not size=count", kv)
		}
		counts[ki] = vi
	}
	countFor := func(size int, endpoint string) int {
		n, ok := counts[size]
		if !ok {
			n = 20000
		}
		f := scale
		if endpoint == "kinesalite" {
			f *= kinScale
		}
		return max(int(float64(n)*f), 100)
	}

	b.logDir = filepath.Join(os.TempDir(), "kinesis-sink-bench-"+b.runID)
	if err := os.MkdirAll(b.logDir, 0o755); err != nil {
		return err
	}
	if b.profileDir != "" {
		if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if b.client, err = newClient(b.serviceURL); err != nil {
		return err
	}
	defer b.client.Close()
	if b.nullEP, err = startEndpoint("", b.shards); err != nil {
		return err
	}
	defer b.nullEP.close()
	if len(limitSizes) > 0 {
		if b.limProxy, err = faultproxy.New(strings.TrimRight(b.kinesaliteURL, "/"), 1); err != nil {
			return err
		}
		defer b.limProxy.Close()
		b.limProxy.SetRules(faultproxy.Rules{ShardLimit: faultproxy.KinesisShardLimit()})
		if b.limEP, err = startEndpoint(b.limProxy.URL(), b.shards); err != nil {
			return err
		}
		defer b.limEP.close()
	}
	if slices.Contains(endpoints, "kinesalite") || len(limitSizes) > 0 {
		if b.kinEP, err = startEndpoint(strings.TrimRight(b.kinesaliteURL, "/"), b.shards); err != nil {
			return err
		}
		defer b.kinEP.close()
		b.kin = kinesis.New(kinesis.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(b.kinesaliteURL),
			Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		})
	}
	fmt.Printf("bench: run %s, logs in %s; %d CPUs (%s), load %s\n", b.runID, b.logDir, rep.Machine.CPUs, rep.Machine.Model, rep.Machine.LoadStart)
	if b.nar == "" && slices.Contains(rows, "java") {
		fmt.Printf("bench: the Java sink cannot run: %s\n", b.narErr)
	}

	var phases []*phase
	for _, size := range sizes {
		if slices.Contains(rows, "ceiling") {
			// Several consume-only configurations: the ceiling is the best
			// of them, so that it is a ceiling (see targets).
			for _, cc := range ceilingConfigs {
				phases = append(phases, &phase{sink: "ceiling", ceiling: cc.name, endpoint: "none", size: size, n: countFor(size, "null")})
			}
		}
		for _, sink := range []string{"go", "java", "nar"} {
			if !slices.Contains(rows, sink) {
				continue
			}
			for _, ep := range endpoints {
				for _, a := range aggs {
					phases = append(phases, &phase{sink: sink, endpoint: ep, agg: a == "on", size: size, n: countFor(size, ep)})
				}
			}
		}
	}
	for _, size := range limitSizes {
		for _, sink := range []string{"go", "java"} {
			if !slices.Contains(rows, sink) {
				continue
			}
			for _, a := range aggs {
				phases = append(phases, &phase{sink: sink, endpoint: "limit", agg: a == "on", size: size,
					n: max(int(limitRate(size, a == "on")*float64(b.shards)*b.atLimitFor.Seconds()), minRecords)})
			}
		}
	}
	for _, ph := range phases {
		ph.paced = b.pacedFor > 0
	}
	if drain > 0 && slices.Contains(rows, "go") {
		phases = append(phases, &phase{sink: "go", endpoint: "null", agg: true, size: 100, n: drain, slug: "drain"})
	}

	write := func() error {
		rep.Finished = time.Now().UTC()
		rep.Machine.LoadEnd = loadAvg()
		rep.Targets = targets(rep)
		return writeReport(rep, outDir)
	}
	for i, ph := range phases {
		res := b.runPhase(i, ph)
		kind := strings.TrimPrefix(ph.slug, fmt.Sprintf("bench-%s-%02d-", b.runID, i))
		for try := 1; try <= 3; try++ {
			// The backlog drained faster than any figure could be taken
			// from: again with enough records for the window, sized from
			// the rate the short drain suggests (a short drain's rate is
			// itself rough, hence up to three tries).
			more := rerunCount(res, ph.size)
			if more <= ph.n {
				break
			}
			fmt.Fprintf(os.Stderr, "bench: %s %d B: %s; again with %d records\n", res.Row, ph.size, res.TooShort, more)
			ph.n = more
			ph.slug = fmt.Sprintf("%s-again%d", kind, try)
			res = b.runPhase(i, ph)
		}
		rep.Results = append(rep.Results, res)
		var prev *Result
		if i > 0 {
			prev = &rep.Results[i-1]
		}
		printRow(res, prev)
		// Written after every phase, so an interrupted run keeps its numbers.
		if err := write(); err != nil {
			return err
		}
	}
	fmt.Println()
	printTable(rep)
	for _, t := range rep.Targets {
		fmt.Println(t)
	}
	fmt.Printf("bench: %d phases in %s; results in %s\n", len(phases), time.Since(started).Round(time.Second), outDir)
	return nil
}

func rowName(ph *phase) string {
	switch ph.sink {
	case "ceiling":
		return "ceiling (" + ph.ceiling + ")"
	}
	name := ph.sink + " -> " + ph.endpoint
	if ph.endpoint == "limit" {
		name = ph.sink + " -> shard limits"
	}
	if ph.agg {
		name += ", agg on"
	} else {
		name += ", agg off"
	}
	if ph.slug == "drain" {
		name = fmt.Sprintf("go -> null, agg on, %d drain", ph.n)
	}
	return name
}

func (b *bench) runPhase(i int, ph *phase) Result {
	res := Result{Row: rowName(ph), Sink: ph.sink, Endpoint: ph.endpoint, Size: ph.size, Records: ph.n}
	if ph.sink != "ceiling" {
		a := ph.agg
		res.Aggregation = &a
	}
	kind := ph.slug
	if kind == "" {
		kind = fmt.Sprintf("%s-%s-%v-%d", ph.sink, ph.endpoint, map[bool]string{true: "agg", false: "noagg"}[ph.agg], ph.size)
		if ph.sink == "ceiling" {
			kind = fmt.Sprintf("ceiling-%s-%d", ph.ceiling, ph.size)
		}
	}
	ph.slug = fmt.Sprintf("bench-%s-%02d-%s", b.runID, i, kind)
	ph.topic = ph.slug
	ph.stream = ph.slug
	if ph.slug[len(ph.slug)-1] == '-' {
		ph.slug += "x"
	}
	fail := func(err error) Result {
		res.Error = err.Error()
		return res
	}

	var tgt target
	switch ph.sink {
	case "ceiling":
		tgt = &ceilingTarget{b: b}
	case "go":
		tgt = &goTarget{b: b}
	case "java":
		tgt = &javaTarget{b: b, archive: b.nar}
		if b.nar == "" {
			return fail(fmt.Errorf("not run: %s", b.narErr))
		}
	case "nar":
		tgt = &javaTarget{b: b, archive: b.goNAR}
		if b.goNAR == "" {
			return fail(fmt.Errorf("not run: %s", b.goNARErr))
		}
	}
	ep := b.nullEP
	if ph.endpoint == "kinesalite" || ph.endpoint == "limit" {
		ep = b.kinEP
		if ph.endpoint == "limit" {
			ep = b.limEP
		}
		if err := b.createStream(ph.stream); err != nil {
			return fail(err)
		}
		defer b.deleteStream(ph.stream)
	}
	defer deleteTopic(b.adminURL, ph.topic)

	if err := createSubscription(b.client, ph.topic, "bench"); err != nil {
		return fail(err)
	}
	t0 := time.Now()
	if err := prefill(b.client, ph.topic, ph.n, ph.size); err != nil {
		return fail(fmt.Errorf("pre-fill: %w", err))
	}
	fmt.Fprintf(os.Stderr, "bench: %s %d B: %d records pre-filled in %s\n", res.Row, ph.size, ph.n, time.Since(t0).Round(time.Millisecond))

	var pid int
	var cpuAtFirst, benchAtFirst float64
	var limitAtFirst faultproxy.Counters
	ep.cnt.reset(ph.n, false, func() {
		cpuAtFirst, benchAtFirst = cpuSeconds(pid), processCPU(os.Getpid())
		if b.limProxy != nil {
			limitAtFirst = b.limProxy.Counters()
		}
	})
	pid, err := tgt.start(ph)
	if err != nil {
		tgt.stop()
		return fail(err)
	}
	defer tgt.stop()

	// A phase is given time for the slowest plausible consumer (1,000
	// records/s) plus start-up; it ends early if the process dies.
	timeout := 90*time.Second + time.Duration(ph.n)*time.Millisecond
	if ph.endpoint == "limit" {
		// A backlog meant to take atLimitFor at the limit: a sink at a
		// tenth of the limit still finishes.
		timeout = 90*time.Second + 10*b.atLimitFor
	}
	if !b.wait(ep, tgt, timeout) {
		c := ep.cnt.snapshot()
		res.Received = c.n
		why := fmt.Sprintf("%d of %d records reached the endpoint", c.n, ph.n)
		if !tgt.alive() {
			why += "; the process exited"
		} else {
			why += fmt.Sprintf(" within %s", timeout)
		}
		if c.n > 0 {
			res.Seconds = c.last.Sub(c.first).Seconds()
		}
		return fail(fmt.Errorf("%s (endpoint calls: %s); %s", why, ep.callCounts(), tgt.diag()))
	}
	cpuAtEnd := cpuSeconds(pid)
	res.BenchCPU = processCPU(os.Getpid()) - benchAtFirst
	c := ep.cnt.snapshot()
	res.Received = c.n
	res.Seconds = c.last.Sub(c.first).Seconds()
	if res.Seconds <= 0 {
		res.Seconds = 1e-3
	}
	if res.Seconds < minWindow.Seconds() || c.n < minRecords {
		res.TooShort = fmt.Sprintf("%d records over %.2f s: below the %s / %d-record minimum; give it more records (-records)",
			c.n, res.Seconds, minWindow, minRecords)
		res.PeakRSSMiB = float64(peakRSS(pid)) / (1 << 20)
		res.Processes = len(procTree(pid))
		return res
	}
	res.RecPerSec = float64(c.n) / res.Seconds
	res.MBPerSec = res.RecPerSec * float64(ph.size) / 1e6
	res.CPUSeconds = cpuAtEnd - cpuAtFirst
	res.CPUPerM = res.CPUSeconds / float64(c.n) * 1e6
	if ph.endpoint == "limit" {
		at := b.limProxy.Counters()
		over, under := at.EntriesOverLimit-limitAtFirst.EntriesOverLimit, at.EntriesUnderLimit-limitAtFirst.EntriesUnderLimit
		if over+under > 0 {
			pct := float64(over) / float64(over+under) * 100
			res.ThrottledPct = &pct
		}
		res.KinesisRecPerSec = float64(c.kinRecords) / res.Seconds
		res.KinesisMBPerSec = float64(c.kinBytes) / res.Seconds / 1e6
		// What the shards could take over the window: their rate for its
		// length plus the burst their buckets held at its start.
		lim := faultproxy.KinesisShardLimit()
		span := (res.Seconds + lim.Burst) * float64(b.shards)
		res.OfLimit = max(float64(c.kinRecords)/(lim.RecordsPerSecond*span), float64(c.kinBytes)/(lim.BytesPerSecond*span))
	}
	if c.zero > 0 {
		res.Error = fmt.Sprintf("%d records without a readable publish time", c.zero)
	}

	if ph.paced {
		rate := res.RecPerSec / 2
		if ph.endpoint == "limit" {
			// Near the limit, where a rate limiter earns its keep.
			rate = res.RecPerSec * 0.9
		}
		n := max(int(rate*b.pacedFor.Seconds()), 1)
		ep.cnt.reset(n, true, nil)
		sent, err := paced(b.client, ph.topic, rate, b.pacedFor, ph.size)
		if err != nil {
			return fail(fmt.Errorf("paced publish: %w", err))
		}
		res.PacedRate, res.PacedN = rate, sent
		if !b.wait(ep, tgt, 60*time.Second) {
			c := ep.cnt.snapshot()
			res.Error = fmt.Sprintf("paced run: %d of %d records reached the endpoint", c.n, sent)
		}
		lat := ep.cnt.snapshot().latencies
		if len(lat) > 0 {
			slices.Sort(lat)
			res.P50Ms = ms(lat[len(lat)/2])
			res.P99Ms = ms(lat[min(len(lat)-1, int(math.Ceil(float64(len(lat))*0.99))-1)])
		}
	}
	res.PeakRSSMiB = float64(peakRSS(pid)) / (1 << 20)
	res.Processes = len(procTree(pid))
	return res
}

// rerunCount is how many records a too-short drain needs to fill 1.5 times
// the minimum window at the rate it ran at, within maxRerunBytes; 0 when
// the drain was long enough or failed.
func rerunCount(r Result, size int) int {
	if r.TooShort == "" || r.Error != "" || r.Received < 100 {
		return 0
	}
	rate := float64(r.Received) / max(r.Seconds, 0.01)
	n := max(int(rate*minWindow.Seconds()*1.5), minRecords*3/2, 2*r.Records)
	return min(n, maxRerunBytes/size)
}

// maxRerunBytes caps a re-run's backlog, which the bookie writes to disk.
const maxRerunBytes = 1 << 30

// limitRate is about how many user records of size bytes a shard takes per
// second: 1,000 Kinesis records or 1 MiB, the benchmark's partition keys
// ("key-NNN") counted, an aggregated user record costing its data, its key
// index and a few bytes of framing.
func limitRate(size int, agg bool) float64 {
	lim := faultproxy.KinesisShardLimit()
	if agg {
		return lim.BytesPerSecond / float64(size+8)
	}
	return min(lim.RecordsPerSecond, lim.BytesPerSecond/float64(size+7))
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

func (b *bench) wait(ep *endpoint, tgt target, timeout time.Duration) bool {
	done := ep.cnt.doneCh()
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return true
		case <-deadline:
			return false
		case <-tick.C:
			if !tgt.alive() {
				// Give the last response a moment to be counted.
				select {
				case <-done:
					return true
				case <-time.After(500 * time.Millisecond):
					return false
				}
			}
		}
	}
}

func (b *bench) createStream(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := b.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(b.shards))}); err != nil {
		return fmt.Errorf("kinesalite CreateStream %s: %w", name, err)
	}
	for ctx.Err() == nil {
		out, err := b.kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == "ACTIVE" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kinesalite stream %s not ACTIVE within a minute", name)
}

// deleteStream frees kinesalite's memory: it keeps every record it stored.
func (b *bench) deleteStream(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = b.kin.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %f kB", &kb)
		m.MemoryGiB = math.Round(kb/1024/1024*10) / 10
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.OtherProcs = busyProcesses()
	return m
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// busyProcesses lists the processes using CPU right now (over half a
// second), to say honestly how noisy the machine was.
func busyProcesses() []string {
	before := map[int]float64{}
	names := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			f := statFields(pid)
			if len(f) > 12 {
				u, _ := strconv.ParseFloat(f[11], 64)
				s, _ := strconv.ParseFloat(f[12], 64)
				before[pid] = u + s
				c, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
				names[pid] = strings.TrimSpace(string(c))
			}
		}
	}
	time.Sleep(500 * time.Millisecond)
	var out []string
	for pid, b0 := range before {
		f := statFields(pid)
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			s, _ := strconv.ParseFloat(f[12], 64)
			if pct := (u + s - b0) / clockTicks / 0.5 * 100; pct >= 5 {
				out = append(out, fmt.Sprintf("%s (pid %d) %.0f%% CPU", names[pid], pid, pct))
			}
		}
	}
	slices.Sort(out)
	return out
}

func gitCommit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func writeReport(rep *Report, dir string) error {
	name := "bench-" + rep.Started.Format("20060102-150405")
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return drawChart(rep, filepath.Join(dir, name+".png"))
}
