// Package cwmetrics measures the sink the way the KPL does and publishes the
// measurements twice: to CloudWatch, as KPL-style metrics (same names, units,
// levels, granularity and namespace, so existing KPL dashboards and alarms
// keep working), and to Prometheus, as kinesis_sink_* families that are
// always served, whatever metricsLevel says.
//
// # Use
//
//	m, err := cwmetrics.New(clients.CloudWatch, cwmetrics.FromConfig(cfg, logger, registerer))
//	m.Start()
//	defer m.Close(ctx) // final upload
//
// then, from the send path (every method is safe for concurrent use, never
// blocks on I/O and, once a stream's series exist, does not allocate):
//
//	m.UserRecordReceived(stream)                         // a record entered the sink
//	m.SetPending(n)                                      // records held (buffered or in flight)
//	m.Request(stream, records, bytes, took, code)        // one PutRecords call; code "" unless it failed as a whole
//	m.KinesisRecordPut(stream, shard, userRecords, size) // an entry Kinesis accepted
//	m.EntryError(stream, shard, code)                    // an entry Kinesis did not accept
//	m.UserRecordPut(stream, shard, size, retries, buffered)
//	m.UserRecordFailed(stream, shard, retries, expired)  // the sink gave up on a record
//
// producer.Hooks map directly: OnRequest to Request, OnEntryError to
// EntryError (it reports every entry of a request that failed as a whole,
// which is how the KPL counts errors too: once per Kinesis record).
//
// # CloudWatch
//
// Every measurement is aggregated per upload interval (metricsUploadDelay,
// default 60 s) into a StatisticSet (SampleCount, Sum, Minimum, Maximum) per
// metric and dimension set, so one PutMetricData carries up to 1000 metrics
// (and stays under 1 MB). As in the KPL, metricsGranularity "shard" sends
// each metric with {StreamName, ShardId}, again with {StreamName} and again
// with no dimension; "stream" drops the shard level, "global" keeps only the
// last; ErrorsByCode always adds ErrorCode. Metrics not defined at the shard
// level (UserRecordsReceived, RequestTime, KinesisRecordsPerPutRecordsRequest)
// stop at the stream level, UserRecordsPending is global. metricsLevel
// "summary" sends only the summary metrics, "none" nothing (and with no
// CloudWatch client nothing is uploaded either).
//
// A failed upload is logged (the SDK's error text, which holds no secret),
// counted in kinesis_sink_cloudwatch_publish_failures_total, and its data
// kept, with their original timestamps, to be sent again with the next
// interval's; at most Options.MaxBacklog datums are kept (the oldest are
// dropped and counted), so an outage cannot grow memory without bound.
// Records are never failed because of metrics.
package cwmetrics

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// CloudWatchAPI is the part of *cloudwatch.Client the publisher uses.
type CloudWatchAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Defaults of Options.
const (
	DefaultInterval       = 60 * time.Second
	DefaultMaxBacklog     = 20000
	DefaultPublishTimeout = 30 * time.Second
	// pendingSampleEvery is how often UserRecordsPending is sampled for
	// CloudWatch (the KPL also samples it periodically).
	pendingSampleEvery = time.Second
)

// Options configure New. Zero values take the defaults, which are the KPL's.
type Options struct {
	// Namespace of the CloudWatch metrics (default KinesisProducerLibrary).
	Namespace string
	// Level: none, summary or detailed (default detailed). "none" uploads
	// nothing to CloudWatch; Prometheus is unaffected.
	Level conf.MetricsLevel
	// Granularity: global, stream or shard (default shard).
	Granularity conf.MetricsGranularity
	// Interval between two uploads (default 60 s).
	Interval time.Duration
	// MaxBacklog bounds the datums kept for retry after failed uploads
	// (default 20000, a few MB).
	MaxBacklog int
	// PublishTimeout bounds one PutMetricData call (default 30 s).
	PublishTimeout time.Duration
	// Logger receives upload failures; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the kinesis_sink_* Prometheus families; nil
	// means they are kept but not registered anywhere. A family already
	// registered (by another Metrics on the same registry) is shared.
	Registerer prometheus.Registerer
}

// FromConfig returns the Options that the sink configuration sets.
func FromConfig(cfg *conf.Config, log *slog.Logger, reg prometheus.Registerer) Options {
	return Options{
		Namespace:   cfg.MetricsNamespace,
		Level:       cfg.MetricsLevel,
		Granularity: cfg.MetricsGranularity,
		Interval:    cfg.MetricsUploadDelay(),
		Logger:      log,
		Registerer:  reg,
	}
}

// Metrics records the sink's measurements and publishes them. Create it
// with New.
type Metrics struct {
	cw       CloudWatchAPI // nil: no CloudWatch upload
	opts     Options
	maxLevel int // of the metrics aggregated for CloudWatch; 0: none
	gran     granularity
	log      *slog.Logger
	prom     *promFamilies

	pending atomic.Int64

	mu      sync.Mutex
	series  map[seriesKey]*stat
	streams map[string]*streamHandles
	errs    map[[2]string]errorHandles

	pubMu   sync.Mutex // one publication at a time
	backlog []datum    // failed uploads, oldest first
	snap    []snapEntry

	startOnce, closeOnce sync.Once
	stop                 chan struct{}
	done                 chan struct{}
}

// New returns Metrics publishing to cw (nil: no CloudWatch upload, only
// Prometheus). Call Start to upload periodically and Close to stop.
func New(cw CloudWatchAPI, o Options) (*Metrics, error) {
	if o.Namespace == "" {
		o.Namespace = conf.DefaultMetricsNamespace
	}
	if o.Level == "" {
		o.Level = conf.MetricsDetailed
	}
	if o.Granularity == "" {
		o.Granularity = conf.GranularityShard
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxBacklog <= 0 {
		o.MaxBacklog = DefaultMaxBacklog
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if strings.HasPrefix(o.Namespace, "AWS/") || len(o.Namespace) > 255 {
		return nil, fmt.Errorf("cwmetrics: namespace %q: must be 1-255 characters, not starting with \"AWS/\"", o.Namespace)
	}
	m := &Metrics{
		cw:      cw,
		opts:    o,
		log:     o.Logger,
		series:  map[seriesKey]*stat{},
		streams: map[string]*streamHandles{},
		errs:    map[[2]string]errorHandles{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	switch o.Level {
	case conf.MetricsNone:
	case conf.MetricsSummary:
		m.maxLevel = levelSummary
	case conf.MetricsDetailed:
		m.maxLevel = levelDetailed
	default:
		return nil, fmt.Errorf("cwmetrics: level %q: allowed none, summary, detailed", o.Level)
	}
	switch o.Granularity {
	case conf.GranularityGlobal:
		m.gran = granGlobal
	case conf.GranularityStream:
		m.gran = granStream
	case conf.GranularityShard:
		m.gran = granShard
	default:
		return nil, fmt.Errorf("cwmetrics: granularity %q: allowed global, stream, shard", o.Granularity)
	}
	if cw == nil {
		m.maxLevel = 0
	}
	var err error
	if m.prom, err = newPromFamilies(o.Registerer); err != nil {
		return nil, err
	}
	return m, nil
}

// Start begins uploading every Interval (and sampling UserRecordsPending).
// Without CloudWatch it does nothing. Calling it again has no effect.
func (m *Metrics) Start() {
	m.startOnce.Do(func() {
		if m.maxLevel == 0 {
			close(m.done)
			return
		}
		go m.loop()
	})
}

// Close stops the uploads and uploads what was recorded since the last one
// (and the backlog), within ctx. It returns the error of that last upload.
// Recording after Close is harmless but not uploaded.
func (m *Metrics) Close(ctx context.Context) error {
	var err error
	m.closeOnce.Do(func() {
		close(m.stop)
		m.startOnce.Do(func() { close(m.done) })
		<-m.done
		err = m.Flush(ctx)
	})
	return err
}

// Flush uploads now what was recorded since the last upload, and the
// backlog. It returns the first upload error (the data are then kept for
// the next attempt).
func (m *Metrics) Flush(ctx context.Context) error {
	if m.maxLevel == 0 {
		return nil
	}
	m.pubMu.Lock()
	defer m.pubMu.Unlock()
	now := time.Now()
	fresh := m.snapshot(now)
	return m.publish(ctx, fresh)
}

func (m *Metrics) loop() {
	defer close(m.done)
	upload := time.NewTicker(m.opts.Interval)
	defer upload.Stop()
	sample := time.NewTicker(pendingSampleEvery)
	defer sample.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-sample.C:
			v := float64(m.pending.Load())
			m.mu.Lock()
			m.addLocked(mUserRecordsPending, "", "", "", v)
			m.mu.Unlock()
		case <-upload.C:
			ctx, cancel := context.WithTimeout(context.Background(), m.opts.Interval)
			_ = m.Flush(ctx) // logged and counted by publish
			cancel()
		}
	}
}

// UserRecordReceived counts a record that entered the sink.
func (m *Metrics) UserRecordReceived(stream string) {
	m.mu.Lock()
	h := m.handlesLocked(stream)
	m.addLocked(mUserRecordsReceived, stream, "", "", 1)
	m.mu.Unlock()
	h.received.Inc()
}

// SetPending sets how many records the sink holds (buffered or in flight).
// It is one atomic store; call it as often as convenient.
func (m *Metrics) SetPending(n int) {
	m.pending.Store(int64(n))
	m.prom.pending.Set(float64(n))
}

// RecordFailed counts a record that the failure policy handled, by why it
// failed (kind) and the policy. Prometheus only: the KPL has no such metric.
func (m *Metrics) RecordFailed(kind, policy string) {
	m.prom.policyFailed.WithLabelValues(kind, policy).Inc()
}

// PutBlocked adds time the sink waited for buffer space (backpressure).
// Prometheus only.
func (m *Metrics) PutBlocked(d time.Duration) { m.prom.blocked.Add(d.Seconds()) }

// SetRateLimit adds records newly held back by the per-shard rate limit and
// sets how many wait for it now. Prometheus only.
func (m *Metrics) SetRateLimit(newlyLimited uint64, held int) {
	m.prom.rateLimited.Add(float64(newlyLimited))
	m.prom.rateLimitHeld.Set(float64(held))
}

// UserRecordPut records a user record written to Kinesis: its data size,
// how many times it was retried (0 if the first attempt succeeded) and how
// long it waited in the sink before it was first sent.
func (m *Metrics) UserRecordPut(stream, shard string, dataBytes, retries int, buffered time.Duration) {
	ms := float64(buffered) / float64(time.Millisecond)
	m.mu.Lock()
	h := m.handlesLocked(stream)
	m.addLocked(mUserRecordsPut, stream, shard, "", 1)
	m.addLocked(mUserRecordsDataPut, stream, shard, "", float64(dataBytes))
	m.addLocked(mRetriesPerRecord, stream, shard, "", float64(retries))
	m.addLocked(mBufferingTime, stream, shard, "", ms)
	m.mu.Unlock()
	h.put.Inc()
	h.dataPut.Add(float64(dataBytes))
	h.retries.Observe(float64(retries))
	h.buffering.Observe(buffered.Seconds())
}

// UserRecordFailed records a user record the sink gave up on; expired says
// it ran out of recordTtl. shard may be "" (unknown).
func (m *Metrics) UserRecordFailed(stream, shard string, retries int, expired bool) {
	m.mu.Lock()
	h := m.handlesLocked(stream)
	// The KPL puts 0 for a failed record, so that the average of
	// UserRecordsPut is the success rate.
	m.addLocked(mUserRecordsPut, stream, shard, "", 0)
	m.addLocked(mRetriesPerRecord, stream, shard, "", float64(retries))
	if expired {
		m.addLocked(mUserRecordExpired, stream, shard, "", 1)
	}
	m.mu.Unlock()
	h.failed.Inc()
	h.retries.Observe(float64(retries))
	if expired {
		h.expired.Inc()
	}
}

// KinesisRecordPut records a Kinesis record (PutRecords entry) Kinesis
// accepted: how many user records it carries (1 without aggregation) and
// its data size.
func (m *Metrics) KinesisRecordPut(stream, shard string, userRecords, bytes int) {
	m.mu.Lock()
	h := m.handlesLocked(stream)
	m.addLocked(mKinesisRecordsPut, stream, shard, "", 1)
	m.addLocked(mKinesisRecordsDataPut, stream, shard, "", float64(bytes))
	// A 0 per success makes the average of AllErrors the error rate.
	m.addLocked(mAllErrors, stream, shard, "", 0)
	m.addLocked(mUserRecordsPerKinesisRecord, stream, shard, "", float64(userRecords))
	m.mu.Unlock()
	h.krPut.Inc()
	h.krDataPut.Add(float64(bytes))
	h.urPerKr.Observe(float64(userRecords))
}

// EntryError records a Kinesis record that Kinesis did not accept, with its
// error code; shard is "" when unknown. Call it once per entry, also for the
// entries of a request that failed as a whole.
func (m *Metrics) EntryError(stream, shard, code string) {
	code = errorCode(code)
	m.mu.Lock()
	eh := m.errorHandlesLocked(stream, code)
	m.addLocked(mKinesisRecordsPut, stream, shard, "", 0)
	m.addLocked(mErrorsByCode, stream, shard, code, 1)
	m.addLocked(mAllErrors, stream, shard, "", 1)
	m.mu.Unlock()
	eh.entries.Inc()
}

// Request records one PutRecords call: the Kinesis records and bytes it
// carried, how long it took, and errCode when it failed as a whole ("" when
// Kinesis answered, even with per-entry failures).
func (m *Metrics) Request(stream string, records, bytes int, took time.Duration, errCode string) {
	m.mu.Lock()
	h := m.handlesLocked(stream)
	m.addLocked(mRequestTime, stream, "", "", float64(took)/float64(time.Millisecond))
	m.addLocked(mKinesisRecordsPerPutRecordsRequest, stream, "", "", float64(records))
	var eh errorHandles
	if errCode != "" {
		eh = m.errorHandlesLocked(stream, errorCode(errCode))
	}
	m.mu.Unlock()
	h.requestDur.Observe(took.Seconds())
	h.krPerReq.Observe(float64(records))
	h.requestBytes.Add(float64(bytes))
	if eh.requests != nil {
		eh.requests.Inc()
	}
}

// errorCode bounds a dimension value: CloudWatch allows 1-255 characters.
func errorCode(code string) string {
	switch {
	case code == "":
		return "Unknown"
	case len(code) > 255:
		return code[:255]
	}
	return code
}
