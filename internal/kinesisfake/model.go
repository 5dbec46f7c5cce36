package kinesisfake

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

// Config sets up a Model. The zero value is a Kinesis in us-east-1 with
// Kinesis's shard limits on the real clock.
type Config struct {
	// Region and Account make the streams' ARNs and messages; defaults
	// us-east-1 and 000000000000 (kinesalite's account).
	Region, Account string
	// Now is the model's clock: shard limits, arrival times, scripted
	// outages. Default time.Now, which testing/synctest's fake clock
	// drives inside a bubble. Delays and timeouts wait on timers, so they
	// follow the real (or the bubble's) clock whatever Now is.
	Now func() time.Time
	// ShardLimit is every shard's write limit; nil means Kinesis's
	// (KinesisShardLimit). NoShardLimit turns limits off, as in kinesalite.
	ShardLimit   *ShardLimit
	NoShardLimit bool
	// MaxRequestBytes bounds a PutRecords request's data + partition keys;
	// 0 means Kinesis's 10 MiB (kinesisrules.MaxBytesPerRequest). Set
	// 5 MiB for the limit Kinesis had before 2025 (and that many clients
	// still assume).
	MaxRequestBytes int
	// Faults is the initial fault hook (SetFaults changes it).
	Faults FaultFunc
	// Discard keeps no records (read-back finds none), for long runs that
	// only count: sequence numbers, limits and answers are unchanged.
	Discard bool
	// OnStored, if set, is called with each record stored, after the write
	// and before the answer, on the caller's goroutine without locks held.
	OnStored func(stream string, r Record)
}

// Model is an in-process Kinesis: streams, shards, records, limits and
// faults. It answers the producer's calls in memory (Client) and over the
// Kinesis JSON protocol (Handler). It starts no goroutine. Safe for
// concurrent use.
type Model struct {
	cfg   Config
	limit *ShardLimit

	mu      sync.Mutex
	streams map[string]*Stream // by name
	byGen   map[uint64]*Stream
	gen     uint64
	faults  FaultFunc
	calls   map[string]int64

	requestID                                                atomic.Uint64
	entriesStored, entriesThrottled, entriesFaulted, refused atomic.Int64
}

// New returns an empty model.
func New(cfg Config) *Model {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = kinesisrules.MaxBytesPerRequest
	}
	m := &Model{cfg: cfg, streams: map[string]*Stream{}, byGen: map[uint64]*Stream{},
		faults: cfg.Faults, calls: map[string]int64{}}
	if !cfg.NoShardLimit {
		l := KinesisShardLimit()
		if cfg.ShardLimit != nil {
			l = *cfg.ShardLimit
		}
		m.limit = &l
	}
	return m
}

func (m *Model) now() time.Time { return m.cfg.Now() }

// SetFaults replaces the fault hook; nil lets every call through.
func (m *Model) SetFaults(f FaultFunc) {
	m.mu.Lock()
	m.faults = f
	m.mu.Unlock()
}

// StreamSpec describes a stream to create.
type StreamSpec struct {
	Name   string
	Shards int
	// MaxRecordSizeInKiB is the largest record the stream takes; 0 means
	// Kinesis's default, 1024.
	MaxRecordSizeInKiB int
}

// CreateStream creates an ACTIVE stream whose shards split the hash key
// space evenly, as CreateStream does. It fails with ResourceInUseException
// if the name is taken.
func (m *Model) CreateStream(spec StreamSpec) (*Stream, error) {
	if !kinesisrules.ValidStreamName(spec.Name) {
		return nil, apiErr(CodeValidation, "1 validation error detected: Value '%s' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", spec.Name, streamNamePattern)
	}
	if spec.Shards < 1 {
		return nil, apiErr(CodeValidation, "1 validation error detected: Value '%d' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1", spec.Shards)
	}
	kib := spec.MaxRecordSizeInKiB
	if kib == 0 {
		kib = kinesisrules.DefaultRecordSize / 1024
	}
	if kib < 1024 || kib > kinesisrules.MaxRecordSize/1024 {
		return nil, apiErr(CodeValidation, "1 validation error detected: Value '%d' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value between 1024 and 10240", kib)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.streams[spec.Name]; ok {
		return nil, apiErr(CodeResourceInUse, "Stream %s under account %s already exists.", spec.Name, m.cfg.Account)
	}
	m.gen++
	s := &Stream{model: m, name: spec.Name, account: m.cfg.Account, gen: m.gen, created: m.now(), maxKiB: kib, status: types.StreamStatusActive,
		arn: fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", m.cfg.Region, m.cfg.Account, spec.Name)}
	for _, r := range evenRanges(spec.Shards) {
		s.addShardLocked(r[0], r[1], "", "")
	}
	m.streams[spec.Name] = s
	m.byGen[s.gen] = s
	return s, nil
}

// MustCreateStream is CreateStream for a spec known to be valid.
func (m *Model) MustCreateStream(name string, shards int) *Stream {
	s, err := m.CreateStream(StreamSpec{Name: name, Shards: shards})
	if err != nil {
		panic(err)
	}
	return s
}

// DeleteStream removes a stream at once (Kinesis takes a while, in
// DELETING); its records are gone with it.
func (m *Model) DeleteStream(name string) error {
	m.mu.Lock()
	s := m.streams[name]
	delete(m.streams, name)
	m.mu.Unlock()
	if s == nil {
		return apiErr(CodeResourceNotFound, "Stream %s under account %s not found.", name, m.cfg.Account)
	}
	s.mu.Lock()
	s.deleted = true
	s.mu.Unlock()
	return nil
}

// Stream returns the stream of that name or ARN, or nil.
func (m *Model) Stream(nameOrARN string) *Stream {
	var name, arn *string
	if kinesisrules.IsStreamARN(nameOrARN) {
		arn = &nameOrARN
	} else {
		name = &nameOrARN
	}
	s, _ := m.lookup(name, arn)
	return s
}

// lookup finds the stream a call names by StreamName or StreamARN. An ARN
// of another region or account names no stream of this model.
func (m *Model) lookup(name, arn *string) (*Stream, *APIError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := ""
	switch {
	case arn != nil:
		a, ok := kinesisrules.ParseStreamARN(*arn)
		if !ok || a.Region != m.cfg.Region || a.Account != m.cfg.Account {
			return nil, apiErr(CodeResourceNotFound, "Stream %s not found.", *arn)
		}
		n = a.Name
		if name != nil && *name != n {
			return nil, apiErr(CodeInvalidArgument, "StreamARN %s and StreamName %s do not name the same stream.", *arn, *name)
		}
	case name != nil:
		n = *name
	}
	s := m.streams[n]
	if s == nil {
		return nil, apiErr(CodeResourceNotFound, "Stream %s under account %s not found.", n, m.cfg.Account)
	}
	return s, nil
}

// Counters say what the model did since New.
type Counters struct {
	// Calls counts calls by operation, refused ones included.
	Calls map[string]int64
	// EntriesStored, EntriesThrottled (by the shard limit) and
	// EntriesFaulted (by a fault's EntryErrors) count PutRecords entries.
	EntriesStored, EntriesThrottled, EntriesFaulted int64
	// Refused counts calls a fault answered without processing them
	// (unreachable, reset, timeout, whole-request error).
	Refused int64
}

// Counters returns a snapshot.
func (m *Model) Counters() Counters {
	m.mu.Lock()
	calls := make(map[string]int64, len(m.calls))
	for k, v := range m.calls {
		calls[k] = v
	}
	m.mu.Unlock()
	return Counters{Calls: calls, EntriesStored: m.entriesStored.Load(), EntriesThrottled: m.entriesThrottled.Load(),
		EntriesFaulted: m.entriesFaulted.Load(), Refused: m.refused.Load()}
}

// call is one call in progress: its request id and the fault it meets.
type call struct {
	id    string
	fault Fault
}

// begin numbers a call, shows it to the fault hook and applies the faults
// that come before processing. A non-nil error is the call's answer.
func (m *Model) begin(ctx context.Context, op, stream string, entries func() []EntryInfo) (*call, error) {
	m.mu.Lock()
	m.calls[op]++
	n := m.calls[op]
	hook := m.faults
	m.mu.Unlock()
	c := &call{id: fmt.Sprintf("kinesisfake-%d", m.requestID.Add(1))}
	if hook == nil {
		return c, nil
	}
	q := &Request{Op: op, N: n, Stream: stream, Now: m.now()}
	if entries != nil {
		q.Entries = entries()
	}
	c.fault = hook(q)
	f := &c.fault
	var err error
	switch {
	case f.Unreachable:
		err = &transportError{}
	case f.Reset:
		err = &transportError{reset: true}
	case f.Timeout:
		<-ctx.Done()
		err = ctx.Err()
	case f.Error != nil:
		err = f.Error
	}
	if err != nil {
		m.refused.Add(1)
	}
	return c, err
}

// finish applies the faults that come after processing.
func (c *call) finish(ctx context.Context) error {
	f := &c.fault
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	switch {
	case f.TimeoutAfterWrite:
		<-ctx.Done()
		return ctx.Err()
	case f.ResetAfterWrite:
		return &transportError{reset: true}
	}
	return nil
}
