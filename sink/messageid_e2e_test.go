package sink_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// With jsonIncludeMessageId a consumer can drop the duplicates that
// at-least-once delivery leaves in Kinesis. Here the first two PutRecords
// calls lose their connection after Kinesis wrote the records (the fault
// proxy resets them: kinesalite cannot), so the sink retries and Kinesis
// holds copies; keeping one record per (messageTopic, messageId) leaves
// exactly the messages published, each once.
//
// The calls are named, not drawn: a fifth of the calls drawn at random
// missed the few calls 2000 messages take on 9 of 20 runs, and the test
// then proved nothing.
func TestDuplicatesDroppedByMessageID(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	stream := ks.UniqueStream(t, "msgid")
	ks.CreateStream(t, stream, 2)
	proxy, err := faultproxy.New(ks.Endpoint, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// The sink sends a call again after a reset one, so both happen.
	resetCalls := []int64{1, 2}
	proxy.SetRules(faultproxy.Rules{ResetAfterForwardRequests: resetCalls})

	topic := env.UniqueTopic(t, "msgid")
	env.CreatePartitionedTopic(t, topic, 2)
	rs := startSink(t, env, uniqueName(t, "msgid"), []string{topic}, sinkConfig(proxy.URL(), stream, map[string]any{
		"messageFormat": "FULL_MESSAGE_IN_JSON", "jsonIncludeMessageId": true,
		"retryInitialDelayInMillis": 20, "retryMaxDelayInMillis": 200,
	}))
	const n = 2000
	e2e.Produce(t, e2e.NewClient(t, env), topic, n, func(i int) string { return fmt.Sprintf("m-%d", i) })

	type stored struct {
		Payload []byte `json:"payloadBase64"`
		Topic   string `json:"messageTopic"`
		ID      string `json:"messageId"`
	}
	// Every message acked as well: only then has the sink's rewrite of a
	// reset call landed. All distinct records can be in Kinesis while it is
	// still on its way (the reset call's records were written), and a read
	// then finds no copy.
	status := e2e.StatusClient(t, rs.port)
	var recs []testenv.KinesisRecord
	env.WaitFor(t, 3*time.Minute, func() bool {
		if !rs.in.Running() {
			t.Fatalf("instance exited: %v", rs.in.Err)
		}
		if st := e2e.FunctionStatus(t, status); st == nil || st.NumSuccessfullyProcessed < n {
			return false
		}
		recs = ks.ReadAll(t, stream)
		return distinct(recs) >= n
	}, "%d messages acked and %d distinct records in Kinesis", n, n)

	byID := map[[2]string]string{} // (topic, id) -> payload
	for _, r := range recs {
		var s stored
		if err := json.Unmarshal(r.Data, &s); err != nil || s.Topic == "" || s.ID == "" {
			t.Fatalf("record %q: %v", r.Data, err)
		}
		k := [2]string{s.Topic, s.ID}
		if p, seen := byID[k]; seen && p != string(s.Payload) {
			t.Fatalf("message %v stored with two payloads: %q and %q", k, p, s.Payload)
		}
		byID[k] = string(s.Payload)
	}
	payloads := map[string]bool{}
	for _, p := range byID {
		payloads[p] = true
	}
	c := proxy.Counters()
	t.Logf("stored %d Kinesis records for %d messages; %d left after dropping duplicates by message id; %d connections reset after write",
		len(recs), n, len(byID), c.ResetsAfterWrite)
	if c.ResetsAfterWrite != int64(len(resetCalls)) {
		t.Fatalf("%d calls reset after the write; want the %d named", c.ResetsAfterWrite, len(resetCalls))
	}
	if c.ResetsAfterWrite == 0 || len(recs) == len(byID) {
		t.Fatal("no duplicates were stored: the test proved nothing")
	}
	if len(byID) != n || len(payloads) != n {
		t.Fatalf("%d messages by id, %d distinct payloads; want %d of each", len(byID), len(payloads), n)
	}
}
