package cwmetrics

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink/awscfg"
	"github.com/pulsar-kinesis/kinesis-sink/sink/awscfg/awstest"
)

// The CloudWatch tests run against moto (AWS_EMULATOR_ENDPOINT) with the
// client awscfg builds (the query protocol, chosen for a non-AWS endpoint).
// moto stores what it receives and serves ListMetrics and GetMetricData,
// but its GetMetricData ignores the namespace when dimensions are given and
// sums every dimension set when none are, so the exact datums (names,
// dimension sets, statistic sets, timestamps, request sizes) are checked on
// the real request bodies, recorded by awstest.Proxy on their way to moto;
// moto's read-back confirms that it accepted and stored them.

const (
	sh0, sh1 = "shardId-000000000000", "shardId-000000000001"
	pte      = "ProvisionedThroughputExceededException"
)

// s1 and s2 are stream names unique to this test process: moto's
// GetMetricData with dimensions ignores the namespace, so names reused by
// earlier runs against the same moto would add up.
var (
	runID  = time.Now().UnixNano() % 1e9
	s1, s2 = fmt.Sprintf("orders-%d", runID), fmt.Sprintf("clicks-%d", runID)
)

type env struct {
	proxy *awstest.Proxy
	cw    *cloudwatch.Client
	ns    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	moto := testenv.AWS(t)
	p := awstest.New(t, moto.Endpoint)
	c := conf.Default()
	c.AWSRegion = moto.Region
	c.AWSEndpoint = p.URL
	c.CloudwatchEndpoint = p.URL
	c.AWSCredentialPluginParam = `{"accessKey":"AKIDCWTEST","secretKey":"x"}`
	cl, err := awscfg.New(context.Background(), c, awscfg.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &env{proxy: p, cw: cl.CloudWatch, ns: fmt.Sprintf("cwmetrics-test-%d", time.Now().UnixNano())}
}

func (e *env) metrics(t *testing.T, o Options) *Metrics {
	t.Helper()
	o.Namespace = e.ns
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := New(e.cw, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recordKnown records a fixed set of events; the expectations below follow
// from it.
func recordKnown(m *Metrics, s1, s2 string) {
	for range 5 {
		m.UserRecordReceived(s1)
	}
	m.UserRecordReceived(s2)
	m.UserRecordReceived(s2)
	m.UserRecordPut(s1, sh0, 100, 0, 10*time.Millisecond)
	m.UserRecordPut(s1, sh0, 100, 0, 10*time.Millisecond)
	m.UserRecordPut(s1, sh1, 300, 2, 30*time.Millisecond)
	m.UserRecordPut(s2, sh0, 50, 1, 20*time.Millisecond)
	m.UserRecordFailed(s1, sh1, 3, true)
	m.KinesisRecordPut(s1, sh0, 2, 200)
	m.KinesisRecordPut(s1, sh1, 1, 300)
	m.KinesisRecordPut(s2, sh0, 1, 50)
	m.EntryError(s1, sh1, pte)
	m.EntryError(s1, sh1, pte)
	m.EntryError(s2, "", "InternalFailure")
	m.Request(s1, 3, 500, 40*time.Millisecond, "")
	m.Request(s1, 2, 300, 60*time.Millisecond, "")
	m.Request(s2, 1, 50, 20*time.Millisecond, "")
}

// st is an expected statistic set: count, sum, min, max.
type st [4]float64

// key of a datum: metric name and its dimensions in a fixed order.
func key(name string, dims ...string) string {
	return name + "|" + strings.Join(dims, ",")
}

func datumKey(d awstest.Datum) string {
	var dims []string
	for _, n := range []string{"ErrorCode", "StreamName", "ShardId"} {
		if v, ok := d.Dimensions[n]; ok {
			dims = append(dims, n+"="+v)
		}
	}
	return key(d.MetricName, dims...)
}

// expectedShard is what recordKnown gives at granularity shard, level
// detailed: every metric at each level it exists at.
func expectedShard(s1, s2 string) map[string]st {
	S1, S2 := "StreamName="+s1, "StreamName="+s2
	H0, H1 := "ShardId="+sh0, "ShardId="+sh1
	E, I := "ErrorCode="+pte, "ErrorCode=InternalFailure"
	return map[string]st{
		key("UserRecordsReceived", S1): {5, 5, 1, 1},
		key("UserRecordsReceived", S2): {2, 2, 1, 1},
		key("UserRecordsReceived"):     {7, 7, 1, 1},

		key("UserRecordsPut", S1, H0): {2, 2, 1, 1},
		key("UserRecordsPut", S1, H1): {2, 1, 0, 1},
		key("UserRecordsPut", S2, H0): {1, 1, 1, 1},
		key("UserRecordsPut", S1):     {4, 3, 0, 1},
		key("UserRecordsPut", S2):     {1, 1, 1, 1},
		key("UserRecordsPut"):         {5, 4, 0, 1},

		key("UserRecordsDataPut", S1, H0): {2, 200, 100, 100},
		key("UserRecordsDataPut", S1, H1): {1, 300, 300, 300},
		key("UserRecordsDataPut", S2, H0): {1, 50, 50, 50},
		key("UserRecordsDataPut", S1):     {3, 500, 100, 300},
		key("UserRecordsDataPut", S2):     {1, 50, 50, 50},
		key("UserRecordsDataPut"):         {4, 550, 50, 300},

		key("RetriesPerRecord", S1, H0): {2, 0, 0, 0},
		key("RetriesPerRecord", S1, H1): {2, 5, 2, 3},
		key("RetriesPerRecord", S2, H0): {1, 1, 1, 1},
		key("RetriesPerRecord", S1):     {4, 5, 0, 3},
		key("RetriesPerRecord", S2):     {1, 1, 1, 1},
		key("RetriesPerRecord"):         {5, 6, 0, 3},

		key("BufferingTime", S1, H0): {2, 20, 10, 10},
		key("BufferingTime", S1, H1): {1, 30, 30, 30},
		key("BufferingTime", S2, H0): {1, 20, 20, 20},
		key("BufferingTime", S1):     {3, 50, 10, 30},
		key("BufferingTime", S2):     {1, 20, 20, 20},
		key("BufferingTime"):         {4, 70, 10, 30},

		key("UserRecordExpired", S1, H1): {1, 1, 1, 1},
		key("UserRecordExpired", S1):     {1, 1, 1, 1},
		key("UserRecordExpired"):         {1, 1, 1, 1},

		key("KinesisRecordsPut", S1, H0): {1, 1, 1, 1},
		key("KinesisRecordsPut", S1, H1): {3, 1, 0, 1},
		key("KinesisRecordsPut", S2, H0): {1, 1, 1, 1},
		key("KinesisRecordsPut", S1):     {4, 2, 0, 1},
		key("KinesisRecordsPut", S2):     {2, 1, 0, 1},
		key("KinesisRecordsPut"):         {6, 3, 0, 1},

		key("KinesisRecordsDataPut", S1, H0): {1, 200, 200, 200},
		key("KinesisRecordsDataPut", S1, H1): {1, 300, 300, 300},
		key("KinesisRecordsDataPut", S2, H0): {1, 50, 50, 50},
		key("KinesisRecordsDataPut", S1):     {2, 500, 200, 300},
		key("KinesisRecordsDataPut", S2):     {1, 50, 50, 50},
		key("KinesisRecordsDataPut"):         {3, 550, 50, 300},

		key("UserRecordsPerKinesisRecord", S1, H0): {1, 2, 2, 2},
		key("UserRecordsPerKinesisRecord", S1, H1): {1, 1, 1, 1},
		key("UserRecordsPerKinesisRecord", S2, H0): {1, 1, 1, 1},
		key("UserRecordsPerKinesisRecord", S1):     {2, 3, 1, 2},
		key("UserRecordsPerKinesisRecord", S2):     {1, 1, 1, 1},
		key("UserRecordsPerKinesisRecord"):         {3, 4, 1, 2},

		key("AllErrors", S1, H0): {1, 0, 0, 0},
		key("AllErrors", S1, H1): {3, 2, 0, 1},
		key("AllErrors", S2, H0): {1, 0, 0, 0},
		key("AllErrors", S1):     {4, 2, 0, 1},
		key("AllErrors", S2):     {2, 1, 0, 1},
		key("AllErrors"):         {6, 3, 0, 1},

		key("ErrorsByCode", E, S1, H1): {2, 2, 1, 1},
		key("ErrorsByCode", E, S1):     {2, 2, 1, 1},
		key("ErrorsByCode", E):         {2, 2, 1, 1},
		key("ErrorsByCode", I, S2):     {1, 1, 1, 1},
		key("ErrorsByCode", I):         {1, 1, 1, 1},

		key("RequestTime", S1): {2, 100, 40, 60},
		key("RequestTime", S2): {1, 20, 20, 20},
		key("RequestTime"):     {3, 120, 20, 60},

		key("KinesisRecordsPerPutRecordsRequest", S1): {2, 5, 2, 3},
		key("KinesisRecordsPerPutRecordsRequest", S2): {1, 1, 1, 1},
		key("KinesisRecordsPerPutRecordsRequest"):     {3, 6, 1, 3},
	}
}

var units = map[string]string{
	"UserRecordsDataPut": "Bytes", "KinesisRecordsDataPut": "Bytes",
	"BufferingTime": "Milliseconds", "RequestTime": "Milliseconds",
}

// sent decodes every PutMetricData the proxy forwarded (and moto answered
// 200) into datums by key; a key sent twice fails the test.
func sent(t *testing.T, p *awstest.Proxy, ns string) map[string]awstest.Datum {
	t.Helper()
	out := map[string]awstest.Datum{}
	for k, ds := range sentAll(t, p, ns) {
		if len(ds) > 1 {
			t.Errorf("datum %s sent %d times", k, len(ds))
		}
		out[k] = ds[len(ds)-1]
	}
	return out
}

// sentAll is sent for several intervals: every datum of each key, in the
// order sent.
func sentAll(t *testing.T, p *awstest.Proxy, ns string) map[string][]awstest.Datum {
	t.Helper()
	out := map[string][]awstest.Datum{}
	for _, c := range p.Find("monitoring", "PutMetricData") {
		if c.Status != 200 {
			continue
		}
		gotNS, ds, err := awstest.MetricData(c)
		if err != nil {
			t.Fatal(err)
		}
		if gotNS != ns {
			continue
		}
		for _, d := range ds {
			out[datumKey(d)] = append(out[datumKey(d)], d)
		}
	}
	return out
}

func checkDatums(t *testing.T, got map[string]awstest.Datum, want map[string]st) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		d, ok := got[k]
		if !ok {
			t.Errorf("missing datum %s", k)
			continue
		}
		w := want[k]
		if g := (st{d.SampleCount, d.Sum, d.Minimum, d.Maximum}); g != w || !d.HasStats {
			t.Errorf("%s: statistics %v, want %v", k, g, w)
		}
		wantUnit := units[d.MetricName]
		if wantUnit == "" {
			wantUnit = "Count"
		}
		if d.Unit != wantUnit {
			t.Errorf("%s: unit %q, want %q", k, d.Unit, wantUnit)
		}
		if d.Timestamp == "" {
			t.Errorf("%s: no timestamp", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected datum %s", k)
		}
	}
}

// TestUploadShardGranularity: the KPL defaults (detailed, shard): names,
// dimension sets, units and statistic sets of a known set of events, and
// moto's read-back.
func TestUploadShardGranularity(t *testing.T) {
	e := newEnv(t)
	m := e.metrics(t, Options{})
	s1, s2 := s1+"-shard", s2+"-shard" // only this test queries moto by dimension
	recordKnown(m, s1, s2)
	if err := m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sent(t, e.proxy, e.ns)
	checkDatums(t, got, expectedShard(s1, s2))
	if calls := e.proxy.Find("monitoring", "PutMetricData"); len(calls) != 1 {
		t.Errorf("%d PutMetricData calls for %d datums, want 1", len(calls), len(got))
	}

	// moto stored every metric with its dimension sets...
	ctx := context.Background()
	listed := map[string]bool{}
	pager := cloudwatch.NewListMetricsPaginator(e.cw, &cloudwatch.ListMetricsInput{Namespace: aws.String(e.ns)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, mt := range page.Metrics {
			d := awstest.Datum{MetricName: aws.ToString(mt.MetricName), Dimensions: map[string]string{}}
			for _, dim := range mt.Dimensions {
				d.Dimensions[aws.ToString(dim.Name)] = aws.ToString(dim.Value)
			}
			listed[datumKey(d)] = true
		}
	}
	if want := slices.Sorted(maps.Keys(expectedShard(s1, s2))); !slices.Equal(slices.Sorted(maps.Keys(listed)), want) {
		t.Errorf("moto lists %q\nwant %q", slices.Sorted(maps.Keys(listed)), want)
	}
	// ...and serves their statistics back.
	ts, _ := time.Parse(time.RFC3339, got[key("UserRecordsPut", "StreamName="+s1)].Timestamp)
	res, err := e.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(ts.Add(-time.Minute)), EndTime: aws.Time(ts.Add(time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{
			{Id: aws.String("sum"), MetricStat: &cwtypes.MetricStat{Period: aws.Int32(120), Stat: aws.String("Sum"),
				Metric: &cwtypes.Metric{Namespace: aws.String(e.ns), MetricName: aws.String("UserRecordsPut"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(s1)}}}}},
			{Id: aws.String("n"), MetricStat: &cwtypes.MetricStat{Period: aws.Int32(120), Stat: aws.String("SampleCount"),
				Metric: &cwtypes.Metric{Namespace: aws.String(e.ns), MetricName: aws.String("UserRecordsPut"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(s1)}}}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string][]float64{}
	for _, r := range res.MetricDataResults {
		vals[aws.ToString(r.Id)] = r.Values
	}
	if !slices.Equal(vals["sum"], []float64{3}) || !slices.Equal(vals["n"], []float64{4}) {
		t.Errorf("moto GetMetricData UserRecordsPut{StreamName=%s}: %v, want Sum 3 and SampleCount 4", s1, vals)
	}
}

// project keeps the expected datums a coarser granularity or lower level
// still sends.
func project(want map[string]st, keep func(name, k string) bool) map[string]st {
	out := map[string]st{}
	for k, v := range want {
		if keep(k[:strings.Index(k, "|")], k) {
			out[k] = v
		}
	}
	return out
}

var summaryMetrics = []string{"UserRecordsPut", "KinesisRecordsPut", "ErrorsByCode", "AllErrors", "UserRecordExpired", "BufferingTime"}

func TestUploadGranularityAndLevel(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		gran  conf.MetricsGranularity
		level conf.MetricsLevel
		keep  func(name, k string) bool
	}{
		{conf.GranularityStream, conf.MetricsDetailed, func(_, k string) bool { return !strings.Contains(k, "ShardId=") }},
		{conf.GranularityGlobal, conf.MetricsDetailed, func(_, k string) bool { return !strings.Contains(k, "StreamName=") }},
		{conf.GranularityShard, conf.MetricsSummary, func(n, _ string) bool { return slices.Contains(summaryMetrics, n) }},
		{conf.GranularityShard, conf.MetricsNone, func(string, string) bool { return false }},
	} {
		t.Run(string(tc.gran)+"/"+string(tc.level), func(t *testing.T) {
			e.proxy.Reset()
			e.ns = fmt.Sprintf("cwmetrics-test-%d", time.Now().UnixNano())
			m := e.metrics(t, Options{Granularity: tc.gran, Level: tc.level})
			recordKnown(m, s1, s2)
			if err := m.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkDatums(t, sent(t, e.proxy, e.ns), project(expectedShard(s1, s2), tc.keep))
			if tc.level == conf.MetricsNone && len(e.proxy.Find("monitoring", "")) != 0 {
				t.Errorf("metricsLevel none sent %d CloudWatch requests", len(e.proxy.Find("monitoring", "")))
			}
		})
	}
}

// TestFailedUploadRetried: an upload CloudWatch refuses (as without the
// cloudwatch:PutMetricData permission) is counted, its data kept with their
// own timestamp and sent with the next interval's once CloudWatch accepts
// again; the kept data are bounded.
func TestFailedUploadRetried(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := e.metrics(t, Options{Registerer: reg, MaxBacklog: 4})
	var denied atomic.Bool
	denied.Store(true)
	e.proxy.SetFault(func(c *awstest.Call) (int, string) {
		if denied.Load() && c.Service == "monitoring" {
			return 403, "AccessDenied"
		}
		return 0, ""
	})
	ctx := context.Background()

	// Interval 1: three datums (global, stream, shard), refused.
	m.UserRecordPut(s1, sh0, 10, 0, 0)
	m.mu.Lock() // keep only UserRecordsPut in this interval
	for k := range m.series {
		if k.metric != mUserRecordsPut {
			delete(m.series, k)
		}
	}
	m.mu.Unlock()
	err := m.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("Flush with CloudWatch refusing: %v", err)
	}
	if v := gauge(t, reg, "kinesis_sink_cloudwatch_publish_failures_total", nil); v != 1 {
		t.Errorf("publish failures %v, want 1", v)
	}
	if v := gauge(t, reg, "kinesis_sink_cloudwatch_backlog_datums", nil); v != 3 {
		t.Errorf("backlog %v, want 3", v)
	}
	time.Sleep(1100 * time.Millisecond) // a later timestamp for interval 2

	// Interval 2: three datums more (UserRecordsReceived per stream and
	// global), refused: 3+3 > MaxBacklog 4, so the two oldest (interval 1's
	// shard and stream level) are dropped.
	m.UserRecordReceived(s1)
	m.UserRecordReceived(s2)
	if err := m.Flush(ctx); err == nil {
		t.Fatal("second Flush succeeded")
	}
	if v := gauge(t, reg, "kinesis_sink_cloudwatch_datums_dropped_total", nil); v != 2 {
		t.Errorf("dropped %v, want 2", v)
	}

	// CloudWatch accepts again: the 4 kept datums arrive, nothing else.
	denied.Store(false)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := sent(t, e.proxy, e.ns)
	want := slices.Sorted(slices.Values([]string{key("UserRecordsPut"), key("UserRecordsReceived"), key("UserRecordsReceived", "StreamName="+s1), key("UserRecordsReceived", "StreamName="+s2)}))
	if !slices.Equal(slices.Sorted(maps.Keys(got)), want) {
		t.Errorf("after the outage got %q, want %q", slices.Sorted(maps.Keys(got)), want)
	}
	// The survivor of interval 1 keeps its own, earlier timestamp.
	if first, second := got[key("UserRecordsPut")], got[key("UserRecordsReceived")]; first.Timestamp >= second.Timestamp || first.Sum != 1 {
		t.Errorf("interval 1 datum %+v should be kept with an earlier timestamp than %+v", first, second)
	}
	if v := gauge(t, reg, "kinesis_sink_cloudwatch_datums_published_total", nil); v != 4 {
		t.Errorf("published %v, want 4", v)
	}
	if v := gauge(t, reg, "kinesis_sink_cloudwatch_publish_failures_total", nil); v != 2 {
		t.Errorf("publish failures %v, want 2", v)
	}
}

// TestBatchLimits: more series than one request may carry are split into
// requests of at most 1000 datums and under 1 MB, and all arrive.
func TestBatchLimits(t *testing.T) {
	e := newEnv(t)
	m := e.metrics(t, Options{Level: conf.MetricsSummary})
	const shards = 1050
	for i := range shards {
		m.KinesisRecordPut(s1, fmt.Sprintf("shardId-%012d", i), 1, 10)
	}
	if err := m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// KinesisRecordsPut and AllErrors, each per shard, per stream, global.
	want := 2 * (shards + 2)
	calls := e.proxy.Find("monitoring", "PutMetricData")
	total := 0
	for _, c := range calls {
		_, ds, err := awstest.MetricData(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 1000 || len(c.Body) >= 1<<20 || c.Status != 200 {
			t.Errorf("request of %d datums, %d bytes, status %d", len(ds), len(c.Body), c.Status)
		}
		total += len(ds)
	}
	if got := len(sent(t, e.proxy, e.ns)); got != want || total != want || len(calls) < 3 {
		t.Errorf("%d distinct datums in %d requests (%d in all), want %d in at least 3", got, len(calls), total, want)
	}
}

// TestStartUploadsPeriodically: Start uploads every Interval without Flush,
// samples UserRecordsPending, and Close sends what is left.
func TestStartUploadsPeriodically(t *testing.T) {
	e := newEnv(t)
	m := e.metrics(t, Options{Interval: 1500 * time.Millisecond})
	m.SetPending(7)
	m.Start()
	m.UserRecordReceived(s1)
	testenv.WaitFor(t, 10*time.Second, func() bool {
		_, ok := sentAll(t, e.proxy, e.ns)[key("UserRecordsReceived", "StreamName="+s1)]
		return ok
	}, "a periodic upload")
	got := sentAll(t, e.proxy, e.ns)
	if p := got[key("UserRecordsPending")]; len(p) != 1 || p[0].Maximum != 7 || p[0].Minimum != 7 || p[0].SampleCount < 1 {
		t.Errorf("UserRecordsPending %+v, want samples of 7 in the first upload", p)
	}
	m.UserRecordReceived(s2)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := sentAll(t, e.proxy, e.ns)[key("UserRecordsReceived", "StreamName="+s2)]; !ok {
		t.Error("Close did not upload the last interval")
	}
	n := len(e.proxy.Find("monitoring", "PutMetricData"))
	time.Sleep(2 * time.Second)
	if len(e.proxy.Find("monitoring", "PutMetricData")) != n {
		t.Error("uploads continued after Close")
	}
}

// gauge reads one sample (counter, gauge, or histogram count) from reg.
func gauge(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return mt.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Errorf("no sample %s%v", name, labels)
	return -1
}

// TestCustomMetricCount: how many CloudWatch custom metrics (distinct name
// and dimensions) one stream of n shards costs at each metricsLevel and
// metricsGranularity, with one error code seen. docs/aws-costs.md gives
// the same formula: (names + codes) × levels + stream-level extras.
func TestCustomMetricCount(t *testing.T) {
	e := newEnv(t)
	const codes = 1
	for _, tc := range []struct {
		level conf.MetricsLevel
		gran  conf.MetricsGranularity
		// names: metrics defined at the shard level (ErrorsByCode aside);
		// extra: those defined at the stream level or globally.
		names int
		extra func(levels int) int
	}{
		{conf.MetricsDetailed, conf.GranularityShard, 9, func(int) int { return 3*2 + 1 }},
		{conf.MetricsDetailed, conf.GranularityStream, 9, func(int) int { return 3*2 + 1 }},
		{conf.MetricsDetailed, conf.GranularityGlobal, 9, func(int) int { return 3 + 1 }},
		{conf.MetricsSummary, conf.GranularityShard, 5, func(int) int { return 0 }},
		{conf.MetricsSummary, conf.GranularityStream, 5, func(int) int { return 0 }},
		{conf.MetricsSummary, conf.GranularityGlobal, 5, func(int) int { return 0 }},
	} {
		for _, shards := range []int{1, 4, 16} {
			t.Run(fmt.Sprintf("%s/%s/%d", tc.level, tc.gran, shards), func(t *testing.T) {
				e.proxy.Reset()
				e.ns = fmt.Sprintf("cwmetrics-count-%d", time.Now().UnixNano())
				m := e.metrics(t, Options{Granularity: tc.gran, Level: tc.level})
				stream := fmt.Sprintf("count-%d", runID)
				m.UserRecordReceived(stream)
				m.Request(stream, 2, 200, time.Millisecond, "")
				for i := range shards {
					shard := fmt.Sprintf("shardId-%012d", i)
					m.KinesisRecordPut(stream, shard, 1, 100)
					m.UserRecordPut(stream, shard, 100, 1, time.Millisecond)
					m.UserRecordFailed(stream, shard, 3, true)
					m.EntryError(stream, shard, pte)
				}
				// What the upload loop's sampler records every second.
				m.mu.Lock()
				m.addLocked(mUserRecordsPending, "", "", "", 1)
				m.mu.Unlock()
				if err := m.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				levels := map[conf.MetricsGranularity]int{conf.GranularityShard: shards + 2, conf.GranularityStream: 2, conf.GranularityGlobal: 1}[tc.gran]
				want := (tc.names+codes)*levels + tc.extra(levels)
				if got := len(sent(t, e.proxy, e.ns)); got != want {
					t.Errorf("%d custom metrics, the formula says %d", got, want)
				}
			})
		}
	}
}
