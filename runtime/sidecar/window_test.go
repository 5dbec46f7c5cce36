package sidecar

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// deadLetterSink's Write publishes each record's payload as a dead letter
// through the session and acks the record once the publish is answered,
// as the deadLetter policy holds a record (and its place in the buffer)
// until its dead letter is out; it records how many writes started.
type deadLetterSink struct {
	*fakeSink
	started chan uint64
}

func (d *deadLetterSink) Write(ctx context.Context, r *runtime.Record) error {
	d.started <- uint64(len(r.Payload))
	if err := d.sc.Publisher.Publish(ctx, "dlt", r.Payload, "", nil); err != nil {
		r.Fail(err)
		return nil
	}
	r.Ack()
	return nil
}

// blockedSink's Write blocks until the session ends: a sink whose buffer
// stays full.
type blockedSink struct {
	*fakeSink
	started chan int
}

func (b *blockedSink) Write(ctx context.Context, r *runtime.Record) error {
	b.started <- len(r.Payload)
	<-ctx.Done()
	return ctx.Err()
}

func recordOf(seq uint64, n int) testRecord {
	return testRecord{seq: seq, topic: "persistent://public/default/t", payload: make([]byte, n)}
}

func frameLen(r testRecord) uint64 { return uint64(len(r.frame())) }

// TestWindowPublishedGetsThrough: with the Java side's window full (one
// record in Write waiting for its dead letter, the rest queued), the
// PUBLISHED answer behind them is read and the records resolve: the
// bounded queue never stops the reading.
func TestWindowPublishedGetsThrough(t *testing.T) {
	s := &deadLetterSink{fakeSink: newFakeSink(), started: make(chan uint64, 8)}
	r1, r2, r3 := recordOf(1, 1000), recordOf(2, 1000), recordOf(3, 1000)
	// Three records, exactly the window in bytes and in records.
	p := startWith(t, s, opts{windowRecords: 3, windowBytes: frameLen(r1) * 3})
	p.send(r1.frame())
	p.send(r2.frame())
	p.send(r3.frame())
	f := p.next()
	if f.typ != framePublish {
		t.Fatalf("got frame 0x%02x, want PUBLISH", f.typ)
	}
	id := binary.BigEndian.Uint64(f.body)
	var e enc
	for i := range 3 {
		e.start(framePublished)
		e.u64(id)
		e.str("")
		p.send(e.finish())
		if f := p.next(); f.typ != frameAck || binary.BigEndian.Uint64(f.body) != uint64(i+1) {
			t.Fatalf("got frame 0x%02x for %d, want ACK for %d", f.typ, binary.BigEndian.Uint64(f.body), i+1)
		}
		if i < 2 {
			if f := p.next(); f.typ != framePublish {
				t.Fatalf("got frame 0x%02x, want PUBLISH", f.typ)
			}
			id++
		}
	}
}

// TestWindowOverrun: a peer that sends past the window it declared, in
// records or in bytes, ends the session with an error naming the window
// (the child exits non-zero and the Java side fails the instance) instead
// of queueing without bound or waiting.
func TestWindowOverrun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       opts
		records []testRecord
	}{
		// One record in Write, two queued: the third queued is past 2 records.
		{"records", opts{windowRecords: 2, windowBytes: 1 << 30},
			[]testRecord{recordOf(1, 10), recordOf(2, 10), recordOf(3, 10), recordOf(4, 10)}},
		// One record in Write, one queued (600 of 1,000 bytes); another 600 is past.
		{"bytes", opts{windowRecords: 100, windowBytes: 1000},
			[]testRecord{recordOf(1, 500), recordOf(2, 500), recordOf(3, 500)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &blockedSink{fakeSink: newFakeSink(), started: make(chan int, 8)}
			p := startWith(t, s, tc.o)
			p.send(tc.records[0].frame())
			<-s.started
			for _, r := range tc.records[1:] {
				p.send(r.frame())
			}
			select {
			case err := <-p.done:
				if err == nil || !strings.Contains(err.Error(), "past its window") {
					t.Errorf("Run returned %v, want the window overrun", err)
				}
				p.done <- err
			case <-time.After(waitLimit):
				t.Fatal("Run went on past the window")
			}
		})
	}
}

// TestWindowLargeRecordAlone: a record larger than the whole window goes
// when nothing else is queued, as the Java side sends it alone.
func TestWindowLargeRecordAlone(t *testing.T) {
	s := newFakeSink()
	p := startWith(t, s, opts{windowRecords: 10, windowBytes: 1000})
	for seq := uint64(1); seq <= 3; seq++ {
		p.send(recordOf(seq, 5000).frame())
		if f := p.next(); f.typ != frameAck || binary.BigEndian.Uint64(f.body) != seq {
			t.Fatalf("got frame 0x%02x, want ACK for %d", f.typ, seq)
		}
		if r := <-s.written; len(r.Payload) != 5000 {
			t.Fatalf("Write got %d bytes, want 5000", len(r.Payload))
		}
	}
}

// TestQueueBound: the queue's own accounting, frame by frame.
func TestQueueBound(t *testing.T) {
	q := newQueue(3, 100)
	rec := func(n int64) item { return item{typ: frameRecord, size: n} }
	if !q.fits(rec(500)) {
		t.Error("an empty queue refused a record larger than the bound")
	}
	q.push(rec(60))
	if q.fits(rec(41)) || !q.fits(rec(40)) {
		t.Error("the byte bound is not 100")
	}
	q.push(rec(20))
	q.push(rec(20))
	if q.fits(rec(0)) {
		t.Error("a fourth record fitted a bound of 3")
	}
	if !q.fits(item{typ: frameSchema, size: 1 << 20}) {
		t.Error("a SCHEMA frame counted against the window")
	}
	if _, ok := q.pop(context.Background()); !ok {
		t.Fatal("pop")
	}
	if r, b := q.size(); r != 2 || b != 40 {
		t.Errorf("after a pop: %d records, %d bytes; want 2, 40", r, b)
	}
	if !q.fits(rec(60)) {
		t.Error("a record that fits the room a pop made was refused")
	}
}

// TestHeartbeat: HEARTBEAT frames go out while the sink's Write is
// blocked (a full buffer is backpressure, not a hung child), and stop
// with the session.
func TestHeartbeat(t *testing.T) {
	s := &blockedSink{fakeSink: newFakeSink(), started: make(chan int, 1)}
	p := startWith(t, s, opts{heartbeat: 5 * time.Millisecond})
	p.send(recordOf(1, 10).frame())
	<-s.started
	before := p.heartbeats.Load()
	deadline := time.Now().Add(waitLimit)
	for p.heartbeats.Load() < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeats in %s with Write blocked, want 3", p.heartbeats.Load()-before, waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
	p.in.Close()
	select {
	case err := <-p.done:
		if !errors.Is(err, ErrPeerGone) {
			t.Errorf("Run returned %v, want ErrPeerGone", err)
		}
		p.done <- err
	case <-time.After(waitLimit):
		t.Fatal("Run did not end")
	}
}
