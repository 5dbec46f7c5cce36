// Command nar_fakechild stands in for kinesis-sink as the NAR's child, in
// testdata/nar_robust.java and in the NAR's JUnit tests (KinesisGoSinkTest):
// it speaks the sidecar protocol (the version HELLO carries) from a script
// chosen by FAKE_CHILD_MODE or, failing that, the sink config's
// fakeChildMode, so that the Java class meets what the real child does
// only when broken.
//
//	publish: each RECORD gets a PUBLISH to the record's key as topic, then
//	         at once its ACK; each PUBLISHED is printed to stderr (the
//	         instance's log) as "PUBLISHED <id> <error>".
//	metric:  each RECORD is acked, then a METRIC follows.
//	silent:  READY, then nothing at all (no heartbeat): a hung child.
//	mute:    nothing at all, not even READY: a child hung while opening.
//	crash:   READY, then half a frame, and exit 1.
//	flood:   20 MB of log lines on stderr before READY.
//
// Every mode but silent and mute heartbeats each second, and answers
// CLOSE with CLOSED.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	mu  sync.Mutex
	out = bufio.NewWriter(os.Stdout)
)

func send(typ byte, fields ...[]byte) {
	body := []byte{typ}
	for _, f := range fields {
		body = append(body, f...)
	}
	mu.Lock()
	defer mu.Unlock()
	out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(body))))
	out.Write(body)
	out.Flush()
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

func field(b []byte) ([]byte, []byte) {
	n := binary.BigEndian.Uint32(b)
	return b[4 : 4+n], b[4+n:]
}

func main() {
	mode := os.Getenv("FAKE_CHILD_MODE")
	in := bufio.NewReader(os.Stdin)
	var pubID uint64
	for {
		var head [4]byte
		if _, err := io.ReadFull(in, head[:]); err != nil {
			os.Exit(3)
		}
		b := make([]byte, binary.BigEndian.Uint32(head[:]))
		if _, err := io.ReadFull(in, b); err != nil {
			os.Exit(3)
		}
		switch typ, body := b[0], b[1:]; typ {
		case 0x01: // HELLO: version, config (JSON), ...
			version := body[:4]
			if mode == "" {
				cfg, _ := field(body[4:])
				var c struct{ FakeChildMode string }
				json.Unmarshal(cfg, &c)
				mode = c.FakeChildMode
			}
			switch mode {
			case "mute":
				continue
			case "flood":
				line := strings.Repeat("x", 99) + "\n"
				for range 200_000 {
					os.Stderr.WriteString(line)
				}
			}
			send(0x81, version)
			if mode == "crash" {
				mu.Lock()
				out.Write([]byte{0, 0, 0, 50, 0x83, 1, 2})
				out.Flush()
				os.Exit(1)
			}
			if mode != "silent" {
				go func() {
					for range time.Tick(time.Second) {
						send(0x89)
					}
				}()
			}
		case 0x03: // RECORD: seq, schema id, topic, flags, key, ...
			seq := binary.BigEndian.Uint64(body)
			_, rest := field(body[12:])
			key, _ := field(rest[1:])
			switch mode {
			case "publish":
				pubID++
				send(0x85, u64(pubID), str(string(key)), str(""), u32(0), str("dead letter"))
				send(0x83, u64(seq))
			case "metric":
				send(0x83, u64(seq))
				send(0x88, str("m"), u64(math.Float64bits(1)))
			}
		case 0x04: // PUBLISHED
			id := binary.BigEndian.Uint64(body)
			msg, _ := field(body[8:])
			fmt.Fprintf(os.Stderr, "PUBLISHED %d %s\n", id, msg)
		case 0x05: // CLOSE
			send(0x87, str(""))
			os.Exit(0)
		}
	}
}
