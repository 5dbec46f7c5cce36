package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch"
)

// SchemaAware is implemented by sinks that read RecordData.Schema. The
// runtime fetches a schema version from the broker only for such sinks, so a
// raw-payload sink never depends on schema look-ups succeeding.
type SchemaAware interface {
	NeedsSchema() bool
}

// ConfigChecker is implemented by sinks that can validate their user config
// without side effects. The runtime calls it before it starts its servers or
// connects to Pulsar, so a bad config fails at once with one line.
type ConfigChecker interface {
	CheckConfig(userConfig map[string]any, secret func(name string) (string, bool)) error
}

// Options tune a Run beyond what the instance configuration says.
type Options struct {
	Logger *slog.Logger
	// CloseTimeout bounds Sink.Close on shutdown. The worker sends SIGKILL
	// about 10 s after SIGTERM, so the default (8 s) leaves room to close
	// consumers and the client after the flush.
	CloseTimeout time.Duration
	// DisableControlServer and DisableMetricsServer are for tools (localrun)
	// that have no worker to talk to.
	DisableControlServer bool
	DisableMetricsServer bool
	// Secret, when set, resolves the sink's secrets instead of the
	// environment (localrun: the clear-text secrets: block of a sink config
	// file, as pulsar-admin's local run does).
	Secret func(name string) (string, bool)
	// Subscribed, when set, is called once every consumer exists. Before
	// that no record has reached the sink, which is what lets
	// RunUntilSignal exit at once on a signal during start-up.
	Subscribed func()
	// ExitWithParent makes RunUntilSignal stop the instance, as on SIGTERM,
	// once the process that started it is gone. A functions worker that
	// dies (SIGKILL, a lost machine) does not stop its Go instances, and
	// does not health-check them either (Pulsar 4.0.8 passes
	// expectedHealthCheckInterval 0); the worker that takes the function
	// over starts new ones, and an orphan would go on consuming beside them
	// with nothing left able to stop it.
	ExitWithParent bool
}

// Instance is one running function instance: the consumers, the receive
// loop feeding the sink, and the control and metrics servers.
type Instance struct {
	cfg  *InstanceConfig
	sink Sink
	log  *slog.Logger
	opts Options

	client     pulsar.Client
	connErr    *atomic.Value // last broker connection failure the client logged
	consumers  []pulsar.Consumer
	msgs       chan pulsar.ConsumerMessage
	schemas    *schemafetch.Fetcher
	latest     latestSchemas
	needSchema bool

	registry *prometheus.Registry
	stats    *Stats
	ctl      *ControlServer

	pending   pendingQueue
	publisher *publisher

	fatalOnce sync.Once
	fatalCh   chan error
	lastRecv  time.Time
}

// Run starts an instance and blocks until ctx is cancelled (clean shutdown,
// nil error) or a fatal error happens (returned; the caller exits non-zero so
// the worker restarts the instance).
func Run(ctx context.Context, cfg *InstanceConfig, sink Sink, opts Options) (err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 8 * time.Second
	}
	if opts.Secret == nil {
		opts.Secret = secretResolver(cfg.SecretsMap)
	}
	inst := &Instance{
		cfg:     cfg,
		sink:    sink,
		log:     opts.Logger,
		opts:    opts,
		fatalCh: make(chan error, 1),
	}
	return inst.run(ctx)
}

func (in *Instance) run(ctx context.Context) error {
	cfg := in.cfg
	if cfg.ProcessingGuarantees == EffectivelyOnce {
		return errors.New("instance conf: processingGuarantees EFFECTIVELY_ONCE is not supported by this sink; use ATLEAST_ONCE")
	}

	// A bad sink configuration is reported before anything starts, so the
	// process writes that one line and nothing else.
	if cc, ok := in.sink.(ConfigChecker); ok {
		if err := cc.CheckConfig(cfg.UserConfig, in.opts.Secret); err != nil {
			return fmt.Errorf("sink open: %w", err)
		}
	}

	in.registry = prometheus.NewRegistry()
	in.stats = NewStats(MetricLabelsFor(cfg), in.registry)
	if os.Getenv(ProcessMetricsEnv) == "1" {
		// Off by default so that the served families match the official
		// instance's; the soak run turns it on to watch memory and goroutines.
		in.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}

	// Creating the client connects nothing yet; it comes first so that a
	// bad authentication setting is reported before anything else starts.
	client, connErr, err := newClient(cfg, in.log)
	if err != nil {
		return err
	}
	in.client = client
	in.connErr = connErr
	defer client.Close()

	// The servers start before the consumers so that the worker's status
	// calls answer (running=true) while consumers are still being created.
	metricsOn := !in.opts.DisableMetricsServer && cfg.MetricsPort > 0
	sharedPort := metricsOn && !in.opts.DisableControlServer && cfg.MetricsPort == cfg.Port
	if !in.opts.DisableControlServer && cfg.Port > 0 {
		cc := ControlConfig{
			Port:       cfg.Port,
			InstanceID: cfg.InstanceID,
			Stats:      in.stats,
			Logger:     in.log,
		}
		if sharedPort {
			cc.Also = NewMetricsServer(MetricsConfig{Gatherer: in.registry, Logger: in.log}).Handler()
		}
		ctl, err := StartControlServer(cc)
		if err != nil {
			return fmt.Errorf("gRPC InstanceControl on port %d: %w", cfg.Port, err)
		}
		defer ctl.Stop()
		in.ctl = ctl
		if cfg.ExpectedHealthCheckInterval > 0 {
			stopWatch := ctl.StartHealthWatchdog(cfg.ExpectedHealthCheckInterval, func() {
				in.setFatal(errors.New("no health check from the worker within 3x expectedHealthCheckInterval"))
			})
			defer stopWatch()
		}
	}
	if metricsOn && !sharedPort {
		ms, err := StartMetricsServer(cfg.MetricsPort, in.registry, in.log)
		if err != nil {
			return fmt.Errorf("metrics server on port %d: %w", cfg.MetricsPort, err)
		}
		defer ms.Stop()
	}

	in.publisher = newPublisher(client)
	defer in.publisher.close()

	sc := &SinkContext{
		Tenant:       cfg.Tenant,
		Namespace:    cfg.Namespace,
		Name:         cfg.Name,
		InstanceID:   cfg.InstanceID,
		Parallelism:  max(cfg.Parallelism, 1),
		ClusterName:  cfg.ClusterName,
		UserConfig:   cfg.UserConfig,
		Secret:       in.opts.Secret,
		Logger:       in.log,
		Registerer:   in.registry,
		RecordMetric: in.stats.RecordUserMetric,
		Publisher:    in.publisher,
		Fatal:        in.setFatal,
	}
	if err := in.sink.Open(ctx, sc); err != nil {
		return fmt.Errorf("sink open: %w", err)
	}
	// Asked after Open: whether schemas matter depends on the sink's config
	// (only some message formats read them).
	if sa, ok := in.sink.(SchemaAware); ok && sa.NeedsSchema() {
		in.needSchema = true
		in.schemas = schemafetch.New(cfg.ServiceURL, schemaFetchOptions(cfg))
		if err := in.schemas.Err(); err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), in.opts.CloseTimeout)
			_ = in.sink.Close(closeCtx)
			cancel()
			return fmt.Errorf("schema client: %w", err)
		}
		defer in.schemas.Close()
	}

	if err := in.subscribe(); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), in.opts.CloseTimeout)
		_ = in.sink.Close(closeCtx)
		cancel()
		return err
	}

	loopErr := in.receiveLoop(ctx)
	in.shutdown()
	return loopErr
}

// setFatal records the first fatal error; the receive loop picks it up and
// the instance exits non-zero.
func (in *Instance) setFatal(err error) {
	in.fatalOnce.Do(func() {
		in.stats.RecordSystemException(err)
		if in.ctl != nil {
			// functions status shows the reason until the process exits.
			in.ctl.SetFailure(err)
		}
		in.fatalCh <- err
	})
}

func (in *Instance) subscribe() error {
	cfg := in.cfg
	queue := 0
	for _, s := range cfg.Inputs {
		q := s.ReceiverQueueSize
		if q <= 0 {
			q = 1000 // pulsar-client-go's default
		}
		queue += q
	}
	// One channel for all consumers: the sink sees one ordered stream per
	// consumer partition, and the buffer is bounded by the receiver queues.
	in.msgs = make(chan pulsar.ConsumerMessage, queue)

	for _, spec := range cfg.Inputs {
		opts := in.consumerOptions(spec)
		c, err := in.client.Subscribe(opts)
		if err != nil {
			for _, prev := range in.consumers {
				prev.Close()
			}
			what := "topic"
			if spec.IsRegex {
				what = "topics pattern"
			}
			if why := lastConnError(in.connErr); why != "" {
				// The client's error is a bare timeout; say why it could not connect.
				return fmt.Errorf("subscribe to %s %q as %q: %w (broker connection: %s)", what, spec.Topic, cfg.SubscriptionName, err, why)
			}
			return fmt.Errorf("subscribe to %s %q as %q: %w", what, spec.Topic, cfg.SubscriptionName, err)
		}
		in.consumers = append(in.consumers, c)
	}
	in.log.Info("subscribed", "inputs", len(cfg.Inputs), "subscription", cfg.SubscriptionName,
		"type", subscriptionTypeName(cfg.SubscriptionType))
	if cfg.SubscriptionType == Failover && cfg.Parallelism > 1 {
		// Seen on Pulsar 4.0.8 (docs/cluster.md): when a consumer joins, the
		// broker hands it partitions while the previous consumer still writes
		// what it had received, so a key's records can reach Kinesis out of order.
		in.log.Info("FAILOVER with several instances keeps a key's order while the instances stay, not while one joins on a backlog (a restart, a scale-up, a start); for order through those, subscribe KEY_SHARED: retainKeyOrdering: true in the user config instead of --retain-ordering",
			"parallelism", cfg.Parallelism)
	}
	if in.opts.Subscribed != nil {
		in.opts.Subscribed()
	}
	return nil
}

func (in *Instance) consumerOptions(spec InputSpec) pulsar.ConsumerOptions {
	cfg := in.cfg
	o := pulsar.ConsumerOptions{
		SubscriptionName:            cfg.SubscriptionName,
		Type:                        pulsarSubscriptionType(cfg),
		SubscriptionInitialPosition: pulsar.SubscriptionPositionLatest,
		MessageChannel:              in.msgs,
		ReceiverQueueSize:           spec.ReceiverQueueSize,
		Properties:                  spec.ConsumerProperties,
		Name:                        fmt.Sprintf("%s-%d", cfg.FQFN(), cfg.InstanceID),
		// Encrypted messages are forwarded as they are, with their
		// encryption context, as the Java sink does; without this the
		// client would refuse them (no key reader is configured).
		Decryption: &pulsar.MessageDecryptionInfo{ConsumerCryptoFailureAction: cryptoAction(spec.CryptoFailureAction)},
	}
	if cfg.SubscriptionPosition == Earliest {
		o.SubscriptionInitialPosition = pulsar.SubscriptionPositionEarliest
	}
	if spec.IsRegex {
		o.TopicsPattern = spec.Topic
	} else {
		o.Topic = spec.Topic
	}
	if cfg.NegativeAckRedeliveryDelay > 0 {
		o.NackRedeliveryDelay = cfg.NegativeAckRedeliveryDelay
	}
	if cfg.MaxMessageRetries > 0 {
		o.DLQ = &pulsar.DLQPolicy{
			MaxDeliveries:   uint32(cfg.MaxMessageRetries),
			DeadLetterTopic: cfg.DeadLetterTopic,
		}
	}
	return o
}

func cryptoAction(name string) int {
	switch strings.ToUpper(name) {
	case "FAIL":
		return crypto.ConsumerCryptoFailureActionFail
	case "DISCARD":
		return crypto.ConsumerCryptoFailureActionDiscard
	default:
		return crypto.ConsumerCryptoFailureActionConsume
	}
}

func pulsarSubscriptionType(cfg *InstanceConfig) pulsar.SubscriptionType {
	// retainOrdering asks for one consumer at a time per partition, which is
	// what FAILOVER gives (the worker maps --retain-ordering the same way).
	if cfg.RetainOrdering {
		return pulsar.Failover
	}
	switch cfg.SubscriptionType {
	case Failover:
		return pulsar.Failover
	case KeyShared:
		return pulsar.KeyShared
	default:
		return pulsar.Shared
	}
}

func subscriptionTypeName(t SubscriptionType) string {
	switch t {
	case Failover:
		return "FAILOVER"
	case KeyShared:
		return "KEY_SHARED"
	default:
		return "SHARED"
	}
}

// receiveLoop hands messages to the sink until ctx ends or a fatal error.
func (in *Instance) receiveLoop(ctx context.Context) error {
	sweep := time.NewTicker(in.sweepInterval())
	defer sweep.Stop()
	in.lastRecv = time.Now()
	for {
		select {
		case <-ctx.Done():
			in.log.Info("shutting down", "reason", context.Cause(ctx))
			return nil
		case err := <-in.fatalCh:
			return err
		case <-sweep.C:
			in.sweep()
			if in.cfg.KillAfterIdle > 0 && time.Since(in.lastRecv) > in.cfg.KillAfterIdle {
				in.log.Info("idle for killAfterIdleMs, exiting", "idle", time.Since(in.lastRecv))
				return nil
			}
		case cm := <-in.msgs:
			// One clock read per record serves the idle timer, the
			// last-invocation stat and the record's receive time: on a
			// VM without a fast clock source time.Now is a visible share
			// of the receive loop's CPU.
			in.lastRecv = time.Now()
			if err := in.handle(ctx, cm, in.lastRecv); err != nil {
				return err
			}
		}
	}
}

func (in *Instance) sweepInterval() time.Duration {
	if in.cfg.AckTimeout > 0 && in.cfg.AckTimeout < 4*time.Second {
		return in.cfg.AckTimeout / 4
	}
	return time.Second
}

// sweep fails records that outlived the ack timeout. pulsar-client-go has
// no ack timeout of its own, so the runtime provides the contract's
// timeoutMs: an unresolved record is negatively acknowledged and
// redelivered, as the Java instance's consumer would do.
func (in *Instance) sweep() {
	if in.cfg.AckTimeout <= 0 {
		return
	}
	deadline := time.Now().Add(-in.cfg.AckTimeout)
	for _, r := range in.pending.expired(deadline) {
		r.Fail(fmt.Errorf("ack timeout: not resolved within %s", in.cfg.AckTimeout))
	}
}

func (in *Instance) handle(ctx context.Context, cm pulsar.ConsumerMessage, now time.Time) error {
	msg := cm.Message
	in.stats.IncReceivedAt(now)
	r := in.newRecord(cm.Consumer, msg, now)

	if in.cfg.ProcessingGuarantees == AtMostOnce {
		// At-most-once: acknowledged on receipt, before the sink sees it.
		if err := cm.Consumer.Ack(msg); err != nil {
			in.stats.RecordSystemException(fmt.Errorf("ack %s %s: %w", r.Topic, r.MessageIDText(), err))
		}
	}

	if in.needSchema {
		var s *Schema
		var err error
		if v := msg.SchemaVersion(); len(v) > 0 {
			s, err = in.schemas.Get(ctx, msg.Topic(), v)
		} else {
			s, err = in.latest.get(ctx, in.schemas, msg.Topic())
		}
		if err != nil {
			in.stats.RecordSystemException(err)
			r.Fail(r.Errorf("schema version %x: %w", msg.SchemaVersion(), err))
			return nil
		}
		r.Schema = s
	}

	in.pending.push(r)
	if err := in.sink.Write(ctx, r); err != nil {
		var fe *FatalError
		if errors.As(err, &fe) {
			r.Fail(err)
			return err
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Shutdown interrupted a blocked Write; the record is
			// failed in shutdown like every other unresolved one.
			return nil
		}
		r.Fail(r.Errorf("%w", err))
	}
	return nil
}

func (in *Instance) newRecord(c pulsar.Consumer, msg pulsar.Message, now time.Time) *Record {
	r := &Record{
		received: now,
		resolver: in,
		consumer: c,
		msg:      msg,
	}
	d := &r.RecordData
	d.Payload = msg.Payload()
	d.Key = msg.Key()
	d.HasKey = d.Key != ""
	d.Properties = msg.Properties()
	d.Topic = msg.Topic()
	d.Partition = record.PartitionOf(msg.Topic())
	d.MessageID = msg.ID()
	d.PublishTime = msg.PublishTime()
	// The client reports an unset event time as the Unix epoch; the
	// contract (and the Java sink's formats) treat it as absent.
	if et := msg.EventTime(); et.UnixMilli() > 0 {
		d.EventTime = et
	}
	d.RedeliveryCount = msg.RedeliveryCount()
	d.SchemaVersion = msg.SchemaVersion()
	if ec := msg.GetEncryptionContext(); ec != nil && len(ec.Keys) > 0 {
		d.Encryption = convertEncryption(ec)
	}
	return r
}

func convertEncryption(ec *pulsar.EncryptionContext) *EncryptionContext {
	out := &EncryptionContext{
		Keys:             make(map[string]EncryptionKey, len(ec.Keys)),
		Param:            ec.Param,
		Algorithm:        ec.Algorithm,
		UncompressedSize: ec.UncompressedSize,
		BatchSize:        ec.BatchSize,
		HasBatchSize:     ec.BatchSize > 0,
	}
	// Java always has a compression type (NONE by default), and the JSON
	// format writes it whenever it is set.
	out.CompressionType = "NONE"
	switch ec.CompressionType {
	case pulsar.LZ4:
		out.CompressionType = "LZ4"
	case pulsar.ZLib:
		out.CompressionType = "ZLIB"
	case pulsar.ZSTD:
		out.CompressionType = "ZSTD"
	}
	for k, v := range ec.Keys {
		out.Keys[k] = EncryptionKey{Value: v.KeyValue, Metadata: v.Metadata}
	}
	return out
}

// ack and fail implement resolver for records from a live consumer.
func (in *Instance) ack(r *Record) {
	in.pending.remove(r)
	if in.cfg.ProcessingGuarantees != AtMostOnce {
		if err := r.consumer.Ack(r.msg); err != nil {
			in.stats.RecordSystemException(fmt.Errorf("ack %s %s: %w", r.Topic, r.MessageIDText(), err))
		}
	}
	in.stats.RecordSuccess(time.Since(r.received))
}

func (in *Instance) fail(r *Record, err error) {
	in.pending.remove(r)
	if in.cfg.ProcessingGuarantees != AtMostOnce {
		r.consumer.Nack(r.msg)
	}
	in.stats.RecordUserException(err)
	in.log.Warn("record failed", "topic", r.Topic, "id", r.MessageIDText(), "error", err.Error())
}

// shutdown stops taking records, lets the sink flush within CloseTimeout,
// and resolves whatever is still open so nothing is left half-done.
func (in *Instance) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), in.opts.CloseTimeout)
	defer cancel()
	if err := in.sink.Close(ctx); err != nil {
		in.log.Error("sink close", "error", err.Error())
	}
	left := in.pending.drain()
	for _, r := range left {
		r.Fail(errors.New("instance shutting down before the sink resolved the record"))
	}
	// Messages taken from the consumers' queues but never handed to the
	// sink are negatively acknowledged so that they are redelivered at once
	// rather than after the consumer's reconnect.
	for {
		select {
		case cm := <-in.msgs:
			cm.Consumer.Nack(cm.Message)
			continue
		default:
		}
		break
	}
	for _, c := range in.consumers {
		c.Close()
	}
	in.log.Info("stopped", "unresolved_at_close", len(left))
}

// pendingQueue keeps the unresolved records in receive order, which is also
// ack-timeout order, so expiry only looks at the head. It is an intrusive
// doubly linked list: a record leaves it the moment it resolves, so the
// queue holds exactly the records in flight. (A slice compacted from the
// head once per sweep kept every record resolved in the last second alive,
// payload and message included: at 150k records/s that was 150 MB of heap.)
type pendingQueue struct {
	mu         sync.Mutex
	head, tail *Record
	n          int
}

func (p *pendingQueue) push(r *Record) {
	p.mu.Lock()
	r.queued = true
	r.prev, r.next = p.tail, nil
	if p.tail != nil {
		p.tail.next = r
	} else {
		p.head = r
	}
	p.tail = r
	p.n++
	p.mu.Unlock()
}

// remove unlinks r; a record that was never queued (failed before the sink
// saw it) or already removed is left alone.
func (p *pendingQueue) remove(r *Record) {
	p.mu.Lock()
	if r.queued {
		p.unlinkLocked(r)
	}
	p.mu.Unlock()
}

func (p *pendingQueue) unlinkLocked(r *Record) {
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		p.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		p.tail = r.prev
	}
	r.prev, r.next, r.queued = nil, nil, false
	p.n--
}

// len is the number of unresolved records.
func (p *pendingQueue) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// expired returns unresolved records received before deadline.
func (p *pendingQueue) expired(deadline time.Time) []*Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Record
	for r := p.head; r != nil && r.received.Before(deadline); r = r.next {
		if !r.Resolved() {
			out = append(out, r)
		}
	}
	return out
}

// drain empties the queue and returns the records still unresolved.
func (p *pendingQueue) drain() []*Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Record
	for r := p.head; r != nil; {
		next := r.next
		if !r.Resolved() {
			out = append(out, r)
		}
		r.prev, r.next, r.queued = nil, nil, false
		r = next
	}
	p.head, p.tail, p.n = nil, nil, 0
	return out
}

// secretResolver resolves the sink's secrets. Function Mesh passes no
// secretsMap and sets one environment variable per secret, named by its key.
// The process runtime's default (clear-text) secrets provider passes the
// secret's value itself as the secretsMap entry. So: the environment
// variable named by the key first, then a string value in secretsMap. When
// the conf carries a secretsMap, only its names are secrets.
func secretResolver(secrets map[string]any) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if secrets == nil {
			return os.LookupEnv(name)
		}
		v, ok := secrets[name]
		if !ok {
			return "", false
		}
		if env, ok := os.LookupEnv(name); ok {
			return env, true
		}
		if s, ok := v.(string); ok {
			return s, true
		}
		return "", false
	}
}
