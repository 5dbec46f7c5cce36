package sink

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// sinkMetrics are the sink's own Prometheus series, served on the
// instance's metrics port beside the pulsar_function_* families.
type sinkMetrics struct {
	received prometheus.Counter
	put      *prometheus.CounterVec
	failed   *prometheus.CounterVec
	requests *prometheus.CounterVec
	reqTime  prometheus.Histogram
	entryErr *prometheus.CounterVec
	blocked  prometheus.Counter
}

func newSinkMetrics(reg prometheus.Registerer) *sinkMetrics {
	m := &sinkMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "kinesis_sink_user_records_received_total",
			Help: "Records handed to the sink by the runtime."}),
		put: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinesis_sink_user_records_put_total",
			Help: "Records Kinesis accepted."}, []string{"stream"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinesis_sink_user_records_failed_total",
			Help: "Records that could not be delivered, by why and by the failure policy applied."}, []string{"kind", "policy"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinesis_sink_put_records_requests_total",
			Help: "PutRecords calls, by stream and whole-call error code (\"\" when the call got a response)."}, []string{"stream", "code"}),
		reqTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kinesis_sink_put_records_duration_seconds",
			Help: "PutRecords call duration.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		entryErr: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinesis_sink_entry_errors_total",
			Help: "Entries Kinesis did not accept, by error code and whether they are retried."}, []string{"stream", "code", "retried"}),
		blocked: prometheus.NewCounter(prometheus.CounterOpts{Name: "kinesis_sink_backpressure_seconds_total",
			Help: "Time Write waited for buffer space (backpressure to Pulsar)."}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.put, m.failed, m.requests, m.reqTime, m.entryErr, m.blocked)
	}
	return m
}

func (m *sinkMetrics) hooks() producer.Hooks {
	return producer.Hooks{
		OnRequest: func(ri producer.RequestInfo) {
			m.requests.WithLabelValues(ri.Stream, ri.ErrorCode).Inc()
			m.reqTime.Observe(ri.Duration.Seconds())
		},
		OnEntryError: func(ei producer.EntryErrorInfo) {
			r := "false"
			if ei.Retried {
				r = "true"
			}
			m.entryErr.WithLabelValues(ei.Stream, ei.Code, r).Inc()
		},
		OnPutBlocked: func(d time.Duration) { m.blocked.Add(d.Seconds()) },
	}
}
