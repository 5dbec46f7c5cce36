// Package sink is the Kinesis sink: it turns each Pulsar record into a
// Kinesis record (format), decides where it goes (route), hands it to the
// producer (batch, put, retry), and resolves the Pulsar record when Kinesis
// has accepted it or the failure policy has dealt with it.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/sink/awscfg"
	"github.com/pulsar-kinesis/kinesis-sink/sink/cwmetrics"
	"github.com/pulsar-kinesis/kinesis-sink/sink/expand"
	"github.com/pulsar-kinesis/kinesis-sink/sink/format"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// Property names the dead-letter policy adds to a dead-lettered message.
const (
	PropDeadLetterReason = "kinesis-sink-error"
	PropDeadLetterKind   = "kinesis-sink-error-kind"
	PropOriginTopic      = "kinesis-sink-origin-topic"
	PropOriginMessageID  = "kinesis-sink-origin-message-id"
)

// Sink implements runtime.Sink for Kinesis Data Streams.
type Sink struct {
	cfg    *conf.Config
	log    *slog.Logger
	enc    format.Encoder
	router *Router
	prod   *producer.Producer
	// rawPayload: ONLY_RAW_PAYLOAD sends the payload as it is, so Write
	// hands the message's own bytes to the producer instead of copying them
	// (they are immutable and live as long as the record).
	rawPayload bool
	// onResultFn is s.onResult bound once: a method value in the Entry
	// literal would allocate a closure per record.
	onResultFn func(producer.Result)

	publisher    runtime.Publisher
	fatal        func(error)
	recordMetric func(string, float64)
	metrics      *sinkMetrics
	clients      *awscfg.Clients
	stopSampling context.CancelFunc

	// dlq tracks dead-letter publishes in flight so Close can wait for them.
	dlq sync.WaitGroup
}

// New returns an unopened sink; the runtime calls Open with the config.
func New() *Sink { return &Sink{} }

// NeedsSchema reports whether records must carry their schema: only the
// format that expands the value by schema reads it.
func (s *Sink) NeedsSchema() bool {
	return s.cfg != nil && s.cfg.MessageFormat == conf.FullMessageInJSONExpandValue
}

// Config is the sink's parsed configuration (nil before Open).
func (s *Sink) Config() *conf.Config { return s.cfg }

// CheckConfig validates the user config as Open would, without logging its
// warnings (Open does) or touching AWS.
func (s *Sink) CheckConfig(userConfig map[string]any, secret func(string) (string, bool)) error {
	_, _, err := conf.FromMap(userConfig, secret)
	return err
}

func (s *Sink) Open(ctx context.Context, sc *runtime.SinkContext) error {
	s.log = sc.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	cfg, warnings, err := conf.FromMap(sc.UserConfig, sc.Secret)
	for _, w := range warnings {
		s.log.Warn(w)
	}
	if err != nil {
		return err
	}
	s.cfg = cfg
	s.publisher = sc.Publisher
	s.fatal = sc.Fatal
	s.recordMetric = sc.RecordMetric
	if s.recordMetric == nil {
		s.recordMetric = func(string, float64) {}
	}
	if cfg.FailurePolicy == conf.FailurePolicyDeadLetter && s.publisher == nil {
		return errors.New(`sink config: "failurePolicy": deadLetter needs a Pulsar publisher, and this runtime has none`)
	}

	fo := format.Options{JSONIncludeNonNulls: cfg.JSONIncludeNonNulls, JSONFlatten: cfg.JSONFlatten, IncludeMessageID: cfg.JSONIncludeMessageID}
	if cfg.MessageFormat == conf.FullMessageInJSONExpandValue {
		ex, err := expand.New(expand.Options{IncludeNonNulls: cfg.JSONIncludeNonNulls, Flatten: cfg.JSONFlatten, IncludeMessageID: cfg.JSONIncludeMessageID})
		if err != nil {
			return err
		}
		fo.Expand = ex
	}
	if s.enc, err = format.New(format.Format(cfg.MessageFormat), fo); err != nil {
		return fmt.Errorf("sink config: \"messageFormat\": %w", err)
	}
	s.rawPayload = cfg.MessageFormat == conf.OnlyRawPayload
	s.onResultFn = s.onResult

	if s.router, err = NewRouter(routeOptions(cfg)); err != nil {
		return fmt.Errorf("sink config: %w", err)
	}

	po := producerOptions(cfg, sc.Parallelism, s.log)
	s.clients, err = awscfg.New(ctx, cfg, awscfg.Options{Logger: s.log, KinesisHTTPClient: producer.NewHTTPClient(po)})
	if err != nil {
		return err
	}
	var cw cwmetrics.CloudWatchAPI
	if s.clients.CloudWatch != nil {
		cw = s.clients.CloudWatch
	}
	kpl, err := cwmetrics.New(cw, cwmetrics.FromConfig(cfg, s.log, sc.Registerer))
	if err != nil {
		return fmt.Errorf("sink metrics: %w", err)
	}
	s.metrics = newSinkMetrics(kpl)
	po.Hooks = s.metrics.hooks()
	po.Hooks.OnShardMap = func(i producer.ShardMapInfo) {
		if i.Err != nil {
			s.log.Warn("kinesis shard map not loaded; records of the stream are sent unaggregated until it is",
				"stream", i.Stream, "reason", i.Reason, "error", i.Err.Error())
			return
		}
		s.log.Info("kinesis shard map loaded", "stream", i.Stream, "reason", i.Reason, "openShards", i.Shards)
	}
	if s.prod, err = producer.New(s.clients.Kinesis, po); err != nil {
		return fmt.Errorf("sink config: %w", err)
	}
	kpl.Start()
	sampleCtx, cancel := context.WithCancel(context.Background())
	s.stopSampling = cancel
	go s.metrics.samplePending(sampleCtx, s.prod)

	// Describe the streams known up front: this adopts each stream's own
	// maximum record size and shows a missing stream in the log at once.
	// A missing stream does not stop the instance: its records follow the
	// failure policy, as when a stream is deleted while the sink runs.
	for _, stream := range knownStreams(cfg) {
		pctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeoutDuration())
		info, err := s.prod.Prepare(pctx, stream)
		cancel()
		if err != nil {
			attrs := []any{"stream", stream}
			if fix := producer.Fix(err, stream, cfg.SigningRegion()); fix != "" {
				attrs = append(attrs, "fix", fix)
			}
			s.log.Error("kinesis stream not usable; its records will follow the failure policy",
				append(attrs, "error", err.Error(), "failurePolicy", string(cfg.FailurePolicy))...)
			continue
		}
		s.log.Info("kinesis stream ready", "stream", stream, "status", info.Status,
			"openShards", info.OpenShards, "maxRecordSize", info.MaxRecordSize)
	}
	s.log.Info("kinesis sink open", "format", string(cfg.MessageFormat), "retainOrdering", cfg.RetainOrdering,
		"failurePolicy", string(cfg.FailurePolicy), "aggregation", po.Aggregation.String(),
		"rateLimitPercent", po.RateLimit, "rateLimitScope", string(cfg.RateLimitScope), "parallelism", sc.Parallelism)
	return nil
}

func knownStreams(cfg *conf.Config) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(cfg.AWSKinesisStreamName)
	for _, s := range cfg.TopicToStreamMap {
		add(s)
	}
	return out
}

func routeOptions(cfg *conf.Config) RouteOptions {
	o := RouteOptions{
		KeyMode:         KeyMode(cfg.PartitionKeyMode),
		KeyProperty:     cfg.PartitionKeyProperty,
		KeyField:        cfg.PartitionKeyField,
		FixedKey:        cfg.DefaultPartitionKey,
		HashKeyProperty: cfg.ExplicitHashKeyProperty,
		StreamProperty:  cfg.StreamNameProperty,
		TopicStreams:    cfg.TopicToStreamMap,
		DefaultStream:   cfg.AWSKinesisStreamName,
		Region:          cfg.AWSRegion,
	}
	return o
}

// producerOptions maps the config onto the producer's options. parallelism
// is how many instances the function runs (rateLimitScope "function"
// divides the rate limit among them); below 1 counts as 1. The producer's
// own warnings (a callback blocking a sender) go to the sink's logger: with
// the instance's attributes, and with the level the NAR's Java side reads
// from each line.
func producerOptions(cfg *conf.Config, parallelism int, log *slog.Logger) producer.Options {
	o := producer.Options{
		Logger:               log,
		MaxRecordsPerRequest: cfg.CollectionMaxCount,
		MaxBytesPerRequest:   int(cfg.CollectionMaxSize),
		Linger:               cfg.RecordMaxBufferedTime(),
		MaxInFlight:          cfg.MaxConnections,
		RetryInitialDelay:    cfg.RetryInitialDelay(),
		RetryMaxDelay:        cfg.RetryMaxDelay(),
		RecordTTL:            cfg.RecordTTLDuration(),
		RequestTimeout:       cfg.RequestTimeoutDuration(),
		MaxBufferedRecords:   cfg.MaxBufferedRecords,
		MaxBufferedBytes:     cfg.MaxBufferedBytes,
		MaxInFlightBytes:     cfg.MaxInFlightBytes,
		RetainOrdering:       cfg.RetainOrdering,
		FailIfThrottled:      cfg.FailIfThrottled,
		RateLimit:            float64(cfg.RateLimit),
		AdaptiveRateLimit:    cfg.AdaptiveRateLimit,
	}
	if cfg.AggregationEnabled {
		o.Aggregation = producer.AggregateByShard
		if cfg.AggregationMode == conf.AggregateByKey {
			o.Aggregation = producer.AggregateByKey
		}
		o.AggregationMaxSize = int(cfg.AggregationMaxSize)
		o.AggregationMaxCount = cfg.AggregationMaxCount
	}
	if o.Linger == 0 {
		o.Linger = -1 // 0 in the config means "do not wait"; 0 in Options means "default"
	}
	if cfg.RateLimitScope == conf.RateLimitPerFunction && parallelism > 1 {
		o.RateLimit /= float64(parallelism)
	}
	return o
}

// Write runs once per record on the runtime's receive goroutine.
//
// It is the hot path (docs/benchmarks.md has the profiles), so it avoids
// what it can: no copy of a raw payload, no closure per record, no
// goroutine per record (results come back on the producer's sender
// goroutines).
func (s *Sink) Write(ctx context.Context, r *runtime.Record) error {
	s.recordMetric("_kinesis_total_incoming_", 1)
	s.recordMetric("_kinesis_total_incoming_bytes_", float64(len(r.Payload)))

	var data []byte
	if s.rawPayload {
		data = r.Payload
		if data == nil {
			data = []byte{} // the SDK rejects nil Data; an empty payload is valid
		}
	} else {
		var err error
		if data, err = s.enc.Encode(nil, &r.RecordData); err != nil {
			// The expander names the record itself; say it once.
			cause := err
			var re *expand.RecordError
			if errors.As(err, &re) {
				cause = re.Err
			}
			s.handleFailure(r, "encode", r.Errorf("%s: %w", s.cfg.MessageFormat, cause))
			return nil
		}
	}
	rt, err := s.router.Route(&r.RecordData)
	s.metrics.kpl.UserRecordReceived(rt.Stream)
	if err != nil {
		s.handleFailure(r, "route", r.Errorf("%w", err))
		return nil
	}
	err = s.prod.Put(ctx, producer.Entry{
		Stream:          rt.Stream,
		PartitionKey:    rt.PartitionKey,
		ExplicitHashKey: rt.ExplicitHashKey,
		Data:            data,
		Tag:             r,
		Callback:        s.onResultFn,
	})
	if err != nil {
		// Not accepted: ctx ended (shutdown) or the producer closed. The
		// runtime fails the record.
		return err
	}
	return nil
}

// onResult runs on producer goroutines, once per record.
func (s *Sink) onResult(res producer.Result) {
	r := res.Tag.(*runtime.Record)
	retries := max(res.Attempts-1, 0)
	if res.Err == nil {
		s.recordMetric("_kinesis_total_success_", 1)
		s.metrics.kpl.UserRecordPut(res.Stream, res.ShardID, res.DataBytes, retries, res.Latency)
		// Per Kinesis record, counted once: with aggregation one Kinesis
		// record carries many user records, each of which gets a result.
		if res.FirstInKinesisRecord {
			s.metrics.kpl.KinesisRecordPut(res.Stream, res.ShardID, res.KinesisRecordUserRecords, res.KinesisRecordBytes)
		}
		r.Ack()
		return
	}
	var pe *producer.Error
	kind := "error"
	if errors.As(res.Err, &pe) {
		kind = pe.Kind.String()
		s.metrics.kpl.UserRecordFailed(res.Stream, "", retries, pe.Kind == producer.KindTTLExpired)
		if pe.Kind == producer.KindClosed {
			// Shutting down: not a delivery failure the policy should
			// judge; Pulsar redelivers the record to the next instance.
			r.Fail(r.Errorf("%w", res.Err))
			return
		}
	}
	s.handleFailure(r, kind, r.Errorf("%w", res.Err))
}

// handleFailure applies the configured failure policy to a record that
// cannot be delivered. Every path logs why and counts it: nothing is
// dropped silently.
func (s *Sink) handleFailure(r *runtime.Record, kind string, err error) {
	s.recordMetric("_kinesis_total_failure_", 1)
	s.metrics.kpl.RecordFailed(kind, string(s.cfg.FailurePolicy))
	switch s.cfg.FailurePolicy {
	case conf.FailurePolicyDeadLetter:
		s.log.Warn("record dead-lettered", "topic", r.Topic, "id", r.MessageIDText(),
			"deadLetterTopic", s.cfg.DeadLetterTopic, "kind", kind, "error", err.Error())
		s.deadLetter(r, kind, err)
	case conf.FailurePolicyFailOnError:
		s.log.Error("record failed; failurePolicy failOnError stops the instance", "topic", r.Topic,
			"id", r.MessageIDText(), "kind", kind, "error", err.Error())
		r.Fail(err)
		if s.fatal != nil {
			s.fatal(fmt.Errorf("failurePolicy failOnError: %w", err))
		}
	default:
		// r.Fail logs it through the runtime and negatively acks it.
		r.Fail(err)
	}
}

// HandleFailure applies the failure policy to a record the sink was never
// given because the runtime could not read it (the NAR's Java side, for
// one); kind names why, as the kind label of the policy's metric.
func (s *Sink) HandleFailure(r *runtime.Record, kind string, err error) {
	s.handleFailure(r, kind, err)
}

// deadLetter publishes the original message, with the reason, to the
// dead-letter topic, and acks it only once the broker has it; if that fails
// too, the record is negatively acknowledged and comes back later.
func (s *Sink) deadLetter(r *runtime.Record, kind string, cause error) {
	props := make(map[string]string, len(r.Properties)+4)
	for k, v := range r.Properties {
		props[k] = v
	}
	props[PropDeadLetterReason] = cause.Error()
	props[PropDeadLetterKind] = kind
	props[PropOriginTopic] = r.Topic
	props[PropOriginMessageID] = r.MessageIDText()
	s.dlq.Add(1)
	// Publishing waits for the broker, and this may run on a producer
	// goroutine that must not block; dead letters are rare, so a goroutine
	// each is fine.
	go func() {
		defer s.dlq.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.publisher.Publish(ctx, s.cfg.DeadLetterTopic, r.Payload, r.Key, props); err != nil {
			r.Fail(fmt.Errorf("%w; and publishing to the dead-letter topic failed: %v", cause, err))
			return
		}
		r.Ack()
	}()
}

// closeTail bounds what Close still does after the records when its
// context gave them no time at all: the NAR's close, once Pulsar has
// closed the consumers, asks for no flush but should not lose the last
// metrics interval. The Java side waits 10 s for the answer.
const closeTail = 3 * time.Second

func (s *Sink) Close(ctx context.Context) error {
	tail := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		tail, cancel = context.WithTimeout(context.WithoutCancel(ctx), closeTail)
		defer cancel()
	}
	var err error
	if s.prod != nil {
		err = s.prod.Close(ctx)
	}
	done := make(chan struct{})
	go func() { s.dlq.Wait(); close(done) }()
	select {
	case <-done:
	case <-tail.Done():
	}
	if s.stopSampling != nil {
		s.stopSampling()
	}
	if s.metrics != nil {
		// The last interval's metrics are uploaded; a failure is logged
		// by cwmetrics and never fails the close.
		_ = s.metrics.kpl.Close(tail)
	}
	if s.clients != nil {
		s.clients.Close()
	}
	return err
}
