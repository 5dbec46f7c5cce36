package runtime

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricLabels are the constant labels of every pulsar_function_* series.
// The values are used verbatim; MetricLabelsFor derives them from the
// instance configuration the way the contract (section 5) prescribes.
type MetricLabels struct {
	Tenant string
	// Namespace is "tenant/namespace", not the bare namespace.
	Namespace string
	Name      string
	// InstanceID is the function id (funcID), not the instance index: that
	// is what the official instance puts in instance_id.
	InstanceID string
	Cluster    string
	// FQFN is "tenant/namespace/name".
	FQFN string
}

// MetricLabelsFor builds the contract's label values from cfg.
func MetricLabelsFor(cfg *InstanceConfig) MetricLabels {
	return MetricLabels{
		Tenant:     cfg.Tenant,
		Namespace:  cfg.Tenant + "/" + cfg.Namespace,
		Name:       cfg.Name,
		InstanceID: cfg.FuncID,
		Cluster:    cfg.ClusterName,
		FQFN:       cfg.FQFN(),
	}
}

func (l MetricLabels) prometheus() prometheus.Labels {
	// Label values must be valid UTF-8 or the whole scrape fails.
	return prometheus.Labels{
		"tenant":      cleanText(l.Tenant, maxLabelBytes),
		"namespace":   cleanText(l.Namespace, maxLabelBytes),
		"name":        cleanText(l.Name, maxLabelBytes),
		"instance_id": cleanText(l.InstanceID, maxLabelBytes),
		"cluster":     cleanText(l.Cluster, maxLabelBytes),
		"fqfn":        cleanText(l.FQFN, maxLabelBytes),
	}
}

const (
	// maxLatestExceptions is how many exceptions of each kind are kept for
	// GetFunctionStatus, as in the official instances; it also bounds the
	// number of error="..." series of the exception gauges.
	maxLatestExceptions = 10
	// maxExceptionBytes caps one exception string: it travels in every
	// status reply and as a Prometheus label value, and sink errors can
	// quote whole responses.
	maxExceptionBytes = 1024
	maxLabelBytes     = 1024
	metricPrefix      = "pulsar_function_"
)

// ExceptionInfo is one recorded failure.
type ExceptionInfo struct {
	Message string
	// MsSinceEpoch is milliseconds since the Unix epoch (the official Go
	// instance stored nanoseconds here, which pulsar-admin misreads).
	MsSinceEpoch int64
}

// StatsSnapshot is a point-in-time copy of the counters. The *1Min fields
// cover the window since the last ResetOneMinute (GetAndResetMetrics or
// ResetMetrics from the worker); the others the instance's lifetime.
type StatsSnapshot struct {
	Received         int64
	Succeeded        int64
	UserExceptions   int64
	SystemExceptions int64
	SourceExceptions int64
	SinkExceptions   int64

	Received1Min         int64
	Succeeded1Min        int64
	UserExceptions1Min   int64
	SystemExceptions1Min int64

	// AvgLatencyMs is the mean of the latencies given to RecordSuccess, in
	// milliseconds; 0 before the first success.
	AvgLatencyMs     float64
	AvgLatencyMs1Min float64
	// LastInvocationMs is when IncReceived was last called, in ms since
	// the epoch; 0 before the first record.
	LastInvocationMs int64

	// Latest exceptions of each kind, oldest first, at most 10 each.
	LatestUserExceptions   []ExceptionInfo
	LatestSystemExceptions []ExceptionInfo
	LatestSourceExceptions []ExceptionInfo
	LatestSinkExceptions   []ExceptionInfo

	// UserMetrics is the average of the values recorded per name.
	UserMetrics map[string]float64
}

// Stats counts what the instance does, for GetFunctionStatus/GetMetrics and
// the pulsar_function_* Prometheus families. It is safe for concurrent use.
// The success path (IncReceived, RecordSuccess, RecordUserMetric for a known
// name) is a handful of atomic adds and allocates nothing; Prometheus values
// are computed from the same counters only when scraped, so there is one
// source of truth for gRPC and HTTP.
type Stats struct {
	received  atomic.Int64
	succeeded atomic.Int64
	userExc   atomic.Int64
	systemExc atomic.Int64
	sourceExc atomic.Int64
	sinkExc   atomic.Int64
	// Latency is summed in microseconds: nanoseconds would overflow int64
	// within months at a few thousand records per second.
	latencyUs    atomic.Int64
	latencyCount atomic.Int64
	lastInvMs    atomic.Int64

	// window holds the _1min counters. Resetting swaps in a fresh window,
	// so a reset never mixes counts of two windows in one reply.
	window atomic.Pointer[statsWindow]

	userRing, systemRing, sourceRing, sinkRing exceptionRing

	// userMetrics maps a metric name to its *userMetric.
	userMetrics sync.Map

	collector *statsCollector
}

type statsWindow struct {
	received     atomic.Int64
	succeeded    atomic.Int64
	userExc      atomic.Int64
	systemExc    atomic.Int64
	latencyUs    atomic.Int64
	latencyCount atomic.Int64
}

type userMetric struct {
	name    string // valid UTF-8 form of the name, used for output
	sumBits atomic.Uint64
	count   atomic.Int64
}

// NewStats returns zeroed statistics and, when reg is not nil, registers
// the pulsar_function_* families on it. It panics if reg already holds
// them: that is a wiring mistake, not a runtime condition.
func NewStats(labels MetricLabels, reg prometheus.Registerer) *Stats {
	s := &Stats{}
	s.window.Store(&statsWindow{})
	s.collector = newStatsCollector(s, labels)
	if reg != nil {
		if err := reg.Register(s.collector); err != nil {
			panic("runtime: registering pulsar_function_* metrics: " + err.Error())
		}
	}
	return s
}

// IncReceived counts one record taken from Pulsar and marks the invocation
// time, as the instances do when a message arrives.
func (s *Stats) IncReceived() { s.IncReceivedAt(time.Now()) }

// IncReceivedAt is IncReceived for a record received at now, for a caller
// that has read the clock already.
func (s *Stats) IncReceivedAt(now time.Time) {
	s.received.Add(1)
	s.window.Load().received.Add(1)
	s.lastInvMs.Store(now.UnixMilli())
}

// RecordSuccess counts one record resolved successfully after latency.
func (s *Stats) RecordSuccess(latency time.Duration) {
	us := max(latency.Microseconds(), 0)
	s.succeeded.Add(1)
	s.latencyUs.Add(us)
	s.latencyCount.Add(1)
	w := s.window.Load()
	w.succeeded.Add(1)
	w.latencyUs.Add(us)
	w.latencyCount.Add(1)
}

// RecordUserException counts a record the sink failed (the contract's user
// exception: the function's own code failed).
func (s *Stats) RecordUserException(err error) {
	s.userExc.Add(1)
	s.window.Load().userExc.Add(1)
	s.userRing.add(err)
}

// RecordSystemException counts a failure of the instance machinery (acks,
// consumers, fatal errors).
func (s *Stats) RecordSystemException(err error) {
	s.systemExc.Add(1)
	s.window.Load().systemExc.Add(1)
	s.systemRing.add(err)
}

// RecordSourceException counts a failure reading from Pulsar.
func (s *Stats) RecordSourceException(err error) {
	s.sourceExc.Add(1)
	s.sourceRing.add(err)
}

// RecordSinkException counts a failure writing to the destination.
func (s *Stats) RecordSinkException(err error) {
	s.sinkExc.Add(1)
	s.sinkRing.add(err)
}

// RecordUserMetric adds one value to the user metric name (reported as its
// average over GetMetrics and as the pulsar_function_user_metric_ summary).
// Names should come from a fixed set: every distinct name is kept for the
// life of the instance.
func (s *Stats) RecordUserMetric(name string, value float64) {
	v, ok := s.userMetrics.Load(name)
	if !ok {
		v = s.newUserMetric(name)
	}
	m := v.(*userMetric)
	for {
		old := m.sumBits.Load()
		if m.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+value)) {
			break
		}
	}
	m.count.Add(1)
}

func (s *Stats) newUserMetric(name string) any {
	clean := cleanText(name, maxLabelBytes)
	v, _ := s.userMetrics.LoadOrStore(clean, &userMetric{name: clean})
	if clean != name {
		// Two raw names that clean to the same text share one series; a
		// duplicate series would make the whole scrape fail.
		v, _ = s.userMetrics.LoadOrStore(name, v)
	}
	return v
}

// Snapshot copies the current values.
func (s *Stats) Snapshot() StatsSnapshot {
	return s.snapshot(s.window.Load())
}

// SnapshotAndResetOneMinute copies the current values, then starts a new
// _1min window; the returned *1Min fields are those of the window that
// ended. This is GetAndResetMetrics.
func (s *Stats) SnapshotAndResetOneMinute() StatsSnapshot {
	return s.snapshot(s.window.Swap(&statsWindow{}))
}

// ResetOneMinute starts a new _1min window (ResetMetrics). The lifetime
// totals, latest exceptions and user metrics are kept, as the contract says.
func (s *Stats) ResetOneMinute() {
	s.window.Store(&statsWindow{})
}

func (s *Stats) snapshot(w *statsWindow) StatsSnapshot {
	snap := StatsSnapshot{
		Received:               s.received.Load(),
		Succeeded:              s.succeeded.Load(),
		UserExceptions:         s.userExc.Load(),
		SystemExceptions:       s.systemExc.Load(),
		SourceExceptions:       s.sourceExc.Load(),
		SinkExceptions:         s.sinkExc.Load(),
		Received1Min:           w.received.Load(),
		Succeeded1Min:          w.succeeded.Load(),
		UserExceptions1Min:     w.userExc.Load(),
		SystemExceptions1Min:   w.systemExc.Load(),
		AvgLatencyMs:           avgMs(s.latencyUs.Load(), s.latencyCount.Load()),
		AvgLatencyMs1Min:       avgMs(w.latencyUs.Load(), w.latencyCount.Load()),
		LastInvocationMs:       s.lastInvMs.Load(),
		LatestUserExceptions:   s.userRing.list(),
		LatestSystemExceptions: s.systemRing.list(),
		LatestSourceExceptions: s.sourceRing.list(),
		LatestSinkExceptions:   s.sinkRing.list(),
		UserMetrics:            map[string]float64{},
	}
	s.eachUserMetric(func(m *userMetric, sum float64, n int64) {
		snap.UserMetrics[m.name] = sum / float64(n)
	})
	return snap
}

// eachUserMetric calls f once per distinct metric that has values.
func (s *Stats) eachUserMetric(f func(m *userMetric, sum float64, n int64)) {
	s.userMetrics.Range(func(k, v any) bool {
		m := v.(*userMetric)
		if k.(string) != m.name {
			return true // an alias of a name that was not valid UTF-8
		}
		// Sum and count are read without a lock: a concurrent add may be in
		// one and not yet in the other, which skews one reading slightly
		// and costs the hot path nothing.
		n := m.count.Load()
		if n > 0 {
			f(m, math.Float64frombits(m.sumBits.Load()), n)
		}
		return true
	})
}

func avgMs(us, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(us) / 1000 / float64(n)
}

// exceptionRing keeps the latest maxLatestExceptions exceptions. Only the
// failure path touches it, so a mutex is fine.
type exceptionRing struct {
	mu   sync.Mutex
	buf  [maxLatestExceptions]ExceptionInfo
	next int // index of the slot to write next
	n    int
}

func (r *exceptionRing) add(err error) {
	msg := "unknown error"
	if err != nil {
		msg = cleanText(err.Error(), maxExceptionBytes)
	}
	e := ExceptionInfo{Message: msg, MsSinceEpoch: time.Now().UnixMilli()}
	r.mu.Lock()
	r.buf[r.next] = e
	r.next = (r.next + 1) % maxLatestExceptions
	if r.n < maxLatestExceptions {
		r.n++
	}
	r.mu.Unlock()
}

// list returns the kept exceptions, oldest first.
func (r *exceptionRing) list() []ExceptionInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ExceptionInfo, 0, r.n)
	start := (r.next - r.n + maxLatestExceptions) % maxLatestExceptions
	for i := 0; i < r.n; i++ {
		out = append(out, r.buf[(start+i)%maxLatestExceptions])
	}
	return out
}

// cleanText makes s valid UTF-8 (protobuf strings and Prometheus label
// values must be) and cuts it to at most limit bytes on a rune boundary.
func cleanText(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// statsCollector exposes Stats as the contract's pulsar_function_* families.
type statsCollector struct {
	s *Stats

	received, succeeded, userExc, systemExc         *prometheus.Desc
	received1m, succeeded1m, userExc1m, systemExc1m *prometheus.Desc
	lastInvocation                                  *prometheus.Desc
	latency, latency1m                              *prometheus.Desc
	userException, systemException, userMetric      *prometheus.Desc
}

func newStatsCollector(s *Stats, l MetricLabels) *statsCollector {
	cl := l.prometheus()
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricPrefix+name, help, labels, cl)
	}
	return &statsCollector{
		s:               s,
		received:        d("received_total", "Records received from Pulsar."),
		succeeded:       d("processed_successfully_total", "Records the sink resolved successfully."),
		userExc:         d("user_exceptions_total", "Records the sink failed."),
		systemExc:       d("system_exceptions_total", "Failures of the instance itself (acks, consumers, fatal errors)."),
		received1m:      d("received_total_1min", "Records received since the worker last reset the _1min metrics."),
		succeeded1m:     d("processed_successfully_total_1min", "Records resolved successfully since the worker last reset the _1min metrics."),
		userExc1m:       d("user_exceptions_total_1min", "Records failed since the worker last reset the _1min metrics."),
		systemExc1m:     d("system_exceptions_total_1min", "Instance failures since the worker last reset the _1min metrics."),
		lastInvocation:  d("last_invocation", "When the last record was received, in milliseconds since the epoch."),
		latency:         d("process_latency_ms", "Time from receiving a record to its successful resolution, in milliseconds."),
		latency1m:       d("process_latency_ms_1min", "Process latency since the worker last reset the _1min metrics, in milliseconds."),
		userException:   d("user_exception", "1 for each of the latest distinct record failure messages.", "error"),
		systemException: d("system_exception", "1 for each of the latest distinct instance failure messages.", "error"),
		userMetric:      d("user_metric_", "Values the sink recorded, by metric name.", "metric"),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.received, c.succeeded, c.userExc, c.systemExc,
		c.received1m, c.succeeded1m, c.userExc1m, c.systemExc1m,
		c.lastInvocation, c.latency, c.latency1m,
		c.userException, c.systemException, c.userMetric,
	} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	w := s.window.Load()
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	gauge(c.received, s.received.Load())
	gauge(c.succeeded, s.succeeded.Load())
	gauge(c.userExc, s.userExc.Load())
	gauge(c.systemExc, s.systemExc.Load())
	gauge(c.received1m, w.received.Load())
	gauge(c.succeeded1m, w.succeeded.Load())
	gauge(c.userExc1m, w.userExc.Load())
	gauge(c.systemExc1m, w.systemExc.Load())
	gauge(c.lastInvocation, s.lastInvMs.Load())

	n := s.latencyCount.Load()
	ch <- prometheus.MustNewConstSummary(c.latency, uint64(n), float64(s.latencyUs.Load())/1000, nil)
	n1 := w.latencyCount.Load()
	ch <- prometheus.MustNewConstSummary(c.latency1m, uint64(n1), float64(w.latencyUs.Load())/1000, nil)

	exceptionGauges(ch, c.userException, s.userRing.list())
	exceptionGauges(ch, c.systemException, s.systemRing.list())

	s.eachUserMetric(func(m *userMetric, sum float64, n int64) {
		ch <- prometheus.MustNewConstSummary(c.userMetric, uint64(n), sum, nil, m.name)
	})
}

func exceptionGauges(ch chan<- prometheus.Metric, d *prometheus.Desc, latest []ExceptionInfo) {
	seen := make(map[string]bool, len(latest))
	for _, e := range latest {
		if seen[e.Message] {
			continue
		}
		seen[e.Message] = true
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, e.Message)
	}
}
