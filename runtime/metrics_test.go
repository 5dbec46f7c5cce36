package runtime

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var testLabels = MetricLabels{
	Tenant:     "acme",
	Namespace:  "acme/ingest",
	Name:       "to-kinesis",
	InstanceID: "0-3f2a-uid",
	Cluster:    "standalone",
	FQFN:       "acme/ingest/to-kinesis",
}

func startMetrics(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	ms := NewMetricsServer(MetricsConfig{Bind: "127.0.0.1", Gatherer: reg})
	if err := ms.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(ms.Stop)
	return "http://" + ms.Addr().String()
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s without Accept: Content-Type %q, want the classic text format the worker reads", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// checkConstLabels checks the contract's six labels (section 5) plus extra.
func checkConstLabels(t *testing.T, fam string, m *dto.Metric, extra ...string) {
	t.Helper()
	want := map[string]string{
		"tenant": "acme", "namespace": "acme/ingest", "name": "to-kinesis",
		"instance_id": "0-3f2a-uid", "cluster": "standalone", "fqfn": "acme/ingest/to-kinesis",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		want[extra[i]] = extra[i+1]
	}
	if got := labelsOf(m); !maps.Equal(got, want) {
		t.Errorf("%s labels = %v, want %v", fam, got, want)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	stats := NewStats(testLabels, reg)
	// A family the sink registers through SinkContext.Registerer.
	sinkPuts := prometheus.NewCounter(prometheus.CounterOpts{Name: "kinesis_sink_put_records_total", Help: "test"})
	reg.MustRegister(sinkPuts)
	sinkPuts.Add(5)

	before := time.Now().UnixMilli()
	for range 3 {
		stats.IncReceived()
	}
	stats.RecordSuccess(10 * time.Millisecond)
	stats.RecordSuccess(30 * time.Millisecond)
	stats.RecordUserException(errors.New("record 1: not JSON"))
	stats.RecordUserException(errors.New("record 1: not JSON")) // same text: one series
	stats.RecordSystemException(errors.New("ack: connection closed"))
	stats.RecordUserMetric("batch_records", 100)
	stats.RecordUserMetric("batch_records", 300)
	stats.SnapshotAndResetOneMinute()
	stats.IncReceived() // one in the new _1min window
	stats.RecordSuccess(4 * time.Millisecond)

	base := startMetrics(t, reg)
	for _, path := range []string{"/", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			fams := scrape(t, base+path)
			gauges := map[string]float64{
				"pulsar_function_received_total":                    4,
				"pulsar_function_processed_successfully_total":      3,
				"pulsar_function_user_exceptions_total":             2,
				"pulsar_function_system_exceptions_total":           1,
				"pulsar_function_received_total_1min":               1,
				"pulsar_function_processed_successfully_total_1min": 1,
				"pulsar_function_user_exceptions_total_1min":        0,
				"pulsar_function_system_exceptions_total_1min":      0,
			}
			for name, want := range gauges {
				f := fams[name]
				if f == nil || f.GetType() != dto.MetricType_GAUGE || len(f.GetMetric()) != 1 {
					t.Errorf("%s: family %v, want one gauge", name, f)
					continue
				}
				if got := f.GetMetric()[0].GetGauge().GetValue(); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
				checkConstLabels(t, name, f.GetMetric()[0])
			}

			if f := fams["pulsar_function_last_invocation"]; f == nil || f.GetType() != dto.MetricType_GAUGE {
				t.Errorf("pulsar_function_last_invocation missing or not a gauge: %v", f)
			} else if v := f.GetMetric()[0].GetGauge().GetValue(); v < float64(before) || v > float64(time.Now().UnixMilli()) {
				t.Errorf("last_invocation = %v, want ms since epoch around %d", v, before)
			}

			lat := fams["pulsar_function_process_latency_ms"]
			if lat == nil || lat.GetType() != dto.MetricType_SUMMARY {
				t.Fatalf("process_latency_ms: %v, want a summary", lat)
			}
			if s := lat.GetMetric()[0].GetSummary(); s.GetSampleCount() != 3 || s.GetSampleSum() != 44 {
				t.Errorf("process_latency_ms count=%d sum=%v, want 3 and 44 ms", s.GetSampleCount(), s.GetSampleSum())
			}
			checkConstLabels(t, "process_latency_ms", lat.GetMetric()[0])
			lat1 := fams["pulsar_function_process_latency_ms_1min"]
			if lat1 == nil || lat1.GetType() != dto.MetricType_SUMMARY {
				t.Fatalf("process_latency_ms_1min: %v, want a summary", lat1)
			}
			if s := lat1.GetMetric()[0].GetSummary(); s.GetSampleCount() != 1 || s.GetSampleSum() != 4 {
				t.Errorf("process_latency_ms_1min count=%d sum=%v, want 1 and 4 ms", s.GetSampleCount(), s.GetSampleSum())
			}

			ue := fams["pulsar_function_user_exception"]
			if ue == nil || len(ue.GetMetric()) != 1 || ue.GetMetric()[0].GetGauge().GetValue() != 1 {
				t.Fatalf("user_exception: %v, want one series at 1", ue)
			}
			checkConstLabels(t, "user_exception", ue.GetMetric()[0], "error", "record 1: not JSON")
			se := fams["pulsar_function_system_exception"]
			if se == nil || len(se.GetMetric()) != 1 {
				t.Fatalf("system_exception: %v, want one series", se)
			}
			checkConstLabels(t, "system_exception", se.GetMetric()[0], "error", "ack: connection closed")

			um := fams["pulsar_function_user_metric_"]
			if um == nil || um.GetType() != dto.MetricType_SUMMARY || len(um.GetMetric()) != 1 {
				t.Fatalf("user_metric_: %v, want one summary series", um)
			}
			checkConstLabels(t, "user_metric_", um.GetMetric()[0], "metric", "batch_records")
			if s := um.GetMetric()[0].GetSummary(); s.GetSampleCount() != 2 || s.GetSampleSum() != 400 {
				t.Errorf("user_metric_ count=%d sum=%v, want 2 and 400", s.GetSampleCount(), s.GetSampleSum())
			}

			if f := fams["kinesis_sink_put_records_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 5 {
				t.Errorf("sink-registered family missing or wrong: %v", f)
			}
			for name := range fams {
				if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
					t.Errorf("series %s from outside the private registry", name)
				}
			}
			wantNames := []string{
				"kinesis_sink_put_records_total",
				"pulsar_function_last_invocation",
				"pulsar_function_process_latency_ms",
				"pulsar_function_process_latency_ms_1min",
				"pulsar_function_processed_successfully_total",
				"pulsar_function_processed_successfully_total_1min",
				"pulsar_function_received_total",
				"pulsar_function_received_total_1min",
				"pulsar_function_system_exception",
				"pulsar_function_system_exceptions_total",
				"pulsar_function_system_exceptions_total_1min",
				"pulsar_function_user_exception",
				"pulsar_function_user_exceptions_total",
				"pulsar_function_user_exceptions_total_1min",
				"pulsar_function_user_metric_",
			}
			if got := slices.Sorted(maps.Keys(fams)); !slices.Equal(got, wantNames) {
				t.Errorf("families:\n got %v\nwant %v", got, wantNames)
			}
		})
	}
}

func TestMetricsEndpointOpenMetricsAndPaths(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewStats(testLabels, reg).IncReceived()
	base := startMetrics(t, reg)

	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("OpenMetrics request answered with %q", ct)
	}
	if !strings.HasSuffix(string(body), "# EOF\n") || !strings.Contains(string(body), "pulsar_function_received_total{") {
		t.Errorf("OpenMetrics body does not look right:\n%s", body)
	}

	for path, want := range map[string]int{"/nope": http.StatusNotFound, "/metrics/x": http.StatusNotFound} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err = http.Post(base+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", resp.StatusCode)
	}
}

func TestMetricsExceptionSeriesBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	stats := NewStats(testLabels, reg)
	for i := range 25 {
		stats.RecordUserException(fmt.Errorf("record %d failed", i))
	}
	stats.RecordSystemException(errors.New("bad \xff bytes")) // must not break the scrape
	fams := scrape(t, startMetrics(t, reg)+"/metrics")
	var errs []string
	for _, m := range fams["pulsar_function_user_exception"].GetMetric() {
		errs = append(errs, labelsOf(m)["error"])
	}
	slices.Sort(errs)
	var want []string
	for i := 15; i < 25; i++ {
		want = append(want, fmt.Sprintf("record %d failed", i))
	}
	slices.Sort(want)
	if !slices.Equal(errs, want) {
		t.Fatalf("user_exception series = %v, want the latest 10: %v", errs, want)
	}
	if v := fams["pulsar_function_user_exceptions_total"].GetMetric()[0].GetGauge().GetValue(); v != 25 {
		t.Errorf("user_exceptions_total = %v, want 25", v)
	}
	if got := labelsOf(fams["pulsar_function_system_exception"].GetMetric()[0])["error"]; got != "bad \uFFFD bytes" {
		t.Errorf("system_exception error label = %q", got)
	}
}

func TestMetricsServerBindFromEnvAndStop(t *testing.T) {
	t.Setenv(MetricsBindEnv, "127.0.0.1")
	reg := prometheus.NewRegistry()
	NewStats(testLabels, reg)
	ms, err := StartMetricsServer(0, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := ms.Addr().(*net.TCPAddr)
	if !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("listening on %v, want 127.0.0.1 from %s", addr, MetricsBindEnv)
	}
	scrape(t, "http://"+addr.String()+"/")
	ms.Stop()
	ms.Stop()
	if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}

	_, err = StartMetricsServer(addr.Port, nil, nil)
	if err == nil {
		t.Fatal("StartMetricsServer without a Gatherer succeeded")
	}
	t.Setenv(MetricsBindEnv, "192.0.2.1")
	_, err = StartMetricsServer(0, reg, nil)
	if err == nil || !strings.Contains(err.Error(), MetricsBindEnv+`="192.0.2.1"`) {
		t.Fatalf("bad bind error = %v, want it to name %s", err, MetricsBindEnv)
	}
}

func TestNewStatsPanicsOnDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewStats(testLabels, reg)
	defer func() {
		if recover() == nil {
			t.Fatal("second NewStats on the same registry did not panic")
		}
	}()
	NewStats(testLabels, reg)
}
