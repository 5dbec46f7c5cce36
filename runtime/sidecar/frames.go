package sidecar

import (
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// The frames this process writes, one function each, and the decoders of
// the small frames it reads (HELLO and RECORD have theirs in sidecar.go):
// pure, so that the golden frames (testdata/frames) pin the layout on both
// sides of the pipe.

func readyFrame() []byte {
	var e enc
	e.start(frameReady)
	e.u32(Version)
	return e.finish()
}

func openFailedFrame(msg string) []byte { return strFrame(frameOpenFailed, msg) }
func fatalFrame(msg string) []byte      { return strFrame(frameFatal, msg) }
func closedFrame(msg string) []byte     { return strFrame(frameClosed, msg) }

func strFrame(typ byte, s string) []byte {
	var e enc
	e.start(typ)
	e.str(s)
	return e.finish()
}

func ackFrame(seq uint64) []byte {
	var e enc
	e.start(frameAck)
	e.u64(seq)
	return e.finish()
}

func failFrame(seq uint64, reason string) []byte {
	var e enc
	e.start(frameFail)
	e.u64(seq)
	e.str(reason)
	return e.finish()
}

func publishFrame(id uint64, topic, key string, props map[string]string, payload []byte) []byte {
	var e enc
	e.start(framePublish)
	e.u64(id)
	e.str(topic)
	e.str(key)
	e.strMap(props)
	e.bytes(payload)
	return e.finish()
}

func metricFrame(name string, v float64) []byte {
	var e enc
	e.start(frameMetric)
	e.str(name)
	e.f64(v)
	return e.finish()
}

func heartbeatFrame() []byte {
	var e enc
	e.start(frameHeartbeat)
	return e.finish()
}

func decodeSchema(b []byte) (schemaFrame, error) {
	d := dec{b: b}
	f := schemaFrame{id: d.u32("schema id"), typ: d.str("type"), name: d.str("name"),
		data: d.bytes("data"), props: d.strMap("properties"), version: d.bytes("version")}
	return f, d.end("SCHEMA")
}

func decodePublished(b []byte) (id uint64, msg string, err error) {
	d := dec{b: b}
	id = d.u64("request id")
	msg = d.str("error")
	return id, msg, d.end("PUBLISHED")
}

func decodeClose(b []byte) (time.Duration, error) {
	d := dec{b: b}
	t := time.Duration(d.u32("timeout")) * time.Millisecond
	return t, d.end("CLOSE")
}

// decodeEncryption reads a RECORD's encryption context (flag 8): the data
// keys, then param, algorithm, compression type, uncompressed size and
// batch size (-1: not a batch), as the function path's Go client gives
// them.
func decodeEncryption(d *dec) *runtime.EncryptionContext {
	n := d.u32("encryption key count")
	if d.err != nil {
		return nil
	}
	if uint64(n)*12 > uint64(len(d.b)) {
		d.fail("encryption keys", int(n)*12)
		return nil
	}
	ec := &runtime.EncryptionContext{Keys: make(map[string]runtime.EncryptionKey, n)}
	for range n {
		name := d.str("encryption key name")
		ec.Keys[name] = runtime.EncryptionKey{Value: d.bytes("encryption key value"), Metadata: d.strMap("encryption key metadata")}
	}
	ec.Param = d.bytes("encryption param")
	ec.Algorithm = d.str("encryption algorithm")
	ec.CompressionType = d.str("compression type")
	ec.UncompressedSize = int(int32(d.u32("uncompressed size")))
	// As the function path reads the Go client's context: a batch size
	// of 0 is no batch.
	if b := int32(d.u32("batch size")); b > 0 {
		ec.BatchSize, ec.HasBatchSize = int(b), true
	}
	return ec
}
