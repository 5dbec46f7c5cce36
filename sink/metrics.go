package sink

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/sink/cwmetrics"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// sinkMetrics feeds the KPL-style measurements (cwmetrics: CloudWatch and
// the kinesis_sink_* Prometheus families) and adds the two series only the
// sink knows: why records failed and which policy handled them, and how
// long Write waited for buffer space.
type sinkMetrics struct {
	kpl     *cwmetrics.Metrics
	failed  *prometheus.CounterVec
	blocked prometheus.Counter
	// Rate limiter (rateLimit), sampled from the producer's Stats.
	limited prometheus.Counter
	held    prometheus.Gauge
}

func newSinkMetrics(kpl *cwmetrics.Metrics, reg prometheus.Registerer) *sinkMetrics {
	m := &sinkMetrics{
		kpl: kpl,
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinesis_sink_records_failure_policy_total",
			Help: "Records that could not be delivered, by why (kind) and the failure policy applied."}, []string{"kind", "policy"}),
		blocked: prometheus.NewCounter(prometheus.CounterOpts{Name: "kinesis_sink_backpressure_seconds_total",
			Help: "Time Write waited for buffer space (backpressure to Pulsar)."}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{Name: "kinesis_sink_records_rate_limited_total",
			Help: "Times a record was held back by the per-shard rate limit (rateLimit) instead of being sent."}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kinesis_sink_records_rate_limit_held",
			Help: "Records waiting for their shard's rate limit (rateLimit)."}),
	}
	if reg != nil {
		reg.MustRegister(m.failed, m.blocked, m.limited, m.held)
	}
	return m
}

func (m *sinkMetrics) hooks() producer.Hooks {
	return producer.Hooks{
		OnRequest: func(ri producer.RequestInfo) {
			m.kpl.Request(ri.Stream, ri.Records, ri.Bytes, ri.Duration, ri.ErrorCode)
		},
		OnEntryError: func(ei producer.EntryErrorInfo) {
			m.kpl.EntryError(ei.Stream, ei.ShardID, ei.Code)
		},
		OnPutBlocked: func(d time.Duration) { m.blocked.Add(d.Seconds()) },
	}
}

// samplePending keeps UserRecordsPending and the rate limiter's series
// current until ctx ends.
func (m *sinkMetrics) samplePending(ctx context.Context, p *producer.Producer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var limited uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st := p.Stats()
			m.kpl.SetPending(st.BufferedRecords)
			m.limited.Add(float64(st.RateLimited - limited))
			limited = st.RateLimited
			m.held.Set(float64(st.HeldRecords))
		}
	}
}
