// Package sidecar is the second way into the sink: a Pulsar IO sink (the
// NAR's small Java class) starts `kinesis-sink sidecar` as its child and
// streams records to it over the child's stdin; results come back on its
// stdout, its log lines on stderr. The records go through the same
// runtime.Sink the function path drives: this package only replaces the
// Pulsar consumer with the pipe. The protocol is in
// docs/sidecar-protocol.md.
package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch"
)

// ErrPeerGone is Run's error when the Java side closed the pipe without
// CLOSE: its JVM died or killed us. Nothing is flushed then: no ack could
// reach Pulsar any more, and Pulsar redelivers whatever was unacked.
var ErrPeerGone = errors.New("the Java sink closed the pipe without CLOSE (its instance ended)")

// Options configure Run.
type Options struct {
	In     io.Reader // frames from the Java sink (stdin)
	Out    io.Writer // frames to it (stdout)
	Logger *slog.Logger
	Sink   runtime.Sink
	// Heartbeat is how often a HEARTBEAT frame goes out; 0: every 5 s.
	Heartbeat time.Duration
	// Registerer gets the sink's kinesis_sink_* families; nil: a private
	// registry nobody reads.
	Registerer prometheus.Registerer
}

// hello is the HELLO frame: the instance the Java sink runs as.
type hello struct {
	version                 uint32
	config                  map[string]any
	secrets                 map[string]string
	tenant, namespace, name string
	instanceID, parallelism int
	cluster                 string
	// The Java side's window: at most this many records and bytes (of
	// RECORD and UNREADABLE frames) unresolved at once.
	windowRecords uint32
	windowBytes   uint64
}

func decodeHello(b []byte) (hello, error) {
	d := dec{b: b}
	var h hello
	h.version = d.u32("version")
	if d.err == nil && h.version != Version {
		// Nothing after the version is known to be laid out as we read it.
		return h, nil
	}
	cfg := d.bytes("config")
	h.secrets = d.strMap("secrets")
	h.tenant = d.str("tenant")
	h.namespace = d.str("namespace")
	h.name = d.str("name")
	h.instanceID = int(int32(d.u32("instance id")))
	h.parallelism = int(int32(d.u32("parallelism")))
	h.cluster = d.str("cluster")
	h.windowRecords = d.u32("window records")
	h.windowBytes = d.u64("window bytes")
	if err := d.end("HELLO"); err != nil {
		return h, err
	}
	if len(cfg) > 0 {
		if err := json.Unmarshal(cfg, &h.config); err != nil {
			return h, fmt.Errorf("HELLO frame: the sink configuration is not a JSON object: %v", err)
		}
	}
	return h, nil
}

// session is one run: the sink, the writer to the Java side, and what is
// waiting for it.
type session struct {
	o   Options
	out *writer
	log *slog.Logger

	schemas map[uint32]schemaEntry

	pubMu   sync.Mutex
	pubs    map[uint64]chan error
	pubSeq  uint64
	pending atomic.Int64 // records handed to the sink and not yet resolved

	fatalOnce sync.Once
	cancel    context.CancelCauseFunc

	metricMu sync.Mutex
	metrics  map[string]float64 // user metrics summed since the last METRIC frames
}

type schemaEntry struct {
	s   *record.Schema
	err error
}

// Run speaks the protocol until CLOSE (nil: the sink closed and every
// result was sent), the pipe closes (ErrPeerGone), or the sink fails
// fatally. The caller exits non-zero on an error.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s := &session{o: o, log: o.Logger, schemas: map[uint32]schemaEntry{}, pubs: map[uint64]chan error{}, cancel: cancel}
	s.out = newWriter(o.Out)
	defer s.out.close()
	fr := newFrameReader(o.In)

	typ, body, err := fr.next()
	if err != nil {
		if err == io.EOF {
			return ErrPeerGone
		}
		return fmt.Errorf("reading HELLO: %w", err)
	}
	if typ != frameHello {
		return s.openFailed(fmt.Errorf("first frame has type 0x%02x, want HELLO (0x%02x)", typ, frameHello))
	}
	h, err := decodeHello(body)
	if err != nil {
		return s.openFailed(err)
	}
	if h.version != Version {
		return s.openFailed(fmt.Errorf("the Java sink speaks sidecar protocol version %d; this kinesis-sink speaks %d: use the NAR and the binary of one release", h.version, Version))
	}
	sc := &runtime.SinkContext{
		Tenant: h.tenant, Namespace: h.namespace, Name: h.name,
		InstanceID: h.instanceID, Parallelism: max(h.parallelism, 1), ClusterName: h.cluster,
		UserConfig: h.config,
		Secret: func(name string) (string, bool) {
			v, ok := h.secrets[name]
			return v, ok
		},
		Logger:       o.Logger,
		Registerer:   o.Registerer,
		RecordMetric: s.recordMetric,
		Publisher:    s,
		Fatal:        s.fatal,
	}
	if err := o.Sink.Open(ctx, sc); err != nil {
		return s.openFailed(err)
	}
	s.out.send(readyFrame())
	s.log.Info("sidecar open", "tenant", h.tenant, "namespace", h.namespace, "name", h.name, "instance", h.instanceID)
	mctx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	go s.metricsLoop(mctx)
	go s.heartbeat(mctx)

	err = s.loop(ctx, fr, newQueue(int(h.windowRecords), int64(h.windowBytes)))
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return err
}

// openFailed reports a failed open to the Java side, whose open() throws
// it as the instance's error: one line, as the function path prints it.
func (s *session) openFailed(err error) error {
	s.out.send(openFailedFrame(errtext.OneLine(err.Error())))
	return err
}

// item is one frame from the Java side, decoded by the reading goroutine
// and handled in order by the loop.
type item struct {
	typ     byte
	rec     recordFrame
	schema  schemaFrame
	timeout time.Duration // CLOSE
	err     error         // the reading ended: EOF (ErrPeerGone) or a bad frame
	size    int64         // the frame's length as the Java side's window counts it
}

type schemaFrame struct {
	id        uint32
	typ, name string
	data      []byte
	props     map[string]string
	version   []byte
}

type recordFrame struct {
	seq      uint64
	schemaID uint32
	data     runtime.RecordData
	reason   string // UNREADABLE: what the Java sink could not read
}

// read decodes frames as fast as they come and queues them for the loop,
// which may be blocked in Sink.Write (a full buffer): the Java side's
// answers to Publish (dead letters) must still get through, or a record
// waiting for its dead letter would hold the buffer full for ever.
//
// The queue is bounded by the window HELLO declared, in records and
// bytes. Every record queued here is one the Java side still counts as
// unresolved (it is resolved only after the loop takes it), so a peer that
// keeps its window never fills the queue, and reading never has to wait.
// A peer past its window breaks the protocol: the session ends with an
// error saying so (the Java side fails the instance), rather than hold
// frames past the bound, or stop reading and hold up a PUBLISHED behind
// them while the sink waits for it.
func (s *session) read(fr *frameReader, q *queue) {
	for {
		it := s.decode(fr)
		if it.typ == framePublished {
			continue
		}
		if it.err == nil && !q.fits(it) {
			r, b := q.size()
			it = item{err: fmt.Errorf("the Java sink sent a %s frame of %d bytes past its window (%d records, %d bytes; %d records, %d bytes queued)",
				frameName(it.typ), it.size, q.maxRecords, q.maxBytes, r, b)}
			// The loop may be in a Write that waits for room: end it.
			s.cancel(it.err)
		}
		q.push(it)
		if it.err != nil {
			if errors.Is(it.err, ErrPeerGone) {
				// No result can reach Pulsar any more: stop now rather than
				// write records nobody will ack.
				s.cancel(ErrPeerGone)
			}
			return
		}
	}
}

func (s *session) decode(fr *frameReader) item {
	typ, body, err := fr.next()
	if err != nil {
		if err == io.EOF {
			return item{err: ErrPeerGone}
		}
		return item{err: fmt.Errorf("reading from the Java sink: %w", err)}
	}
	it := item{typ: typ, size: int64(len(body)) + 5}
	switch typ {
	case frameSchema:
		it.schema, it.err = decodeSchema(body)
	case frameRecord, frameUnreadable:
		it.rec, it.err = decodeRecord(&dec{b: body}, typ)
	case framePublished:
		id, msg, err := decodePublished(body)
		if it.err = err; err == nil {
			s.published(id, msg)
		} else {
			it.typ = 0
		}
	case frameClose:
		it.timeout, it.err = decodeClose(body)
	default:
		it.err = fmt.Errorf("frame type 0x%02x: not one the Java sink sends (protocol version %d)", typ, Version)
	}
	return it
}

// Flags of a RECORD frame.
const (
	flagHasKey       = 1 << 0
	flagHasEventTime = 1 << 1
	// flagChunked: the message came in chunks, and the ids are its last
	// chunk's, which is what the Go client's id of a chunked message
	// answers (LedgerID, EntryID) with batch index -1.
	flagChunked = 1 << 2
	// flagEncrypted: the payload is still encrypted (the consumer's crypto
	// failure action CONSUME), and its encryption context precedes it.
	flagEncrypted = 1 << 3
)

// decodeRecord reads a RECORD body, or an UNREADABLE one: the same fields
// and the reason.
func decodeRecord(d *dec, typ byte) (recordFrame, error) {
	f := recordFrame{seq: d.u64("sequence"), schemaID: d.u32("schema id")}
	topic := d.str("topic")
	flags := d.u8("flags")
	key := d.str("key")
	props := d.strMap("properties")
	eventMs := int64(d.u64("event time"))
	publishMs := int64(d.u64("publish time"))
	// The function path's ids come from the Go client, which numbers a
	// message of no partition and no batch 0 where Java says -1: so that
	// both ways into the sink print one id for one message, the same here.
	id := messageID{ledger: int64(d.u64("ledger id")), entry: int64(d.u64("entry id")),
		partition: max(int32(d.u32("partition index")), 0), batch: max(int32(d.u32("batch index")), 0)}
	if flags&flagChunked != 0 {
		id.batch = -1
	}
	redeliveries := d.u32("redelivery count")
	version := d.bytes("schema version")
	var enc *runtime.EncryptionContext
	if flags&flagEncrypted != 0 {
		enc = decodeEncryption(d)
	}
	payload := d.bytes("payload")
	name := "RECORD"
	if typ == frameUnreadable {
		f.reason = d.str("reason")
		name = "UNREADABLE"
	}
	if err := d.end(name); err != nil {
		return f, err
	}
	f.data = runtime.RecordData{
		Payload: payload, Key: key, HasKey: flags&flagHasKey != 0, Properties: props,
		Topic: topic, Partition: record.PartitionOf(topic), MessageID: id,
		PublishTime: time.UnixMilli(publishMs), RedeliveryCount: redeliveries, SchemaVersion: version,
		Encryption: enc,
	}
	if flags&flagHasEventTime != 0 {
		f.data.EventTime = time.UnixMilli(eventMs)
	}
	return f, nil
}

func (s *session) loop(ctx context.Context, fr *frameReader, q *queue) error {
	go s.read(fr, q)
	for {
		it, ok := q.pop(ctx)
		if !ok {
			return context.Cause(ctx)
		}
		if it.err != nil {
			return it.err
		}
		switch it.typ {
		case frameSchema:
			f := it.schema
			sch, err := schemafetch.FromInfo(record.SchemaType(f.typ), f.name, f.data, f.props, f.version)
			s.schemas[f.id] = schemaEntry{s: sch, err: err}
		case frameRecord:
			if err := s.record(ctx, it.rec); err != nil {
				return err
			}
		case frameUnreadable:
			s.unreadable(it.rec)
		case frameClose:
			return s.close(ctx, it.timeout)
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
	}
}

// messageID is a Pulsar message id as the Java side sends it; it has the
// methods record.Data.MessageIDText reads.
type messageID struct {
	ledger, entry    int64
	partition, batch int32
}

func (m messageID) LedgerID() int64     { return m.ledger }
func (m messageID) EntryID() int64      { return m.entry }
func (m messageID) PartitionIdx() int32 { return m.partition }
func (m messageID) BatchIdx() int32     { return m.batch }
func (m messageID) String() string {
	return fmt.Sprintf("%d:%d:%d", m.ledger, m.entry, m.partition)
}

// newRecord is the sink's record for a RECORD or UNREADABLE frame; its
// result goes back to the Java side as ACK or FAIL.
func (s *session) newRecord(f recordFrame) *runtime.Record {
	seq := f.seq
	s.pending.Add(1)
	return runtime.NewRecord(f.data, runtime.ResolveFuncs{
		OnAck: func(*runtime.Record) { s.resolved(frameAck, seq, "") },
		OnFail: func(r *runtime.Record, err error) {
			// The Java side nacks with no word of why; the function path's
			// runtime logs this line for every failed record.
			s.log.Warn("record failed", "topic", r.Topic, "id", r.MessageIDText(), "error", err.Error())
			s.resolved(frameFail, seq, errtext.OneLine(err.Error()))
		},
	})
}

func (s *session) record(ctx context.Context, f recordFrame) error {
	seq := f.seq
	r := s.newRecord(f)
	if f.schemaID != 0 {
		e, ok := s.schemas[f.schemaID]
		switch {
		case !ok:
			return fmt.Errorf("RECORD %d names schema %d, which no SCHEMA frame defined", seq, f.schemaID)
		case e.err != nil:
			r.Fail(r.Errorf("schema: %w", e.err))
			return nil
		}
		r.Schema = e.s
	}
	if err := s.o.Sink.Write(ctx, r); err != nil {
		var fe *runtime.FatalError
		if errors.As(err, &fe) {
			r.Fail(err)
			s.fatal(err)
			return err
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return context.Cause(ctx)
		}
		r.Fail(r.Errorf("%w", err))
	}
	return nil
}

// failurePolicy is a sink that applies its configured failure policy
// (deadLetter, failOnError, or a negative ack) to a record it was never
// given: sink.Sink.
type failurePolicy interface {
	HandleFailure(r *runtime.Record, kind string, err error)
}

// unreadable hands a record the Java sink could not read to the failure
// policy, the code the function path runs for a record that cannot be
// encoded or written. A restart would meet the same message again, so
// failing the instance (what an exception out of the Java sink's write
// did) only loops; the policy is the user's choice of what to do instead.
func (s *session) unreadable(f recordFrame) {
	r := s.newRecord(f)
	err := r.Errorf("the Java sink could not read it: %s", f.reason)
	if p, ok := s.o.Sink.(failurePolicy); ok {
		p.HandleFailure(r, "unreadable", err)
		return
	}
	r.Fail(err)
}

// resolved sends a record's result; the Java side acks or fails the
// Pulsar record.
func (s *session) resolved(typ byte, seq uint64, reason string) {
	s.pending.Add(-1)
	if typ == frameFail {
		s.out.send(failFrame(seq, reason))
	} else {
		s.out.send(ackFrame(seq))
	}
}

// Publish implements runtime.Publisher over the pipe: the Java side
// publishes through its sink context (the dead-letter policy) and answers.
func (s *session) Publish(ctx context.Context, topic string, payload []byte, key string, props map[string]string) error {
	ch := make(chan error, 1)
	s.pubMu.Lock()
	s.pubSeq++
	id := s.pubSeq
	s.pubs[id] = ch
	s.pubMu.Unlock()
	s.out.send(publishFrame(id, topic, key, props, payload))
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		s.pubMu.Lock()
		delete(s.pubs, id)
		s.pubMu.Unlock()
		return ctx.Err()
	}
}

func (s *session) published(id uint64, msg string) {
	s.pubMu.Lock()
	ch := s.pubs[id]
	delete(s.pubs, id)
	s.pubMu.Unlock()
	if ch == nil {
		return // its Publish gave up
	}
	if msg != "" {
		ch <- errors.New(msg)
	} else {
		ch <- nil
	}
}

// recordMetric sums a user metric; sendMetrics forwards the sums once a
// second. The sink records a few per record (the Java sink's
// _kinesis_total_* counters): a frame each, and a SinkContext.recordMetric
// call each in the JVM, cost more than the rest of the Java side's work per
// record, and a reader busy with them delays the acks behind them. What
// reaches the worker is a sum per second: totals are kept, the number of
// observations is not.
func (s *session) recordMetric(name string, value float64) {
	s.metricMu.Lock()
	if s.metrics == nil {
		s.metrics = map[string]float64{}
	}
	s.metrics[name] += value
	s.metricMu.Unlock()
}

func (s *session) sendMetrics() {
	s.metricMu.Lock()
	m := s.metrics
	s.metrics = nil
	s.metricMu.Unlock()
	for name, v := range m {
		s.out.send(metricFrame(name, v))
	}
}

// heartbeat tells the Java side this process runs and its output moves:
// a stopped (SIGSTOP) or wedged child sends none, and the Java side fails
// the instance after 30 s without a frame. It proves no progress of the
// sink: a sink waiting on Kinesis with a full buffer is backpressure, and
// heartbeats go on.
func (s *session) heartbeat(ctx context.Context) {
	every := s.o.Heartbeat
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.out.send(heartbeatFrame())
		case <-ctx.Done():
			return
		}
	}
}

func (s *session) metricsLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.sendMetrics()
		case <-ctx.Done():
			return
		}
	}
}

// fatal ends the instance: the Java side fails its instance (the worker
// restarts it) and this process stops reading.
func (s *session) fatal(err error) {
	s.fatalOnce.Do(func() {
		s.out.send(fatalFrame(errtext.OneLine(err.Error())))
		s.cancel(&runtime.FatalError{Err: err})
	})
}

// close flushes the sink within timeout (0: not at all, the sink's work
// in flight ends at once) and says so; records it could not resolve are
// failed by the Java side, which holds them.
func (s *session) close(ctx context.Context, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := s.o.Sink.Close(cctx)
	s.sendMetrics()
	msg := ""
	if err != nil {
		msg = errtext.OneLine(err.Error())
	}
	s.log.Info("sidecar closed", "unresolved", s.pending.Load(), "error", msg)
	s.out.send(closedFrame(msg))
	return err
}
