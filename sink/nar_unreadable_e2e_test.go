package sink_test

// The NAR's Java class with records the worker cannot be made to deliver
// on purpose (testdata/nar_unreadable.java): its own code and the real
// kinesis-sink child, kinesalite, and Pulsar for dead letters; only the
// Pulsar context around the class is a stand-in.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink"
)

// TestNARSinkUnreadable: a record whose reader schema cannot be fetched
// makes KinesisGoSink.write throw nothing; the record goes to the child's
// failure policy with a reason naming it (topic and id) and what failed,
// and the records around it are written. fail: the record is failed
// (redelivered); deadLetter: it is published with the reason and acked;
// failOnError: it is failed and the instance fails. On the way: a null
// value is written as an empty payload, and a chunked message is named
// by its last chunk, as the function path names it.
func TestNARSinkUnreadable(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	nar := e2e.NAR(t)
	client := e2e.NewClient(t, env)
	topic := env.UniqueTopic(t, "nar-unreadable")
	const badID = "5:8:0:0" // the bad record's id, as the Go client would number it
	wantReason := "record " + topic + " " + badID + ": the Java sink could not read it: " +
		"org.apache.pulsar.client.api.SchemaSerializationException: schema version 9 of " + topic + ": the registry did not answer"

	run := func(t *testing.T, extra map[string]any) (stream string, results map[string]bool, log string) {
		t.Helper()
		stream = ks.UniqueStream(t, "nar-unreadable")
		ks.CreateStream(t, stream, 1)
		cfg := map[string]any{
			"awsEndpoint": ks.Endpoint, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
			"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-unreadable"}`,
			"messageFormat":            "FULL_MESSAGE_IN_JSON", "jsonIncludeMessageId": true,
			"aggregationEnabled": false, "metricsLevel": "none",
		}
		for k, v := range extra {
			cfg[k] = v
		}
		js, _ := json.Marshal(cfg)
		out, stderr := runJava(t, env, []string{nar}, "nar_unreadable.java", env.ServiceURL, topic, string(js))
		results = map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			if r, ok := strings.CutPrefix(l, "RESULT "); ok {
				results[r] = true
				if strings.HasPrefix(r, "threw ") {
					t.Errorf("write threw: %s", r)
				}
			}
		}
		t.Logf("results: %v", results)
		return stream, results, out + stderr
	}
	reasonLogged := func(t *testing.T, log string) {
		t.Helper()
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "[kinesis-sink]") && strings.Contains(l, wantReason) {
				return
			}
		}
		t.Errorf("no line of the child's says %q:\n%s", wantReason, e2e.Tail(log, 30))
	}

	t.Run("fail", func(t *testing.T) {
		stream, res, log := run(t, nil)
		for _, want := range []string{"ack good-1", "fail bad", "ack tombstone", "ack chunked", "ack good-2"} {
			if !res[want] {
				t.Errorf("no %q", want)
			}
		}
		reasonLogged(t, log)
		got := map[string]bool{}
		for _, r := range ks.ReadAll(t, stream) {
			got[string(r.Data)] = true
		}
		msg := func(payload, props, id string) string {
			return `{"payloadBase64":"` + payload + `","properties":` + props + `,"messageTopic":"` + topic + `","messageId":"` + id + `"}`
		}
		for _, want := range []string{
			msg("Z29vZC0xIHBheWxvYWQ=", `{"p":"good-1"}`, "5:7:0:0"),
			msg("", `{"p":"tombstone"}`, "5:9:0:0"),
			// "5:10:-1;5:12:-1" in Java: the last chunk, batch index -1.
			msg("Y2h1bmtlZCBwYXlsb2Fk", `{"p":"chunked"}`, "5:12:0:-1"),
			msg("Z29vZC0yIHBheWxvYWQ=", `{"p":"good-2"}`, "5:11:0:0"),
		} {
			if !got[want] {
				t.Errorf("Kinesis lacks %s; it holds %v", want, keys(got))
			}
		}
		if len(got) != 4 {
			t.Errorf("Kinesis holds %d records, want 4: %v", len(got), keys(got))
		}
	})

	t.Run("deadLetter", func(t *testing.T) {
		dlt := env.UniqueTopic(t, "nar-unreadable-dl")
		dlc, err := client.Subscribe(pulsar.ConsumerOptions{Topic: dlt, SubscriptionName: "check",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		if err != nil {
			t.Fatal(err)
		}
		defer dlc.Close()
		_, res, log := run(t, map[string]any{"failurePolicy": "deadLetter", "deadLetterTopic": dlt})
		for _, want := range []string{"ack good-1", "ack bad", "ack tombstone", "ack chunked", "ack good-2"} {
			if !res[want] {
				t.Errorf("no %q", want)
			}
		}
		reasonLogged(t, log)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		m, err := dlc.Receive(ctx)
		if err != nil {
			t.Fatalf("no dead letter: %v", err)
		}
		dlc.Ack(m)
		p := m.Properties()
		if string(m.Payload()) != "bad payload" || m.Key() != "bad" || p["p"] != "bad" ||
			p[sink.PropDeadLetterReason] != wantReason || p[sink.PropDeadLetterKind] != "unreadable" ||
			p[sink.PropOriginMessageID] != badID || p[sink.PropOriginTopic] != topic {
			t.Errorf("dead letter %q key %q properties %v: want the bad record with the reason %q", m.Payload(), m.Key(), p, wantReason)
		}
	})

	t.Run("failOnError", func(t *testing.T) {
		_, res, log := run(t, map[string]any{"failurePolicy": "failOnError"})
		if !res["fail bad"] {
			t.Error(`no "fail bad"`)
		}
		fatal := false
		for r := range res {
			if strings.HasPrefix(r, "fatal ") && strings.Contains(r, "failurePolicy failOnError") && strings.Contains(r, wantReason) {
				fatal = true
			}
		}
		if !fatal {
			t.Errorf("the sink did not fail the instance with the reason: %v", res)
		}
		reasonLogged(t, log)
	})
}
