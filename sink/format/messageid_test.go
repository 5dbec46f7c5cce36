package format

import (
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// jsonIncludeMessageId appends where the record came from; off (the
// default) the bytes stay the Java sink's.
func TestJSONMessageID(t *testing.T) {
	rec := record.Data{Payload: []byte("p"), Topic: "persistent://public/default/t-partition-1",
		MessageID: pulsar.NewMessageID(12, 3, 0, 1)}
	on, err := New(FullMessageInJSON, Options{IncludeMessageID: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := on.Encode(nil, &rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"payloadBase64":"cA==","properties":{},"messageTopic":"persistent://public/default/t-partition-1","messageId":"12:3:1:0"}`
	if string(got) != want {
		t.Errorf("on:\n got %s\nwant %s", got, want)
	}
	off, _ := mustEncoder(t, FullMessageInJSON).Encode(nil, &rec)
	if string(off) != `{"payloadBase64":"cA==","properties":{}}` {
		t.Errorf("off: %s", off)
	}
	rec.MessageID = nil
	if got, _ := on.Encode(nil, &rec); string(got) != `{"payloadBase64":"cA==","properties":{},"messageTopic":"persistent://public/default/t-partition-1","messageId":null}` {
		t.Errorf("no id: %s", got)
	}
}
