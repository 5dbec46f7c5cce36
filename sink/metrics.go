package sink

import (
	"context"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/sink/cwmetrics"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// sinkMetrics feeds the sink's measurements (cwmetrics: CloudWatch under the
// KPL's names, and every kinesis_sink_* Prometheus family) from the
// producer's hooks and statistics.
type sinkMetrics struct {
	kpl *cwmetrics.Metrics
}

func newSinkMetrics(kpl *cwmetrics.Metrics) *sinkMetrics {
	return &sinkMetrics{kpl: kpl}
}

func (m *sinkMetrics) hooks() producer.Hooks {
	return producer.Hooks{
		OnRequest: func(ri producer.RequestInfo) {
			m.kpl.Request(ri.Stream, ri.Records, ri.Bytes, ri.Duration, ri.ErrorCode)
		},
		OnEntryError: func(ei producer.EntryErrorInfo) {
			m.kpl.EntryError(ei.Stream, ei.ShardID, ei.Code)
		},
		OnPutBlocked: m.kpl.PutBlocked,
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
			m.kpl.SetRateLimit(st.RateLimited-limited, st.HeldRecords)
			limited = st.RateLimited
		}
	}
}
