package expand

import (
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// IncludeMessageID (jsonIncludeMessageId) ends the record with where it came
// from; the Java sink's fields come first, unchanged.
func TestExpandMessageID(t *testing.T) {
	rec := record.Data{Payload: []byte("v"), Topic: "persistent://public/default/t", Partition: -1,
		MessageID: pulsar.NewMessageID(7, 9, -1, -1),
		Schema:    &record.Schema{Type: record.SchemaString}}
	for _, c := range []struct {
		on   bool
		want string
	}{
		{false, `{"topicName":"persistent://public/default/t","payload":"v"}`},
		{true, `{"topicName":"persistent://public/default/t","payload":"v","messageTopic":"persistent://public/default/t","messageId":"7:9:-1:-1"}`},
	} {
		enc, err := New(Options{IncludeNonNulls: true, IncludeMessageID: c.on})
		if err != nil {
			t.Fatal(err)
		}
		got, err := enc.Encode(nil, &rec)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("IncludeMessageID %v:\n got %s\nwant %s", c.on, got, c.want)
		}
	}
}
