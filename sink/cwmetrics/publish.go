package cwmetrics

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

// PutMetricData service limits.
const (
	maxDatumsPerRequest = 1000
	// maxRequestBytes keeps the estimated request under the 1 MB limit with
	// room for the envelope.
	maxRequestBytes = 900_000
)

// estimateSize is an upper bound of a datum's size in the most verbose
// protocol (query: every field repeats "MetricData.member.N." and values
// may be percent-encoded to three bytes per byte).
func estimateSize(d *datum) int {
	return 1000 + 3*(len(metrics[d.key.metric].name)+len(d.key.stream)+len(d.key.shard)+len(d.key.code))
}

// permanentCodes are errors that retrying the same data cannot fix.
var permanentCodes = map[string]bool{
	"InvalidParameterValue":             true,
	"InvalidParameterCombination":       true,
	"MissingParameter":                  true,
	"InvalidParameterValueException":    true,
	"MissingRequiredParameterException": true,
}

// publish sends the backlog and then fresh, in requests within the service
// limits. On a failed request it keeps what was not sent (bounded by
// MaxBacklog) for the next publication and returns the error. m.pubMu must
// be held.
func (m *Metrics) publish(ctx context.Context, fresh []datum) error {
	pending := make([]datum, 0, len(m.backlog)+len(fresh))
	pending = append(pending, m.backlog...)
	pending = append(pending, fresh...)
	m.backlog = nil
	var firstErr error
	for len(pending) > 0 {
		n, size := 0, 0
		for n < len(pending) && n < maxDatumsPerRequest {
			s := estimateSize(&pending[n])
			if n > 0 && size+s > maxRequestBytes {
				break
			}
			size += s
			n++
		}
		cctx, cancel := context.WithTimeout(ctx, m.opts.PublishTimeout)
		_, err := m.cw.PutMetricData(cctx, m.input(pending[:n]))
		cancel()
		if err == nil {
			m.prom.published.Add(float64(n))
			pending = pending[n:]
			continue
		}
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && permanentCodes[apiErr.ErrorCode()] {
			m.prom.publishFailures.Inc()
			m.prom.dropped.Add(float64(n))
			m.log.Error("cwmetrics: CloudWatch rejected metrics; dropping them", "datums", n, "error", errtext.OneLine(err.Error()))
			if firstErr == nil {
				firstErr = fmt.Errorf("cwmetrics: PutMetricData: %s", errtext.OneLine(err.Error()))
			}
			pending = pending[n:]
			continue
		}
		m.prom.publishFailures.Inc()
		kept := len(pending)
		if kept > m.opts.MaxBacklog {
			m.prom.dropped.Add(float64(kept - m.opts.MaxBacklog))
			pending = pending[kept-m.opts.MaxBacklog:]
		}
		// A fresh slice: the backlog must not pin the large array.
		m.backlog = append([]datum(nil), pending...)
		m.prom.backlog.Set(float64(len(m.backlog)))
		m.log.Warn("cwmetrics: CloudWatch upload failed; keeping the metrics for the next upload",
			"kept", len(m.backlog), "dropped", kept-len(m.backlog), "error", errtext.OneLine(err.Error()))
		if firstErr == nil {
			firstErr = fmt.Errorf("cwmetrics: PutMetricData: %s", errtext.OneLine(err.Error()))
		}
		return firstErr
	}
	m.prom.backlog.Set(0)
	return firstErr
}

var (
	dimErrorCode  = aws.String("ErrorCode")
	dimStreamName = aws.String("StreamName")
	dimShardID    = aws.String("ShardId")
)

func (m *Metrics) input(ds []datum) *cloudwatch.PutMetricDataInput {
	md := make([]types.MetricDatum, len(ds))
	for i := range ds {
		d := &ds[i]
		def := &metrics[d.key.metric]
		var dims []types.Dimension
		if d.key.code != "" {
			dims = append(dims, types.Dimension{Name: dimErrorCode, Value: aws.String(d.key.code)})
		}
		if d.key.stream != "" {
			// The KPL's dimension is the stream's name, also for a stream
			// the sink was given by ARN.
			dims = append(dims, types.Dimension{Name: dimStreamName, Value: aws.String(kinesisrules.StreamName(d.key.stream))})
		}
		if d.key.shard != "" {
			dims = append(dims, types.Dimension{Name: dimShardID, Value: aws.String(d.key.shard)})
		}
		md[i] = types.MetricDatum{
			MetricName: aws.String(def.name),
			Dimensions: dims,
			Unit:       def.unit,
			Timestamp:  aws.Time(d.at),
			StatisticValues: &types.StatisticSet{
				SampleCount: aws.Float64(d.st.count),
				Sum:         aws.Float64(d.st.sum),
				Minimum:     aws.Float64(d.st.min),
				Maximum:     aws.Float64(d.st.max),
			},
		}
	}
	return &cloudwatch.PutMetricDataInput{Namespace: aws.String(m.opts.Namespace), MetricData: md}
}
