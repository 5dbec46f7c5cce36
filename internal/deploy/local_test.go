package deploy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

const testServiceURL = "pulsar://127.0.0.1:6650"

// workerInstance is what a deployed instance runs with: the FunctionConfig
// JSON deploy sends, converted as the worker's FunctionConfigUtils.convert
// does for a Go function (written here from Pulsar's code, independently of
// instanceConfig), and read by the runtime's own -instance-conf reader.
func workerInstance(t *testing.T, sent *functionConfig) (*runtime.InstanceConfig, error) {
	t.Helper()
	wire, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	var fc functionConfig
	if err := json.Unmarshal(wire, &fc); err != nil {
		t.Fatal(err)
	}
	fd := &pb.FunctionDetails{Tenant: fc.Tenant, Namespace: fc.Namespace, Name: fc.Name, Runtime: pb.FunctionDetails_GO,
		LogTopic: fc.LogTopic, Parallelism: 1, AutoAck: true, Source: &pb.SourceSpec{CleanupSubscription: true},
		Resources: &pb.Resources{Cpu: 1, Ram: 1 << 30, Disk: 10 << 30}}
	if fc.Parallelism != nil {
		fd.Parallelism = int32(*fc.Parallelism)
	}
	if fc.AutoAck != nil {
		fd.AutoAck = *fc.AutoAck
	}
	if fc.ProcessingGuarantees != "" {
		fd.ProcessingGuarantees = pb.ProcessingGuarantees(pb.ProcessingGuarantees_value[fc.ProcessingGuarantees])
	}
	if fc.UserConfig != nil {
		b, _ := json.Marshal(fc.UserConfig)
		fd.UserConfig = string(b)
	}
	if fc.Secrets != nil {
		b, _ := json.Marshal(fc.Secrets)
		fd.SecretsMap = string(b)
	}
	if r := fc.Resources; r != nil {
		if r.CPU != nil {
			fd.Resources.Cpu = *r.CPU
		}
		if r.RAM != nil {
			fd.Resources.Ram = *r.RAM
		}
		if r.Disk != nil {
			fd.Resources.Disk = *r.Disk
		}
	}
	src := fd.Source
	src.InputSpecs = map[string]*pb.ConsumerSpec{}
	for _, in := range fc.Inputs {
		src.InputSpecs[in] = &pb.ConsumerSpec{}
	}
	if fc.TopicsPattern != "" {
		src.InputSpecs[fc.TopicsPattern] = &pb.ConsumerSpec{IsRegexPattern: true}
	}
	for topic, s := range fc.InputSpecs {
		cs := &pb.ConsumerSpec{SchemaType: s.SchemaType, SerdeClassName: s.SerdeClassName, IsRegexPattern: s.RegexPattern,
			SchemaProperties: s.SchemaProperties, ConsumerProperties: s.ConsumerProperties, PoolMessages: s.PoolMessages}
		if s.ReceiverQueueSize != nil {
			cs.ReceiverQueueSize = &pb.ConsumerSpec_ReceiverQueueSize{Value: int32(*s.ReceiverQueueSize)}
		}
		if c := s.CryptoConfig; c != nil {
			cs.CryptoSpec = &pb.CryptoSpec{CryptoKeyReaderClassName: c.CryptoKeyReaderClassName}
			if c.ConsumerCryptoFailureAction != "" {
				cs.CryptoSpec.ConsumerCryptoFailureAction = pb.CryptoSpec_FailureAction(pb.CryptoSpec_FailureAction_value[c.ConsumerCryptoFailureAction])
			}
		}
		src.InputSpecs[topic] = cs
	}
	src.SubscriptionName = fc.SubName
	if fc.SubscriptionPosition == "Earliest" {
		src.SubscriptionPosition = pb.SubscriptionPosition_EARLIEST
	}
	if fc.RetainOrdering != nil && *fc.RetainOrdering {
		fd.RetainOrdering = true
		src.SubscriptionType = pb.SubscriptionType_FAILOVER
	}
	if fc.TimeoutMs != nil {
		src.TimeoutMs = uint64(*fc.TimeoutMs)
		src.NegativeAckRedeliveryDelayMs = uint64(*fc.TimeoutMs)
	}
	if fc.CleanupSubscription != nil {
		src.CleanupSubscription = *fc.CleanupSubscription
	}
	details, err := protojson.Marshal(fd)
	if err != nil {
		t.Fatal(err)
	}
	// The flat keys the worker writes beside functionDetails, where the
	// runtime needs them (the others repeat the details).
	flat, _ := json.Marshal(map[string]any{
		"pulsarServiceURL": testServiceURL, "port": 1, "instanceID": 0, "autoAck": fd.AutoAck,
		"functionDetails": string(details),
	})
	return runtime.LoadInstanceConfig(string(flat), "")
}

// effective is what the table states for a file: the settings a reader
// checks first.
type effective struct {
	inputs          string // topic[~ regex][ q=receiverQueueSize][ schema][ props][ crypto], comma-separated
	sub             string // name type position
	guarantees      string
	ackTimeout      time.Duration
	failurePolicy   string
	deadLetterTopic string
	stream          string
	noteFragments   []string
	errFragment     string
	parallelism     int
}

func summarize(c *runtime.InstanceConfig) (inputs, sub string) {
	var in []string
	for _, s := range c.Inputs {
		x := s.Topic
		if s.IsRegex {
			x += "~"
		}
		if s.ReceiverQueueSize != 0 {
			x += fmt.Sprintf(" q=%d", s.ReceiverQueueSize)
		}
		if s.SchemaType != "" {
			x += " " + s.SchemaType
		}
		if len(s.ConsumerProperties) > 0 {
			x += fmt.Sprintf(" %v", s.ConsumerProperties)
		}
		if s.CryptoFailureAction != "" {
			x += " " + s.CryptoFailureAction
		}
		in = append(in, x)
	}
	pos := map[runtime.SubscriptionPosition]string{runtime.Latest: "Latest", runtime.Earliest: "Earliest"}[c.SubscriptionPosition]
	typ := map[runtime.SubscriptionType]string{runtime.Shared: "Shared", runtime.Failover: "Failover", runtime.KeyShared: "Key_Shared"}[c.SubscriptionType]
	return strings.Join(in, ","), c.SubscriptionName + " " + typ + " " + pos
}

// TestLocalrunReadsTheFileAsDeployDoes runs each file through deploy's
// reading (what the worker's instance then runs with) and localrun's, and
// requires the same instance config (inputs with their consumer settings,
// subscription, guarantees, timeouts, the sink's configs with the
// dead-letter translation, secrets, resources), the same sink settings
// parsed from it, the same notes, and the same refusals.
func TestLocalrunReadsTheFileAsDeployDoes(t *testing.T) {
	const creds = "  awsRegion: us-east-1\n  awsCredentialPluginName: org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin\n"
	cases := []struct {
		name, yaml string // yaml "" reads file
		file       string
		want       effective
	}{
		{name: "the example", file: "../../conf/examples/kinesis-sink.yaml", want: effective{
			inputs: "persistent://public/default/orders q=2000,persistent://public/default/payments",
			sub:    "kinesis-sink Failover Earliest", guarantees: "ATLEAST_ONCE", ackTimeout: 120 * time.Second,
			failurePolicy: "deadLetter", deadLetterTopic: "persistent://public/default/kinesis-sink-dlq", stream: "orders",
			noteFragments: []string{"deadLetterTopic: the worker refuses"}, parallelism: 2,
		}},
		{name: "the Java sink's file", file: "../../conf/examples/java-sink-config.yaml", want: effective{
			inputs: "persistent://public/default/events", sub: "public/default/kinesis-java Failover Latest",
			guarantees: "ATLEAST_ONCE", ackTimeout: 60 * time.Second, failurePolicy: "fail", stream: "events",
			noteFragments: []string{`sinkType "kinesis"`, `configs: "nativeExecutable" ignored`}, parallelism: 1,
		}},
		{name: "every input form, retries to a dead-letter topic", yaml: `
tenant: acme
namespace: streams
name: every-field
inputs: [persistent://acme/streams/a, persistent://acme/streams/b]
topicsPattern: persistent://acme/streams/p-.*
topicToSchemaType: {persistent://acme/streams/b: AVRO}
topicToSerdeClassName: {persistent://acme/streams/a: org.example.Serde}
inputSpecs:
  persistent://acme/streams/a: {receiverQueueSize: 50, consumerProperties: {x: y}, serdeClassName: org.example.Serde}
  persistent://acme/streams/r-.*: {regexPattern: true, cryptoConfig: {cryptoKeyReaderClassName: org.example.Keys, consumerCryptoFailureAction: DISCARD}}
  persistent://acme/streams/e: {cryptoConfig: {cryptoKeyReaderClassName: org.example.Keys}}
sourceSubscriptionName: sub-1
sourceSubscriptionPosition: Latest
processingGuarantees: ATMOST_ONCE
parallelism: 3
cleanupSubscription: false
negativeAckRedeliveryDelayMs: 5000
maxMessageRetries: 4
deadLetterTopic: persistent://acme/streams/dlq
resources: {cpu: 0.5}
logTopic: persistent://acme/streams/log
className: org.example.Ignored
secrets: {awsCredentialPluginParam: '{"accessKey":"AK","secretKey":"SK"}'}
configs:
  awsRegion: eu-west-1
  awsKinesisStreamName: s1
  recordTtl: 30000
  failurePolicy: fail
`, want: effective{
			inputs: "persistent://acme/streams/a q=50 map[x:y],persistent://acme/streams/b AVRO,persistent://acme/streams/e FAIL," +
				"persistent://acme/streams/p-.*~,persistent://acme/streams/r-.*~ DISCARD",
			sub: "sub-1 Shared Latest", guarantees: "ATMOST_ONCE", failurePolicy: "deadLetter",
			deadLetterTopic: "persistent://acme/streams/dlq", stream: "s1", parallelism: 3,
			noteFragments: []string{"topicToSerdeClassName", "inputSpecs.persistent://acme/streams/a.serdeClassName",
				"instead of after 4 redeliveries", "negativeAckRedeliveryDelayMs", "className"},
		}},
		{name: "defaults", yaml: "name: minimal\ninputs: [t1]\nconfigs:\n  awsKinesisStreamName: s\n" + creds, want: effective{
			inputs: "t1", sub: "public/default/minimal Shared Latest", guarantees: "ATLEAST_ONCE", failurePolicy: "fail",
			stream: "s", parallelism: 1,
		}},
		{name: "MANUAL acks", yaml: "name: manual\ninputs: [t1]\nprocessingGuarantees: MANUAL\nautoAck: false\nretainOrdering: true\n" +
			"deadLetterTopic: d\nconfigs:\n  awsKinesisStreamName: s\n  failurePolicy: deadLetter\n  deadLetterTopic: d\n" + creds, want: effective{
			inputs: "t1", sub: "public/default/manual Failover Latest", guarantees: "MANUAL", failurePolicy: "deadLetter",
			deadLetterTopic: "d", stream: "s", parallelism: 1, noteFragments: []string{"deadLetterTopic=d"},
		}},
		{name: "a misspelt key", yaml: "name: typo\ninputs: [t1]\nconfigs:\n  awsKinesisStreamName: s\n  awsKinesisStreamNmae: s\n  recordTTL: 5\n" + creds, want: effective{
			inputs: "t1", sub: "public/default/typo Shared Latest", guarantees: "ATLEAST_ONCE", failurePolicy: "fail", stream: "s", parallelism: 1,
			noteFragments: []string{`configs: unknown key "awsKinesisStreamNmae" ignored; did you mean "awsKinesisStreamName"?`,
				`configs: unknown key "recordTTL" ignored; did you mean "recordTtl" (or "RecordTtl" in extraKinesisProducerConfig)?`},
		}},
		{name: "a bad config value", yaml: "name: bad\ninputs: [t1]\nconfigs:\n  awsKinesisStreamName: s\n  collectionMaxCount: -5\n  awsKinesisStreamNmae: s\n" + creds,
			want: effective{errFragment: `configs: "collectionMaxCount"`, noteFragments: []string{"did you mean"}}},
		{name: "key ordering", yaml: "name: k\ninputs: [t]\nretainKeyOrdering: true\nconfigs:\n  awsKinesisStreamName: s\n" + creds, want: effective{
			inputs: "t", sub: "public/default/k Key_Shared Latest", guarantees: "ATLEAST_ONCE", failurePolicy: "fail", stream: "s", parallelism: 1,
		}},
		{name: "key ordering and FAILOVER", yaml: "name: k\ninputs: [t]\nretainKeyOrdering: true\nretainOrdering: true\nconfigs: {awsKinesisStreamName: s}\n",
			want: effective{errFragment: `"retainKeyOrdering"`}},
		{name: "effectively once", yaml: "name: k\ninputs: [t]\nprocessingGuarantees: EFFECTIVELY_ONCE\nconfigs: {awsKinesisStreamName: s}\n",
			want: effective{errFragment: `"processingGuarantees"`}},
		{name: "a failure policy against the dead-letter topic", yaml: "name: k\ninputs: [t]\ndeadLetterTopic: d\nconfigs: {awsKinesisStreamName: s, failurePolicy: failOnError}\n",
			want: effective{errFragment: `"configs.failurePolicy"`}},
		{name: "retries without a topic", yaml: "name: k\ninputs: [t]\nmaxMessageRetries: 2\nconfigs: {awsKinesisStreamName: s}\n",
			want: effective{errFragment: `"maxMessageRetries"`}},
		{name: "a crypto action", yaml: "name: k\ninputs: [t]\ninputSpecs: {t: {cryptoConfig: {consumerCryptoFailureAction: DROP}}}\nconfigs: {awsKinesisStreamName: s}\n",
			want: effective{errFragment: `"inputSpecs.t.cryptoConfig.consumerCryptoFailureAction"`}},
		{name: "no inputs", yaml: "name: k\nconfigs: {awsKinesisStreamName: s}\n", want: effective{errFragment: `"inputs"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.file
			if path == "" {
				path = e2e.SinkConfigFile(t, c.yaml)
			}
			// deploy's reading, as Run does it.
			f, err := conf.LoadSinkConfigFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fc, deployNotes, deployErr := translate(path, f, true, f.ClearTextSecrets())
			// localrun's, with no flag that names a field of the file.
			l, localNotes, localErr := LocalInstance(&LocalOptions{File: path, ServiceURL: testServiceURL, Port: 1})

			// The archive is deploy's to upload; localrun says it runs itself.
			if f.Archive != "" {
				want := fmt.Sprintf("archive %q: localrun runs this executable; ignored", f.Archive)
				if len(localNotes) == 0 || localNotes[len(localNotes)-1] != want {
					t.Errorf("localrun notes %q lack %q last", localNotes, want)
				} else {
					localNotes = localNotes[:len(localNotes)-1]
				}
			}
			if !reflect.DeepEqual(deployNotes, localNotes) {
				t.Errorf("notes differ:\ndeploy   %q\nlocalrun %q", deployNotes, localNotes)
			}
			joined := strings.Join(deployNotes, "\n")
			for _, w := range c.want.noteFragments {
				if !strings.Contains(joined, w) {
					t.Errorf("notes lack %q:\n%s", w, joined)
				}
			}
			if c.want.errFragment != "" {
				// localrun's flags can give inputs, and its message says so.
				if deployErr == nil || localErr == nil || deployErr.Error() != strings.TrimSuffix(localErr.Error(), ", or --inputs or --topics-pattern") ||
					!strings.Contains(deployErr.Error(), c.want.errFragment) {
					t.Fatalf("want the same refusal naming %s:\ndeploy   %v\nlocalrun %v", c.want.errFragment, deployErr, localErr)
				}
				return
			}
			if deployErr != nil || localErr != nil {
				t.Fatalf("deploy: %v; localrun: %v", deployErr, localErr)
			}
			if len(c.want.noteFragments) == 0 && len(deployNotes) != 0 {
				t.Errorf("unexpected notes: %q", deployNotes)
			}
			worker, err := workerInstance(t, fc)
			if err != nil {
				t.Fatalf("the worker's instance conf: %v", err)
			}
			local := l.Config
			if !reflect.DeepEqual(worker, local) {
				wj, _ := json.Marshal(worker)
				lj, _ := json.Marshal(local)
				t.Fatalf("instance configs differ:\ndeployed %s\nlocalrun %s", wj, lj)
			}

			// The sink's settings, as the instance's sink reads them.
			deployed, _, err := conf.FromMap(worker.UserConfig, f.ClearTextSecrets())
			if err != nil {
				t.Fatalf("deployed sink config: %v", err)
			}
			run, _, err := conf.FromMap(local.UserConfig, l.Secret)
			if err != nil {
				t.Fatalf("localrun sink config: %v", err)
			}
			if deployed.String() != run.String() {
				t.Fatalf("sink settings differ:\ndeployed %s\nlocalrun %s", deployed, run)
			}

			inputs, sub := summarize(local)
			got := effective{inputs: inputs, sub: sub, guarantees: fc.ProcessingGuarantees, ackTimeout: local.AckTimeout,
				failurePolicy: string(run.FailurePolicy), deadLetterTopic: run.DeadLetterTopic, stream: run.AWSKinesisStreamName,
				noteFragments: c.want.noteFragments, parallelism: local.Parallelism}
			if got.guarantees == "" {
				got.guarantees = "ATLEAST_ONCE"
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("effective settings\n got %+v\nwant %+v", got, c.want)
			}
			if local.NegativeAckRedeliveryDelay != local.AckTimeout {
				t.Errorf("negative acks are redelivered after %s, want timeoutMs (%s), as the worker sets it", local.NegativeAckRedeliveryDelay, local.AckTimeout)
			}
		})
	}
}
