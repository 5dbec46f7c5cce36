package sidecar

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// The golden frames in testdata/frames pin the protocol's layout on both
// sides of the pipe. The frames this process writes are its encoders'
// output (go test -run TestGolden ./runtime/sidecar -update rewrites them
// after a deliberate change, with a new Version); the NAR's JUnit test
// (FramesGoldenTest) reads them as the Java sink does. The frames the Java
// sink writes are built by its own code in that test, and this test
// decodes them.
var update = flag.Bool("update", false, "TestGolden: rewrite the golden frames this process writes")

var schemaVersion = []byte{0, 0, 0, 0, 0, 0, 0, 5}

func TestGoldenFramesWritten(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"ready", readyFrame()},
		{"open-failed", openFailedFrame(`awsRegion: "mars-1" is not an AWS region`)},
		{"fatal", fatalFrame("failOnError: record persistent://public/default/orders 17:4:2:3 failed")},
		{"closed", closedFrame("")},
		{"ack", ackFrame(42)},
		{"fail", failFrame(43, "ProvisionedThroughputExceededException: Rate exceeded")},
		{"publish", publishFrame(7, "persistent://public/default/dlq", "customer-1", map[string]string{"error": "oversize"}, []byte(`{"id":1}`))},
		{"metric", metricFrame("_kinesis_total_success_", 1.5)},
		{"heartbeat", heartbeatFrame()},
	} {
		file := filepath.Join("testdata", "frames", c.name+".frame")
		if *update {
			if err := os.WriteFile(file, c.frame, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.frame, want) {
			t.Errorf("%s: encoder writes\n%s\ngolden %s is\n%s", c.name, hex.Dump(c.frame), file, hex.Dump(want))
		}
	}
}

// readGolden reads one golden frame the Java sink writes, checking that it
// is one frame of typ and nothing more.
func readGolden(t *testing.T, name string, typ byte) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "frames", name+".frame"))
	if err != nil {
		t.Fatalf("%v (written by the NAR's FramesGoldenTest)", err)
	}
	fr := newFrameReader(bytes.NewReader(raw))
	got, body, err := fr.next()
	if err != nil || got != typ {
		t.Fatalf("%s: frame type 0x%02x, %v; want 0x%02x", name, got, err, typ)
	}
	body = append([]byte(nil), body...)
	if _, _, err := fr.next(); err == nil {
		t.Fatalf("%s: more than one frame", name)
	}
	return body
}

func TestGoldenFramesRead(t *testing.T) {
	h, err := decodeHello(readGolden(t, "hello", frameHello))
	want := hello{version: Version, config: map[string]any{"awsRegion": "eu-west-1"},
		secrets: map[string]string{"awsCredentialPluginParam": `{"accessKey":"a"}`}, tenant: "public", namespace: "default",
		name: "kinesis", instanceID: 1, parallelism: 3, windowRecords: 20000, windowBytes: 134217728}
	if err != nil || !reflect.DeepEqual(h, want) {
		t.Errorf("HELLO: %+v, %v\nwant %+v", h, err, want)
	}

	sch, err := decodeSchema(readGolden(t, "schema", frameSchema))
	wantSch := schemaFrame{id: 1, typ: "AVRO", name: "orders", data: []byte(`{"type":"record","name":"Order","fields":[]}`),
		props: map[string]string{"__alwaysAllowNull": "true"}, version: schemaVersion}
	if err != nil || !reflect.DeepEqual(sch, wantSch) {
		t.Errorf("SCHEMA: %+v, %v\nwant %+v", sch, err, wantSch)
	}

	rec, err := decodeRecord(&dec{b: readGolden(t, "record", frameRecord)}, frameRecord)
	wantRec := recordFrame{seq: 42, schemaID: 1, data: runtime.RecordData{
		Payload: []byte(`{"id":1}`), Key: "customer-1", HasKey: true, Properties: map[string]string{"trace": "t-1"},
		Topic: "persistent://public/default/orders-partition-2", Partition: 2,
		MessageID: messageID{ledger: 17, entry: 4, partition: 2, batch: 3},
		EventTime: time.UnixMilli(1767225600000), PublishTime: time.UnixMilli(1767225601000),
		RedeliveryCount: 1, SchemaVersion: schemaVersion}}
	if err != nil || !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("RECORD: %+v, %v\nwant %+v", rec, err, wantRec)
	}

	// A chunked message with a null value: the last chunk's id, batch -1;
	// no key, no event time, an empty payload.
	rec, err = decodeRecord(&dec{b: readGolden(t, "record-chunked-null", frameRecord)}, frameRecord)
	wantRec = recordFrame{seq: 43, data: runtime.RecordData{Payload: []byte{}, Topic: "persistent://public/default/orders",
		Partition: -1, MessageID: messageID{ledger: 17, entry: 12, partition: 0, batch: -1},
		PublishTime: time.UnixMilli(1767225601000), SchemaVersion: []byte{}}}
	if err != nil || !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("chunked RECORD: %+v, %v\nwant %+v", rec, err, wantRec)
	}

	rec, err = decodeRecord(&dec{b: readGolden(t, "unreadable", frameUnreadable)}, frameUnreadable)
	wantRec = recordFrame{seq: 44, reason: "reader schema: unreachable", data: runtime.RecordData{
		Payload: []byte{1, 2, 3}, Key: "k", HasKey: true, Topic: "persistent://public/default/orders", Partition: -1,
		MessageID: messageID{ledger: 17, entry: 5}, PublishTime: time.UnixMilli(1767225601000), RedeliveryCount: 2,
		SchemaVersion: []byte{}}}
	if err != nil || !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("UNREADABLE: %+v, %v\nwant %+v", rec, err, wantRec)
	}

	// A payload still encrypted, with its context.
	rec, err = decodeRecord(&dec{b: readGolden(t, "record-encrypted", frameRecord)}, frameRecord)
	wantRec = recordFrame{seq: 45, data: runtime.RecordData{Payload: []byte{0xde, 0xad}, Topic: "persistent://public/default/secret",
		Partition: -1, MessageID: messageID{ledger: 17, entry: 6}, PublishTime: time.UnixMilli(1767225601000), SchemaVersion: []byte{},
		Encryption: &runtime.EncryptionContext{
			Keys:  map[string]runtime.EncryptionKey{"consumer-key": {Value: []byte{9, 8, 7}, Metadata: map[string]string{"version": "1"}}},
			Param: []byte{1, 2, 3, 4}, Algorithm: "RSA", CompressionType: "LZ4", UncompressedSize: 1024, BatchSize: 5, HasBatchSize: true}}}
	if err != nil || !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("encrypted RECORD: %+v, %v\nwant %+v", rec, err, wantRec)
	}

	rec, err = decodeRecord(&dec{b: readGolden(t, "record-encrypted-bare", frameRecord)}, frameRecord)
	wantRec = recordFrame{seq: 46, data: runtime.RecordData{Payload: []byte{1}, Topic: "persistent://public/default/secret",
		Partition: -1, MessageID: messageID{ledger: 17, entry: 7}, PublishTime: time.UnixMilli(1767225601000), SchemaVersion: []byte{},
		Encryption: &runtime.EncryptionContext{Keys: map[string]runtime.EncryptionKey{"k": {Value: []byte{1}}},
			Param: []byte{}, Algorithm: "RSA", CompressionType: "NONE", UncompressedSize: 2}}}
	if err != nil || !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("encrypted RECORD, no batch: %+v, %v\nwant %+v", rec, err, wantRec)
	}

	id, msg, err := decodePublished(readGolden(t, "published", framePublished))
	if err != nil || id != 7 || msg != "topic persistent://public/default/dlq: not found" {
		t.Errorf("PUBLISHED: %d %q %v", id, msg, err)
	}
	timeout, err := decodeClose(readGolden(t, "close", frameClose))
	if err != nil || timeout != 20*time.Second {
		t.Errorf("CLOSE: %s %v", timeout, err)
	}
}
