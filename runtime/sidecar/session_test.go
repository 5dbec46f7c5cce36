package sidecar

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// The session against a scripted Java side that misbehaves: every way the
// bytes on the pipe can be wrong ends the session with an error naming
// what was wrong (the Java side then fails the instance), never a hang or
// a record acked that was not written.

// run is one session over a script: the Java side's bytes, then the end
// of its pipe. It returns the frames the child wrote and Run's error.
func run(t *testing.T, sink runtime.Sink, script []byte) ([]frame, error) {
	t.Helper()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{In: bytes.NewReader(script), Out: &out, Sink: sink, Heartbeat: time.Hour})
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
	var frames []frame
	fr := newFrameReader(&out)
	for {
		typ, body, e := fr.next()
		if e != nil {
			break
		}
		if typ != frameMetric && typ != frameHeartbeat {
			frames = append(frames, frame{typ, append([]byte(nil), body...)})
		}
	}
	return frames, err
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func rawFrame(typ byte, body ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
	return append(append(b, typ), body...)
}

func TestBadInput(t *testing.T) {
	ok := helloFrame(Version, `{}`, 0, 0)
	rec := testRecord{seq: 1, topic: "persistent://public/default/t", payload: []byte("x")}.frame()
	// One byte more inside the frame than its fields take: its length says so.
	long := append(append([]byte(nil), rec...), 9)
	binary.BigEndian.PutUint32(long, binary.BigEndian.Uint32(long)+1)
	for _, tc := range []struct {
		name   string
		script []byte
		want   string // in Run's error
		open   bool   // the session opened (READY) before the fault
	}{
		{"nothing", nil, ErrPeerGone.Error(), false},
		{"half a length", []byte{0, 0}, "reading HELLO: frame length: unexpected EOF", false},
		{"first frame not HELLO", rec, "first frame has type 0x03, want HELLO", false},
		{"older version", helloFrame(2, `{}`, 0, 0), "speaks sidecar protocol version 2; this kinesis-sink speaks 3", false},
		{"newer version", helloFrame(Version+1, `{}`, 0, 0), "version 4", false},
		{"config not JSON", helloFrame(Version, `{awsRegion`, 0, 0), "the sink configuration is not a JSON object", false},
		{"HELLO too short", rawFrame(frameHello, 0, 0, 0, byte(Version), 0, 0), "HELLO frame: config", false},
		{"zero length", cat(ok, []byte{0, 0, 0, 0}), "frame length 0: allowed 1 to", true},
		{"oversized", cat(ok, []byte{0x7f, 0xff, 0xff, 0xff}), "frame length 2147483647: allowed 1 to", true},
		{"truncated body", cat(ok, rec[:len(rec)-3]), "frame of", true},
		{"truncated length", cat(ok, rec[:2]), "frame length: unexpected EOF", true},
		{"unknown type", cat(ok, rawFrame(0x7e, 1, 2, 3)), "frame type 0x7e: not one the Java sink sends", true},
		{"a frame of Go's", cat(ok, rawFrame(frameAck, 0, 0, 0, 0, 0, 0, 0, 1)), "frame type 0x83: not one the Java sink sends", true},
		{"RECORD too short", cat(ok, rawFrame(frameRecord, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0)), "RECORD frame: schema id: need 4 bytes, 2 left", true},
		{"RECORD with a field past its end", cat(ok, rawFrame(frameRecord, append(make([]byte, 12), 0, 0, 1, 0)...)), "RECORD frame: topic: need 256 bytes", true},
		{"RECORD with bytes after it", cat(ok, long), "RECORD frame: 1 bytes after the last field", true},
		{"SCHEMA too short", cat(ok, rawFrame(frameSchema, 0, 0, 0, 1)), "SCHEMA frame: type", true},
		{"CLOSE too long", cat(ok, rawFrame(frameClose, 0, 0, 0, 1, 0)), "CLOSE frame: 1 bytes after the last field", true},
		{"end between frames", cat(ok, rec), ErrPeerGone.Error(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := run(t, newFakeSink(), tc.script)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run returned %v; want an error with %q", err, tc.want)
			}
			opened := len(frames) > 0 && frames[0].typ == frameReady
			if opened != tc.open {
				t.Fatalf("frames %v: opened %v, want %v", types(frames), opened, tc.open)
			}
			if !tc.open {
				// A session that did not open says why, in one line, and
				// nothing else; a peer that sent no HELLO gets nothing.
				noHello := len(tc.script) < 5
				if noHello && len(frames) != 0 || !noHello && (len(frames) != 1 || frames[0].typ != frameOpenFailed) {
					t.Fatalf("frames %v, want only OPEN_FAILED", types(frames))
				}
				return
			}
			// Only a record read whole and in a well-formed frame is written.
			for _, f := range frames[1:] {
				if f.typ == frameAck && tc.name != "end between frames" {
					t.Errorf("a record was acked in a broken session")
				}
			}
		})
	}
}

func types(fs []frame) []string {
	var s []string
	for _, f := range fs {
		s = append(s, frameName(f.typ))
	}
	return s
}

// slowSink holds the records it is given until Close, which acks them
// (its flush) or, when stuck, waits for its context to end.
type slowSink struct {
	mu    sync.Mutex
	held  []*runtime.Record
	stuck bool
	wrote chan struct{}
}

func (s *slowSink) Open(context.Context, *runtime.SinkContext) error { return nil }

func (s *slowSink) Write(_ context.Context, r *runtime.Record) error {
	s.mu.Lock()
	s.held = append(s.held, r)
	s.mu.Unlock()
	s.wrote <- struct{}{}
	return nil
}

func (s *slowSink) Close(ctx context.Context) error {
	if s.stuck || ctx.Err() != nil {
		// Unlike the sink, which fails what it could not resolve, the
		// records are left to the Java side: the session's part is
		// only to answer CLOSED at once, with no ACK.
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.held {
		r.Ack()
	}
	return nil
}

// CLOSE with records in flight: the flush resolves them before CLOSED; a
// flush past CLOSE's timeout answers CLOSED with the error, within the
// timeout, leaving the unresolved records to the Java side (it fails them).
func TestClose(t *testing.T) {
	closeFrame := func(ms uint32) []byte {
		var e enc
		e.start(frameClose)
		e.u32(ms)
		return e.finish()
	}
	t.Run("records in flight", func(t *testing.T) {
		s := &slowSink{wrote: make(chan struct{}, 8)}
		p := start(t, s)
		for i := range 3 {
			p.send(testRecord{seq: uint64(i + 1), topic: "persistent://public/default/t", payload: []byte("x")}.frame())
			<-s.wrote
		}
		p.send(closeFrame(5000))
		var acks []uint64
		for {
			f := p.next()
			if f.typ == frameClosed {
				if msg := string(f.body[4:]); msg != "" {
					t.Errorf("CLOSED says %q, want no error", msg)
				}
				break
			}
			if f.typ != frameAck {
				t.Fatalf("got %s during the close", frameName(f.typ))
			}
			acks = append(acks, binary.BigEndian.Uint64(f.body))
		}
		if len(acks) != 3 {
			t.Fatalf("acks %v before CLOSED, want the 3 records", acks)
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("Run returned %v after a clean close", err)
			}
			p.done <- nil
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after CLOSED")
		}
	})
	// CLOSE 0, as the Java side sends it once Pulsar has closed the
	// consumers: no flush, CLOSED at once with the records left to Java.
	t.Run("without a flush", func(t *testing.T) {
		s := &slowSink{wrote: make(chan struct{}, 8)}
		p := start(t, s)
		for i := range 3 {
			p.send(testRecord{seq: uint64(i + 1), topic: "persistent://public/default/t", payload: []byte("x")}.frame())
			<-s.wrote
		}
		p.send(closeFrame(0))
		f := p.next()
		if f.typ != frameClosed || !strings.Contains(string(f.body[4:]), context.DeadlineExceeded.Error()) {
			t.Fatalf("got %s %q, want CLOSED with the records unresolved and no ack", frameName(f.typ), f.body)
		}
		select {
		case err := <-p.done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run returned %v, want the close's error", err)
			}
			p.done <- nil
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after CLOSED")
		}
	})
	t.Run("past its timeout", func(t *testing.T) {
		s := &slowSink{wrote: make(chan struct{}, 8), stuck: true}
		p := start(t, s)
		p.send(testRecord{seq: 1, topic: "persistent://public/default/t", payload: []byte("x")}.frame())
		<-s.wrote
		t0 := time.Now()
		p.send(closeFrame(200))
		f := p.next()
		if f.typ != frameClosed || !strings.Contains(string(f.body[4:]), context.DeadlineExceeded.Error()) {
			t.Fatalf("got %s %q, want CLOSED with the flush's deadline", frameName(f.typ), f.body)
		}
		if d := time.Since(t0); d > waitLimit/2 {
			t.Errorf("CLOSED came after %s for a 200 ms timeout", d)
		}
		select {
		case err := <-p.done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run returned %v, want the flush's error", err)
			}
			p.done <- nil
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after CLOSED")
		}
	})
}

// An Open that fails answers OPEN_FAILED with its one line, and Run ends
// with the error.
func TestOpenFailed(t *testing.T) {
	frames, err := run(t, &failingOpen{}, helloFrame(Version, `{}`, 0, 0))
	if err == nil || len(frames) != 1 || frames[0].typ != frameOpenFailed {
		t.Fatalf("Run %v, frames %v; want OPEN_FAILED", err, types(frames))
	}
	if got := string(frames[0].body[4:]); got != "awsRegion: missing, line two" {
		t.Errorf("OPEN_FAILED says %q, want the error on one line", got)
	}
}

type failingOpen struct{ fakeSink }

func (failingOpen) Open(context.Context, *runtime.SinkContext) error {
	return errors.New("awsRegion: missing,\n  line two")
}
