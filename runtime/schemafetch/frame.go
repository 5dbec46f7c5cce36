package schemafetch

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// maxFrameSize bounds what one frame may claim before we allocate for it.
// The broker never sends us message payloads, only commands; a schema is
// limited by the broker's maxMessageSize (5 MiB by default), so anything
// near this bound is a corrupt stream, not a real answer.
const maxFrameSize = 64 << 20

// encodeFrame lays a command out as the wire wants it:
// [4-byte BE total size][4-byte BE command size][BaseCommand], where the
// total counts everything after itself.
func encodeFrame(cmd *wirepb.BaseCommand) ([]byte, error) {
	body, err := proto.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", cmd.GetType(), err)
	}
	buf := make([]byte, 8+len(body))
	binary.BigEndian.PutUint32(buf[0:4], uint32(4+len(body)))
	binary.BigEndian.PutUint32(buf[4:8], uint32(len(body)))
	copy(buf[8:], body)
	return buf, nil
}

// readFrame reads one frame and decodes its command. Bytes after the
// command inside the frame (a message payload, which the broker only sends
// to consumers) are skipped.
func readFrame(r *bufio.Reader) (*wirepb.BaseCommand, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	total := binary.BigEndian.Uint32(hdr[:])
	if total < 4 || total > maxFrameSize {
		return nil, fmt.Errorf("frame size %d out of range 4..%d", total, maxFrameSize)
	}
	body := make([]byte, total)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	cmdSize := binary.BigEndian.Uint32(body[0:4])
	if cmdSize > total-4 {
		return nil, fmt.Errorf("command size %d larger than frame size %d", cmdSize, total-4)
	}
	cmd := new(wirepb.BaseCommand)
	if err := proto.Unmarshal(body[4:4+cmdSize], cmd); err != nil {
		return nil, fmt.Errorf("decode command: %w", err)
	}
	return cmd, nil
}
