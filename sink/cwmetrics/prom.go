package cwmetrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/internal/version"
)

const promNamespace = "kinesis_sink"

// promFamilies are the Prometheus families. Labels: stream (the Kinesis
// stream) and code (the Kinesis error code); never the shard, whose count
// is unbounded over resharding.
type promFamilies struct {
	received, put, failed, expired, dataPut *prometheus.CounterVec
	krPut, krDataPut, requestBytes          *prometheus.CounterVec
	entryErrors, requestErrors              *prometheus.CounterVec
	pending                                 prometheus.Gauge
	requestDur, buffering, retries          *prometheus.HistogramVec
	urPerKr, krPerReq                       *prometheus.HistogramVec

	publishFailures, published, dropped prometheus.Counter
	backlog                             prometheus.Gauge

	// Series only the sink and its producer know of, with no KPL name.
	policyFailed         *prometheus.CounterVec
	blocked, rateLimited prometheus.Counter
	rateLimitHeld        prometheus.Gauge
	// buildInfo is 1 for the running build: during a rolled update it says
	// which instances run the new binary.
	buildInfo *prometheus.GaugeVec
}

// streamHandles are one stream's children, looked up once so that
// recording is a map hit and atomic adds.
type streamHandles struct {
	received, put, failed, expired, dataPut prometheus.Counter
	krPut, krDataPut, requestBytes          prometheus.Counter
	requestDur, buffering, retries          prometheus.Observer
	urPerKr, krPerReq                       prometheus.Observer
}

type errorHandles struct {
	entries, requests prometheus.Counter
}

func newPromFamilies(reg prometheus.Registerer) (*promFamilies, error) {
	var firstErr error
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: promNamespace, Name: name, Help: help}, labels), &firstErr)
	}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: promNamespace, Name: name, Help: help, Buckets: buckets}, []string{"stream"}), &firstErr)
	}
	p := &promFamilies{
		received:      counter("user_records_received_total", "User records received by the sink (KPL UserRecordsReceived).", "stream"),
		put:           counter("user_records_put_total", "User records written to Kinesis (KPL UserRecordsPut).", "stream"),
		failed:        counter("user_records_failed_total", "User records the sink gave up on, expired ones included.", "stream"),
		expired:       counter("user_records_expired_total", "User records that ran out of recordTtl (KPL UserRecordExpired).", "stream"),
		dataPut:       counter("user_records_data_put_bytes_total", "Data bytes of the user records written (KPL UserRecordsDataPut).", "stream"),
		krPut:         counter("kinesis_records_put_total", "Kinesis records (PutRecords entries) accepted (KPL KinesisRecordsPut).", "stream"),
		krDataPut:     counter("kinesis_records_data_put_bytes_total", "Data bytes of the Kinesis records accepted (KPL KinesisRecordsDataPut).", "stream"),
		requestBytes:  counter("request_bytes_total", "Data and partition key bytes sent in PutRecords calls, retries included.", "stream"),
		entryErrors:   counter("errors_total", "Kinesis records not accepted, by error code, once per record and attempt (KPL ErrorsByCode).", "stream", "code"),
		requestErrors: counter("request_errors_total", "PutRecords calls that failed as a whole, by error code.", "stream", "code"),
		pending: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: promNamespace, Name: "user_records_pending",
			Help: "User records held by the sink, buffered or in flight (KPL UserRecordsPending)."}), &firstErr),
		requestDur: hist("request_duration_seconds", "Duration of PutRecords calls (KPL RequestTime).",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}),
		buffering: hist("buffering_time_seconds", "Time from receiving a user record to sending it (KPL BufferingTime).",
			[]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}),
		retries: hist("retries_per_record", "Retries per finished user record (KPL RetriesPerRecord).",
			[]float64{0, 1, 2, 3, 5, 10, 20, 50}),
		urPerKr: hist("user_records_per_kinesis_record", "User records per accepted Kinesis record; 1 without aggregation (KPL UserRecordsPerKinesisRecord).",
			[]float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}),
		krPerReq: hist("kinesis_records_per_request", "Kinesis records per PutRecords call (KPL KinesisRecordsPerPutRecordsRequest).",
			[]float64{1, 5, 10, 25, 50, 100, 250, 500}),
		publishFailures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: promNamespace, Name: "cloudwatch_publish_failures_total",
			Help: "Failed CloudWatch PutMetricData calls."}), &firstErr),
		published: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: promNamespace, Name: "cloudwatch_datums_published_total",
			Help: "Metric datums uploaded to CloudWatch."}), &firstErr),
		dropped: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: promNamespace, Name: "cloudwatch_datums_dropped_total",
			Help: "Metric datums given up: over the retry backlog bound, or rejected by CloudWatch."}), &firstErr),
		backlog: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: promNamespace, Name: "cloudwatch_backlog_datums",
			Help: "Metric datums kept for retry after failed uploads."}), &firstErr),
		policyFailed: counter("records_failure_policy_total", "Records that could not be delivered, by why (kind) and the failure policy applied.", "kind", "policy"),
		blocked: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: promNamespace, Name: "backpressure_seconds_total",
			Help: "Time Write waited for buffer space (backpressure to Pulsar)."}), &firstErr),
		rateLimited: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: promNamespace, Name: "records_rate_limited_total",
			Help: "Times a record was held back by the per-shard rate limit (rateLimit) instead of being sent."}), &firstErr),
		rateLimitHeld: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: promNamespace, Name: "records_rate_limit_held",
			Help: "Records waiting for their shard's rate limit (rateLimit)."}), &firstErr),
		buildInfo: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: promNamespace, Name: "build_info",
			Help: "1, labelled with the version and commit of the running binary."}, []string{"version", "commit"}), &firstErr),
	}
	p.buildInfo.WithLabelValues(version.Resolved()).Set(1)
	return p, firstErr
}

// register registers c, or returns the identical collector already
// registered (several Metrics on one registry share their families).
func register[T prometheus.Collector](reg prometheus.Registerer, c T, firstErr *error) T {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	if *firstErr == nil {
		*firstErr = fmt.Errorf("cwmetrics: registering Prometheus metrics: %w", err)
	}
	return c
}

// handlesLocked returns the stream's Prometheus children. m.mu must be held.
func (m *Metrics) handlesLocked(stream string) *streamHandles {
	if h := m.streams[stream]; h != nil {
		return h
	}
	p := m.prom
	h := &streamHandles{
		received:     p.received.WithLabelValues(stream),
		put:          p.put.WithLabelValues(stream),
		failed:       p.failed.WithLabelValues(stream),
		expired:      p.expired.WithLabelValues(stream),
		dataPut:      p.dataPut.WithLabelValues(stream),
		krPut:        p.krPut.WithLabelValues(stream),
		krDataPut:    p.krDataPut.WithLabelValues(stream),
		requestBytes: p.requestBytes.WithLabelValues(stream),
		requestDur:   p.requestDur.WithLabelValues(stream),
		buffering:    p.buffering.WithLabelValues(stream),
		retries:      p.retries.WithLabelValues(stream),
		urPerKr:      p.urPerKr.WithLabelValues(stream),
		krPerReq:     p.krPerReq.WithLabelValues(stream),
	}
	m.streams[stream] = h
	return h
}

// errorHandlesLocked returns the (stream, code) children. m.mu must be held.
func (m *Metrics) errorHandlesLocked(stream, code string) errorHandles {
	k := [2]string{stream, code}
	if h, ok := m.errs[k]; ok {
		return h
	}
	h := errorHandles{
		entries:  m.prom.entryErrors.WithLabelValues(stream, code),
		requests: m.prom.requestErrors.WithLabelValues(stream, code),
	}
	m.errs[k] = h
	return h
}
