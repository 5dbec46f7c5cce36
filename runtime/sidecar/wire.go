package sidecar

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Version is the wire protocol version this side speaks; HELLO and READY
// carry it and each side refuses another (docs/sidecar-protocol.md).
const Version = 3

// Frame types. Frames from the Java sink have the high bit clear, frames
// from this process have it set.
const (
	frameHello     byte = 0x01
	frameSchema    byte = 0x02
	frameRecord    byte = 0x03
	framePublished byte = 0x04
	frameClose     byte = 0x05
	// frameUnreadable is a RECORD the Java sink could not read whole: the
	// failure policy takes it, as it takes a record Kinesis refuses.
	frameUnreadable byte = 0x06

	frameReady      byte = 0x81
	frameOpenFailed byte = 0x82
	frameAck        byte = 0x83
	frameFail       byte = 0x84
	framePublish    byte = 0x85
	frameFatal      byte = 0x86
	frameClosed     byte = 0x87
	frameMetric     byte = 0x88
	// frameHeartbeat says the child runs and its output moves; the Java
	// side fails the instance after a silence (docs/sidecar-protocol.md).
	frameHeartbeat byte = 0x89
)

func frameName(typ byte) string {
	switch typ {
	case frameRecord:
		return "RECORD"
	case frameUnreadable:
		return "UNREADABLE"
	}
	return fmt.Sprintf("0x%02x", typ)
}

// maxFrame bounds a frame's length so that a corrupt length cannot make
// the reader allocate gigabytes: a Pulsar message is at most 5 MiB by
// default (the broker's maxMessageSize can be raised, never past this).
const maxFrame = 256 << 20

// frameReader reads frames: [u32 length of what follows][u8 type][body].
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next frame's type and body; the body is valid until the
// following call. io.EOF means the peer closed the pipe between frames.
func (fr *frameReader) next() (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(fr.r, head[:4]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("frame length: %w", err)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[:4])
	if n < 1 || n > maxFrame {
		return 0, nil, fmt.Errorf("frame length %d: allowed 1 to %d", n, maxFrame)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	b := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return 0, nil, fmt.Errorf("frame of %d bytes: %w", n, noEOF(err))
	}
	return b[0], b[1:], nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// dec reads a frame body's fields in order; the first error sticks and
// later reads return zero values, so a decoder checks err once at the end.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string, need int) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: need %d bytes, %d left", what, need, len(d.b))
	}
	d.b = nil
}

func (d *dec) u8(what string) byte {
	if len(d.b) < 1 {
		d.fail(what, 1)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) u32(what string) uint32 {
	if len(d.b) < 4 {
		d.fail(what, 4)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) u64(what string) uint64 {
	if len(d.b) < 8 {
		d.fail(what, 8)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// field is [u32 length][bytes], still in the frame buffer.
func (d *dec) field(what string) []byte {
	n := d.u32(what + " length")
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)) {
		d.fail(what, int(n))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// bytes is a field copied out of the frame buffer, which the next frame
// reuses.
func (d *dec) bytes(what string) []byte {
	f := d.field(what)
	if f == nil {
		return nil
	}
	return append(make([]byte, 0, len(f)), f...)
}

func (d *dec) str(what string) string { return string(d.field(what)) }

// strMap is [u32 count] then count pairs of strings; nil when empty.
func (d *dec) strMap(what string) map[string]string {
	n := d.u32(what + " count")
	if d.err != nil || n == 0 {
		return nil
	}
	if uint64(n)*8 > uint64(len(d.b)) {
		d.fail(what, int(n)*8)
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str(what + " key")
		m[k] = d.str(what + " value")
	}
	return m
}

// end checks that the body was read exactly.
func (d *dec) end(frame string) error {
	if d.err != nil {
		return fmt.Errorf("%s frame: %w", frame, d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%s frame: %d bytes after the last field", frame, len(d.b))
	}
	return nil
}

// enc builds one frame: start, fields, then finish for the bytes to write.
type enc struct{ b []byte }

func (e *enc) start(typ byte) {
	e.b = append(e.b[:0], 0, 0, 0, 0, typ)
}

func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *enc) bytes(v []byte) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

func (e *enc) str(v string) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

func (e *enc) strMap(m map[string]string) {
	e.u32(uint32(len(m)))
	for k, v := range m {
		e.str(k)
		e.str(v)
	}
}

func (e *enc) f64(v float64) { e.u64(math.Float64bits(v)) }

func (e *enc) finish() []byte {
	binary.BigEndian.PutUint32(e.b, uint32(len(e.b)-4))
	return e.b
}
