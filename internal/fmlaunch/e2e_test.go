package fmlaunch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// TestShippedManifestEndToEnd starts the product binary exactly as a
// Function Mesh pod would from the shipped manifest (bash launch line,
// escaped conf, POD_NAME, the secret as an environment variable, the broker
// from the ConfigMap), against the real Pulsar and kinesalite, and checks
// that published records arrive in the stream in order. Only what a pod
// cannot have here is changed: the broker and endpoint addresses, the topic,
// the stream, the executable's path and the two fixed ports (and aggregation
// is turned off to compare records one to one).
func TestShippedManifestEndToEnd(t *testing.T) {
	env := testenv.Pulsar(t)
	k := testenv.Kinesis(t)
	bin := e2e.KinesisSinkBinary(t)
	stream := k.UniqueStream(t, "fm")
	k.CreateStream(t, stream, 1)
	topic := env.UniqueTopic(t, "fm")
	env.CreateTopic(t, topic)

	m, err := Load("../../packaging/function-mesh/kinesis-sink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m.ConfigMaps["kinesis-sink-pulsar"]["brokerServiceURL"] = env.ServiceURL
	m.Secrets["kinesis-sink-aws"] = map[string]string{"awsCredentialPluginParam": `{"accessKey":"AKIDFM","secretKey":"fm/secret+value"}`}
	sub := "fm-" + topic[strings.LastIndex(topic, "-")+1:]
	m.Function.Spec.Input.Topics = []string{topic}
	m.Function.Spec.SubscriptionName = sub
	m.Function.Spec.FuncConfig["awsKinesisStreamName"] = stream
	m.Function.Spec.FuncConfig["awsEndpoint"] = k.Endpoint
	m.Function.Spec.FuncConfig["awsRegion"] = k.Region
	// Plain records, so the stream can be compared with what was sent.
	m.Function.Spec.FuncConfig["aggregationEnabled"] = false

	cmd, err := m.Command(Options{GoPath: bin, Port: e2e.FreePort(t), MetricsPort: e2e.FreePort(t), SkipDownload: true})
	if err != nil {
		t.Fatal(err)
	}
	vars, err := m.Env(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(cmd[0], cmd[1:]...)
	// The metrics bind keeps the test off the machine's other interfaces.
	c.Env = append([]string{"PATH=" + os.Getenv("PATH"), "KINESIS_SINK_METRICS_BIND=127.0.0.1", "KINESIS_SINK_GRPC_BIND=127.0.0.1"}, vars...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	t.Cleanup(func() {
		c.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("instance output:\n%s", out.String())
		}
	})

	env.WaitFor(t, 60*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the instance exited: %v", err)
		default:
		}
		return e2e.HasSubscription(t, env, topic, sub)
	}, "subscription %s on %s", sub, topic)

	p, err := env.Client(t).CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var sent []string
	for i := 0; i < 20; i++ {
		pl := fmt.Sprintf("fm-%02d", i)
		sent = append(sent, pl)
		if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte(pl), Key: "one-key"}); err != nil {
			t.Fatal(err)
		}
	}
	recs := k.WaitForRecords(t, stream, len(sent), 60*time.Second)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Data))
	}
	if strings.Join(got, ",") != strings.Join(sent, ",") {
		t.Fatalf("stream holds %q, want %q", got, sent)
	}
}
