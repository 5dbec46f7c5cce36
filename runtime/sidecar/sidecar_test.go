package sidecar

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

// The real sink takes unreadable records into its failure policy: without
// the method the session would only nack them, whatever the policy.
var _ failurePolicy = (*sink.Sink)(nil)

// waitLimit bounds every wait for the child's answer: a hung session fails
// the test instead of hanging it. Nothing waits for time to pass.
const waitLimit = 10 * time.Second

type frame struct {
	typ  byte
	body []byte
}

// peer plays the Java side of one Run.
type peer struct {
	t          *testing.T
	in         *io.PipeWriter
	frames     chan frame // from the child, METRIC and HEARTBEAT frames left out
	heartbeats atomic.Int64
	done       chan error // Run's result
}

// session options of a test: the window HELLO declares (0: the default)
// and Options.Heartbeat.
type opts struct {
	windowRecords uint32
	windowBytes   uint64
	heartbeat     time.Duration
}

// start runs a session over pipes with sink and opens it.
func start(t *testing.T, sink runtime.Sink) *peer {
	t.Helper()
	return startWith(t, sink, opts{})
}

func startWith(t *testing.T, sink runtime.Sink, o opts) *peer {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &peer{t: t, in: inW, frames: make(chan frame, 64), done: make(chan error, 1)}
	go func() {
		err := Run(context.Background(), Options{In: inR, Out: outW, Sink: sink, Heartbeat: o.heartbeat})
		outW.Close()
		p.done <- err
	}()
	go func() {
		defer close(p.frames)
		fr := newFrameReader(outR)
		for {
			typ, body, err := fr.next()
			if err != nil {
				return
			}
			switch typ {
			case frameMetric:
			case frameHeartbeat:
				p.heartbeats.Add(1)
			default:
				p.frames <- frame{typ, append([]byte(nil), body...)}
			}
		}
	}()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-p.done:
		case <-time.After(waitLimit):
			t.Error("Run did not return after the pipe closed")
		}
	})
	p.send(helloFrame(Version, `{}`, o.windowRecords, o.windowBytes))
	if f := p.next(); f.typ != frameReady {
		t.Fatalf("got frame 0x%02x after HELLO, want READY", f.typ)
	}
	return p
}

// helloFrame is a HELLO as the Java side sends it, for instance 0 of 1 of
// public/default/sidecar-unit with no secrets; a window of 0 means the
// defaults.
func helloFrame(version uint32, config string, windowRecords uint32, windowBytes uint64) []byte {
	var e enc
	e.start(frameHello)
	e.u32(version)
	e.str(config)
	e.strMap(nil)
	e.str("public")
	e.str("default")
	e.str("sidecar-unit")
	e.u32(0)
	e.u32(1)
	e.str("")
	e.u32(windowRecords)
	e.u64(windowBytes)
	return e.finish()
}

func (p *peer) send(b []byte) {
	p.t.Helper()
	if _, err := p.in.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) next() frame {
	p.t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			p.t.Fatal("the child's output ended")
		}
		return f
	case <-time.After(waitLimit):
		p.t.Fatalf("no frame from the child within %s", waitLimit)
	}
	return frame{}
}

// testRecord is what a RECORD or UNREADABLE frame carries here.
type testRecord struct {
	seq                uint64
	flags              byte
	key                string
	ledger, entry      uint64
	partition, batch   int32
	payload            []byte
	reason             string // UNREADABLE only
	props              map[string]string
	topic              string
	eventMs, publishMs uint64
	redeliveries       uint32
	schemaVersion      []byte
	schemaID           uint32
	unreadable         bool
	omitReason         bool // a broken UNREADABLE
}

func (r testRecord) frame() []byte {
	var e enc
	typ := frameRecord
	if r.unreadable {
		typ = frameUnreadable
	}
	e.start(typ)
	e.u64(r.seq)
	e.u32(r.schemaID)
	e.str(r.topic)
	e.b = append(e.b, r.flags)
	e.str(r.key)
	e.strMap(r.props)
	e.u64(r.eventMs)
	e.u64(r.publishMs)
	e.u64(r.ledger)
	e.u64(r.entry)
	e.u32(uint32(r.partition))
	e.u32(uint32(r.batch))
	e.u32(r.redeliveries)
	e.bytes(r.schemaVersion)
	e.bytes(r.payload)
	if r.unreadable && !r.omitReason {
		e.str(r.reason)
	}
	return e.finish()
}

// fakeSink records what it is given; a policySink also has the failure
// policy hook sink.Sink has.
type fakeSink struct {
	sc      *runtime.SinkContext
	written chan *runtime.Record
}

func newFakeSink() *fakeSink { return &fakeSink{written: make(chan *runtime.Record, 16)} }

func (f *fakeSink) Open(_ context.Context, sc *runtime.SinkContext) error {
	f.sc = sc
	return nil
}

func (f *fakeSink) Write(_ context.Context, r *runtime.Record) error {
	f.written <- r
	r.Ack()
	return nil
}

func (f *fakeSink) Close(context.Context) error { return nil }

type handled struct {
	r    *runtime.Record
	kind string
	err  error
}

type policySink struct {
	*fakeSink
	handled chan handled
	apply   func(s *policySink, r *runtime.Record, err error)
}

func (p *policySink) HandleFailure(r *runtime.Record, kind string, err error) {
	p.handled <- handled{r, kind, err}
	p.apply(p, r, err)
}

func unreadableRecord(seq uint64) testRecord {
	return testRecord{
		seq: seq, unreadable: true, topic: "persistent://public/default/t-partition-2", flags: flagHasKey, key: "k",
		props: map[string]string{"p": "v"}, ledger: 7, entry: 9, partition: 2, batch: 3, payload: []byte("payload"),
		reason: "java.lang.IllegalStateException: schema version 0 of t: not found",
	}
}

const wantReason = "record persistent://public/default/t-partition-2 7:9:2:3: the Java sink could not read it: " +
	"java.lang.IllegalStateException: schema version 0 of t: not found"

// TestUnreadable: a record the Java side could not read goes to the
// sink's failure policy (never to Write) with a reason naming it, its
// result goes back as ACK or FAIL, and the session goes on.
func TestUnreadable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		apply func(s *policySink, r *runtime.Record, err error)
		want  byte
	}{
		// deadLetter acks once the dead letter is published.
		{"policy-acks", func(_ *policySink, r *runtime.Record, _ error) { r.Ack() }, frameAck},
		// The default policy fails the record (Pulsar redelivers it).
		{"policy-fails", func(_ *policySink, r *runtime.Record, err error) { r.Fail(err) }, frameFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &policySink{fakeSink: newFakeSink(), handled: make(chan handled, 4), apply: tc.apply}
			p := start(t, s)
			p.send(unreadableRecord(1).frame())
			var h handled
			select {
			case h = <-s.handled:
			case <-time.After(waitLimit):
				t.Fatal("the failure policy was not applied")
			}
			if h.kind != "unreadable" || h.err.Error() != wantReason {
				t.Errorf("policy got kind %q, error %q; want unreadable, %q", h.kind, h.err, wantReason)
			}
			if string(h.r.Payload) != "payload" || h.r.Key != "k" || !h.r.HasKey || h.r.Properties["p"] != "v" {
				t.Errorf("policy got payload %q key %q (%v) properties %v: want what the frame carried",
					h.r.Payload, h.r.Key, h.r.HasKey, h.r.Properties)
			}
			f := p.next()
			if f.typ != tc.want || binary.BigEndian.Uint64(f.body) != 1 {
				t.Fatalf("got frame 0x%02x for record %d, want 0x%02x for 1", f.typ, binary.BigEndian.Uint64(f.body), tc.want)
			}
			if f.typ == frameFail {
				if got := string(f.body[12:]); got != wantReason {
					t.Errorf("FAIL says %q, want %q", got, wantReason)
				}
			}
			// The next record is written as ever.
			p.send(testRecord{seq: 2, topic: "persistent://public/default/t", payload: []byte("next")}.frame())
			if f := p.next(); f.typ != frameAck || binary.BigEndian.Uint64(f.body) != 2 {
				t.Fatalf("got frame 0x%02x for record %d, want ACK for 2", f.typ, binary.BigEndian.Uint64(f.body))
			}
			if r := <-s.written; string(r.Payload) != "next" {
				t.Errorf("Write got %q, want the second record", r.Payload)
			}
		})
	}

	t.Run("failOnError", func(t *testing.T) {
		s := &policySink{fakeSink: newFakeSink(), handled: make(chan handled, 4), apply: func(s *policySink, r *runtime.Record, err error) {
			r.Fail(err)
			s.sc.Fatal(errors.New("failurePolicy failOnError: " + err.Error()))
		}}
		p := start(t, s)
		p.send(unreadableRecord(1).frame())
		if f := p.next(); f.typ != frameFail {
			t.Fatalf("got frame 0x%02x, want FAIL", f.typ)
		}
		f := p.next()
		if f.typ != frameFatal || !strings.Contains(string(f.body[4:]), wantReason) {
			t.Fatalf("got frame 0x%02x %q, want FATAL with the reason", f.typ, f.body)
		}
		select {
		case err := <-p.done:
			var fe *runtime.FatalError
			if !errors.As(err, &fe) {
				t.Errorf("Run returned %v, want the fatal error", err)
			}
			p.done <- err // for the cleanup
		case <-time.After(waitLimit):
			t.Fatal("Run did not end after FATAL")
		}
	})

	t.Run("sink-without-policy", func(t *testing.T) {
		s := newFakeSink()
		p := start(t, s)
		p.send(unreadableRecord(1).frame())
		f := p.next()
		if f.typ != frameFail || string(f.body[12:]) != wantReason {
			t.Fatalf("got frame 0x%02x %q, want FAIL with %q", f.typ, f.body, wantReason)
		}
		if len(s.written) != 0 {
			t.Error("an unreadable record reached Write")
		}
	})

	t.Run("no-reason", func(t *testing.T) {
		p := start(t, newFakeSink())
		r := unreadableRecord(1)
		r.omitReason = true
		p.send(r.frame())
		select {
		case err := <-p.done:
			if err == nil || !strings.Contains(err.Error(), "UNREADABLE frame") {
				t.Errorf("Run returned %v, want an error about the UNREADABLE frame", err)
			}
			p.done <- err
		case <-time.After(waitLimit):
			t.Fatal("Run went on after a broken UNREADABLE frame")
		}
	})
}

// TestRecordIDs: the id a record is named by, as the Go client numbers
// it on the function path: no partition and no batch are 0 where Java
// says -1, and a chunked message's batch index is -1.
func TestRecordIDs(t *testing.T) {
	s := newFakeSink()
	p := start(t, s)
	for i, tc := range []struct {
		flags            byte
		partition, batch int32
		want             string
	}{
		{0, -1, -1, "5:6:0:0"},
		{0, 3, 4, "5:6:3:4"},
		{flagChunked, -1, -1, "5:6:0:-1"},
		{flagChunked, 1, -1, "5:6:1:-1"},
	} {
		p.send(testRecord{seq: uint64(i + 1), flags: tc.flags, topic: "persistent://public/default/t", ledger: 5, entry: 6,
			partition: tc.partition, batch: tc.batch}.frame())
		if f := p.next(); f.typ != frameAck {
			t.Fatalf("got frame 0x%02x, want ACK", f.typ)
		}
		r := <-s.written
		if got := r.MessageIDText(); got != tc.want {
			t.Errorf("flags %d, partition %d, batch %d: id %q, want %q", tc.flags, tc.partition, tc.batch, got, tc.want)
		}
		// A null value (a tombstone) comes as an empty payload, as the Go
		// client gives it to the function path.
		if len(r.Payload) != 0 || r.HasKey {
			t.Errorf("payload %v, has key %v: want empty and no key", r.Payload, r.HasKey)
		}
	}
}
