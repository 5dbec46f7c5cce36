package sink_test

// The Go side of the sidecar protocol with the real sink and kinesalite,
// speaking the frames of docs/sidecar-protocol.md as written there (encoded
// here by hand, not with the package's own encoder, so that the document
// and the code are checked against each other). The Java side is tested
// through the worker in nar_e2e_test.go.

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/sidecar"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

type frameBuf struct{ b []byte }

func (f *frameBuf) u8(v byte)    { f.b = append(f.b, v) }
func (f *frameBuf) u32(v uint32) { f.b = binary.BigEndian.AppendUint32(f.b, v) }
func (f *frameBuf) u64(v uint64) { f.b = binary.BigEndian.AppendUint64(f.b, v) }
func (f *frameBuf) bytes(v []byte) {
	f.u32(uint32(len(v)))
	f.b = append(f.b, v...)
}
func (f *frameBuf) str(v string) { f.bytes([]byte(v)) }
func (f *frameBuf) strMap(m map[string]string) {
	f.u32(uint32(len(m)))
	for k, v := range m {
		f.str(k)
		f.str(v)
	}
}

func frame(typ byte, body func(f *frameBuf)) []byte {
	f := &frameBuf{}
	body(f)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(f.b)+1))
	return append(append(out, typ), f.b...)
}

func helloFrame(version uint32, cfg map[string]any, secrets map[string]string) []byte {
	js, _ := json.Marshal(cfg)
	return frame(0x01, func(f *frameBuf) {
		f.u32(version)
		f.bytes(js)
		f.strMap(secrets)
		f.str("public")
		f.str("default")
		f.str("sidecar-test")
		f.u32(0)
		f.u32(1)
		f.str("")
		f.u32(0) // window records: the defaults
		f.u64(0) // window bytes: the defaults
	})
}

func recordFrame(seq uint64, topic, key string, payload []byte) []byte {
	return frame(0x03, func(f *frameBuf) {
		f.u64(seq)
		f.u32(0) // raw bytes
		f.str(topic)
		f.u8(1) // has a key
		f.str(key)
		f.strMap(map[string]string{"p": "v"})
		f.u64(0)
		f.u64(uint64(time.Now().UnixMilli()))
		f.u64(7)
		f.u64(uint64(seq))
		f.u32(0xffffffff) // -1: no partition
		f.u32(0xffffffff) // -1: no batch
		f.u32(0)
		f.bytes(nil)
		f.bytes(payload)
	})
}

// readFrame reads one frame from the child's side, past HEARTBEATs (every
// 5 s from READY on, so anywhere in a slow run).
func readFrame(r io.Reader) (byte, []byte, error) {
	for {
		typ, body, err := readOneFrame(r)
		if err != nil || typ != 0x89 {
			return typ, body, err
		}
	}
}

func readOneFrame(r io.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(h[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

type sidecarRun struct {
	in   *io.PipeWriter
	out  *io.PipeReader
	done chan error
}

func startSidecar(t *testing.T) *sidecarRun {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	r := &sidecarRun{in: inW, out: outR, done: make(chan error, 1)}
	go func() {
		err := sidecar.Run(context.Background(), sidecar.Options{In: inR, Out: outW, Sink: sink.New()})
		outW.Close()
		r.done <- err
	}()
	t.Cleanup(func() { inW.Close() })
	return r
}

func (r *sidecarRun) send(t *testing.T, b []byte) {
	t.Helper()
	if _, err := r.in.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestSidecarProtocol(t *testing.T) {
	ks := testenv.Kinesis(t)

	t.Run("other-version", func(t *testing.T) {
		r := startSidecar(t)
		r.send(t, helloFrame(1, nil, nil))
		typ, body, err := readFrame(r.out)
		if err != nil || typ != 0x82 {
			t.Fatalf("got frame 0x%02x (%v), want OPEN_FAILED", typ, err)
		}
		msg := string(body[4:])
		if !strings.Contains(msg, "version 1") || !strings.Contains(msg, fmt.Sprintf("speaks %d", sidecar.Version)) {
			t.Errorf("OPEN_FAILED %q: want both versions named", msg)
		}
		if err := <-r.done; err == nil {
			t.Error("Run returned nil after refusing the peer")
		}
	})

	t.Run("bad-config", func(t *testing.T) {
		r := startSidecar(t)
		cfg := sinkConfig(ks.Endpoint, "", map[string]any{"retainOrdering": "perhaps"})
		r.send(t, helloFrame(sidecar.Version, cfg, nil))
		typ, body, err := readFrame(r.out)
		if err != nil || typ != 0x82 {
			t.Fatalf("got frame 0x%02x (%v), want OPEN_FAILED", typ, err)
		}
		msg := string(body[4:])
		t.Logf("OPEN_FAILED: %s", msg)
		if !strings.Contains(msg, "retainOrdering") || strings.Contains(msg, "\n") {
			t.Errorf("OPEN_FAILED %q: want one line naming retainOrdering", msg)
		}
		if strings.Contains(msg, "e2e-secret-value") {
			t.Error("OPEN_FAILED carries the secret")
		}
		<-r.done
	})

	t.Run("records", func(t *testing.T) {
		stream := ks.UniqueStream(t, "sidecar")
		ks.CreateStream(t, stream, 1)
		r := startSidecar(t)
		cfg := sinkConfig(ks.Endpoint, stream, map[string]any{"retainOrdering": true, "messageFormat": "FULL_MESSAGE_IN_JSON", "jsonIncludeMessageId": true})
		// The secret comes in the secrets map, as SinkContext.getSecret
		// gives it, not in the configuration.
		secret := cfg["awsCredentialPluginParam"].(string)
		delete(cfg, "awsCredentialPluginParam")
		r.send(t, helloFrame(sidecar.Version, cfg, map[string]string{"awsCredentialPluginParam": secret}))
		typ, body, err := readFrame(r.out)
		if err != nil || typ != 0x81 || binary.BigEndian.Uint32(body) != sidecar.Version {
			t.Fatalf("got frame 0x%02x %q (%v), want READY version %d", typ, body, err, sidecar.Version)
		}
		const n = 50
		for i := 1; i <= n; i++ {
			r.send(t, recordFrame(uint64(i), "persistent://public/default/sidecar", fmt.Sprintf("k%d", i%3), []byte(fmt.Sprintf("v%d", i))))
		}
		acked := map[uint64]bool{}
		for len(acked) < n {
			typ, body, err := readFrame(r.out)
			if err != nil {
				t.Fatal(err)
			}
			switch typ {
			case 0x83:
				acked[binary.BigEndian.Uint64(body)] = true
			case 0x84:
				t.Fatalf("FAIL for record %d: %s", binary.BigEndian.Uint64(body), body[12:])
			case 0x88: // metrics
			default:
				t.Fatalf("unexpected frame 0x%02x", typ)
			}
		}
		recs := ks.ReadAll(t, stream)
		if len(recs) != n {
			t.Fatalf("%d records in Kinesis, want %d", len(recs), n)
		}
		for i, rec := range recs {
			// One shard, one writer: stored in the order sent. Java's -1
			// for no partition and no batch is printed as the Go client
			// numbers them, 0.
			want := fmt.Sprintf(`{"payloadBase64":"%s","properties":{"p":"v"},"messageTopic":"persistent://public/default/sidecar","messageId":"7:%d:0:0"}`,
				b64(fmt.Sprintf("v%d", i+1)), i+1)
			if string(rec.Data) != want {
				t.Fatalf("record %d:\n got %s\nwant %s", i, rec.Data, want)
			}
		}
		r.send(t, frame(0x05, func(f *frameBuf) { f.u32(10000) }))
		for {
			typ, body, err := readFrame(r.out)
			if err != nil {
				t.Fatalf("waiting for CLOSED: %v", err)
			}
			if typ == 0x87 {
				if len(body) != 4 || binary.BigEndian.Uint32(body) != 0 {
					t.Errorf("CLOSED with an error: %q", body[4:])
				}
				break
			}
		}
		if err := <-r.done; err != nil {
			t.Errorf("Run after CLOSE: %v", err)
		}
	})

	t.Run("peer-gone", func(t *testing.T) {
		stream := ks.UniqueStream(t, "sidecar-gone")
		ks.CreateStream(t, stream, 1)
		r := startSidecar(t)
		r.send(t, helloFrame(sidecar.Version, sinkConfig(ks.Endpoint, stream, nil), nil))
		if typ, _, err := readFrame(r.out); err != nil || typ != 0x81 {
			t.Fatalf("got frame 0x%02x (%v), want READY", typ, err)
		}
		go io.Copy(io.Discard, r.out)
		r.in.Close()
		select {
		case err := <-r.done:
			if !errors.Is(err, sidecar.ErrPeerGone) {
				t.Errorf("Run after the pipe closed: %v, want ErrPeerGone", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run still runs 10 s after its peer closed the pipe")
		}
	})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
