package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
)

// deployFC loads a sink config file and translates it.
func deployFC(t *testing.T, content string) (*functionConfig, []string, error) {
	t.Helper()
	p := e2e.SinkConfigFile(t, content)
	f, err := conf.LoadSinkConfigFile(p)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return buildFunctionConfig(p, f)
}

// TestBuildFunctionConfig checks the SinkConfig -> FunctionConfig
// translation: the JSON the worker receives, field by field.
func TestBuildFunctionConfig(t *testing.T) {
	fc, notes, err := deployFC(t, `
tenant: acme
namespace: streams
name: to-kinesis
inputs: [persistent://acme/streams/a, persistent://acme/streams/b]
topicsPattern: persistent://acme/streams/c-.*
topicToSchemaType: {persistent://acme/streams/b: AVRO}
inputSpecs:
  persistent://acme/streams/a: {receiverQueueSize: 50, consumerProperties: {x: y}}
  persistent://acme/streams/d-.*: {regexPattern: true}
parallelism: 3
processingGuarantees: ATLEAST_ONCE
retainOrdering: true
sourceSubscriptionName: sub1
sourceSubscriptionPosition: Earliest
timeoutMs: 60000
negativeAckRedeliveryDelayMs: 5000
cleanupSubscription: false
maxMessageRetries: 5
deadLetterTopic: persistent://acme/streams/dlq
resources: {cpu: 0.5, ram: 268435456, disk: 1073741824}
secrets: {awsCredentialPluginParam: {path: aws, key: param}}
className: org.example.Ignored
configs:
  awsRegion: eu-west-1
  awsKinesisStreamName: s1
  recordTtl: 30000
`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(fc)
	var m map[string]any
	json.Unmarshal(got, &m)
	want := map[string]any{
		"tenant": "acme", "namespace": "streams", "name": "to-kinesis", "runtime": "GO",
		"inputs":        []any{"persistent://acme/streams/a", "persistent://acme/streams/b"},
		"topicsPattern": "persistent://acme/streams/c-.*",
		"inputSpecs": map[string]any{
			"persistent://acme/streams/a":    map[string]any{"receiverQueueSize": 50.0, "consumerProperties": map[string]any{"x": "y"}},
			"persistent://acme/streams/b":    map[string]any{"schemaType": "AVRO"},
			"persistent://acme/streams/d-.*": map[string]any{"regexPattern": true},
		},
		"parallelism": 3.0, "processingGuarantees": "ATLEAST_ONCE", "retainOrdering": true,
		"subName": "sub1", "subscriptionPosition": "Earliest", "timeoutMs": 60000.0, "cleanupSubscription": false,
		"autoAck":   true,
		"resources": map[string]any{"cpu": 0.5, "ram": 268435456.0, "disk": 1073741824.0},
		"secrets":   map[string]any{"awsCredentialPluginParam": map[string]any{"path": "aws", "key": "param"}},
		"userConfig": map[string]any{"awsRegion": "eu-west-1", "awsKinesisStreamName": "s1", "recordTtl": 30000.0,
			"failurePolicy": "deadLetter", "deadLetterTopic": "persistent://acme/streams/dlq"},
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(m)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("function config:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	// Nothing the worker refuses for Go functions is sent.
	for _, k := range []string{"maxMessageRetries", "deadLetterTopic", "retainKeyOrdering", "negativeAckRedeliveryDelayMs", "className"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s sent to the worker", k)
		}
	}
	joined := strings.Join(notes, "\n")
	for _, w := range []string{"deadLetterTopic", "instead of after 5 redeliveries", "negativeAckRedeliveryDelayMs", "here 60000 ms", "className"} {
		if !strings.Contains(joined, w) {
			t.Errorf("notes lack %q:\n%s", w, joined)
		}
	}
}

// TestBuildFunctionConfigMinimal: unset options are not sent, so the worker
// applies its defaults (cleanupSubscription true, parallelism 1, ...); the
// config map goes as written (a secret value included, not redacted).
func TestBuildFunctionConfigMinimal(t *testing.T) {
	fc, notes, err := deployFC(t, `
name: k
inputs: [t1]
timeoutMs: 0
configs:
  awsKinesisStreamName: s
  awsCredentialPluginParam: '{"accessKey":"AK","secretKey":"SK"}'
`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(fc)
	want := `{"tenant":"public","namespace":"default","name":"k","runtime":"GO","inputs":["t1"],"userConfig":{"awsCredentialPluginParam":"{\"accessKey\":\"AK\",\"secretKey\":\"SK\"}","awsKinesisStreamName":"s"},"autoAck":true}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if len(notes) != 0 {
		t.Fatalf("unexpected notes: %q", notes)
	}
}

// TestBuildFunctionConfigRefusals: every refusal is one line naming the
// field of the file.
func TestBuildFunctionConfigRefusals(t *testing.T) {
	cases := []struct{ yaml, field, also string }{
		{"inputs: [t]\nconfigs: {}\n", `"name"`, "required"},
		{"name: n\nconfigs: {}\n", `"inputs"`, "no input topics: give inputs, topicsPattern or inputSpecs"},
		{"name: n\ninputs: [t]\nprocessingGuarantees: EFFECTIVELY_ONCE\n", `"processingGuarantees"`, "use ATLEAST_ONCE"},
		{"name: n\ninputs: [t]\nretainKeyOrdering: true\nretainOrdering: true\n", `"retainKeyOrdering"`, "both true: keep one"},
		{"name: n\ninputs: [t]\nretainOrdering: true\nconfigs: {retainKeyOrdering: true}\n", `"configs.retainKeyOrdering"`, "retainOrdering already chose FAILOVER"},
		{"name: n\ninputs: [t]\nconfigs: {retainKeyOrdering: maybe}\n", `"configs.retainKeyOrdering"`, `must be true or false, got string "maybe"`},
		{"name: n\ninputs: [t]\nmaxMessageRetries: 3\n", `"maxMessageRetries"`, "set deadLetterTopic"},
		{"name: n\ninputs: [t]\nautoAck: false\n", `"autoAck"`, "MANUAL"},
		{"name: n\ninputs: [t]\nprocessingGuarantees: ATMOST_ONCE\ntimeoutMs: 1000\n", `"timeoutMs"`, "ATLEAST_ONCE"},
		{"name: n\ninputs: [t]\ntransformFunction: builtin://x\n", `"transformFunction"`, "Java-only"},
		{"name: n\ninputs: [t]\nmaxMessageRetries: 3\ndeadLetterTopic: d\nconfigs: {failurePolicy: failOnError}\n", `"configs.failurePolicy"`, "conflicts"},
		{"name: n\ninputs: [t]\ndeadLetterTopic: d\nconfigs: {deadLetterTopic: e}\n", `"configs.deadLetterTopic"`, "differs"},
		{"name: a/b\ninputs: [t]\n", `"name"`, "must not contain"},
		{"name: n\ninputs: [t]\ninputSpecs: {t: {cryptoConfig: {consumerCryptoFailureAction: drop}}}\n", `"inputSpecs.t.cryptoConfig.consumerCryptoFailureAction"`, "FAIL, DISCARD, CONSUME"},
		{"name: n\ninputs: [t]\ninputSpecs: {t: {receiverQueueSize: -1}}\n", `"inputSpecs.t.receiverQueueSize"`, "at least 0"},
	}
	for _, c := range cases {
		_, _, err := deployFC(t, c.yaml)
		if err == nil {
			t.Errorf("%q: accepted", c.yaml)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, c.field) || !strings.Contains(msg, c.also) {
			t.Errorf("%q:\n got %q\nwant one line with %s and %q", c.yaml, msg, c.field, c.also)
		}
	}
	// maxMessageRetries 0 is "no retry policy" for a sink, not a refusal.
	if _, _, err := deployFC(t, "name: n\ninputs: [t]\nmaxMessageRetries: 0\n"); err != nil {
		t.Errorf("maxMessageRetries 0: %v", err)
	}
}

// TestMultipartBody parses the request body as the worker's form parser
// would: the functionConfig part and the executable, byte for byte, with the
// declared length exact.
func TestMultipartBody(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kinesis-sink")
	content := bytes.Repeat([]byte("\x7fELF-not-really-"), 5000)
	os.WriteFile(bin, content, 0o755)
	fc := &functionConfig{Tenant: "a", Namespace: "b", Name: "c", Runtime: "GO", Go: "kinesis-sink", Inputs: []string{"t"}}
	for _, pkg := range []deployPackage{{path: bin}, {url: "function://a/b/c@1"}, {}} {
		body, ct, err := multipartBody(fc, pkg)
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ { // a redirect re-reads the body
			r, err := body.open()
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(r)
			r.Close()
			if int64(len(raw)) != body.size {
				t.Fatalf("%+v: body is %d bytes, declared %d", pkg, len(raw), body.size)
			}
			_, params, _ := mime.ParseMediaType(ct)
			mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
			parts := map[string][]byte{}
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%+v: %v", pkg, err)
				}
				b, _ := io.ReadAll(p)
				parts[p.FormName()] = b
				if p.FormName() == "data" && p.FileName() != "kinesis-sink" {
					t.Errorf("data file name %q", p.FileName())
				}
			}
			var got functionConfig
			if err := json.Unmarshal(parts["functionConfig"], &got); err != nil || got.Name != "c" || got.Runtime != "GO" {
				t.Fatalf("%+v: functionConfig part %q: %v", pkg, parts["functionConfig"], err)
			}
			switch {
			case pkg.path != "" && !bytes.Equal(parts["data"], content):
				t.Fatalf("data part differs from the file (%d vs %d bytes)", len(parts["data"]), len(content))
			case pkg.url != "" && string(parts["url"]) != pkg.url:
				t.Fatalf("url part %q", parts["url"])
			case pkg.path == "" && pkg.url == "" && len(parts) != 1:
				t.Fatalf("config-only update sent parts %v", len(parts))
			}
		}
	}
}

func TestTokenParams(t *testing.T) {
	f := filepath.Join(t.TempDir(), "t")
	os.WriteFile(f, []byte(" jwt-in-file \n"), 0o600)
	for in, want := range map[string]string{
		"token:abc":             "abc",
		"file:" + f:             "jwt-in-file",
		"file://" + f:           "jwt-in-file",
		`{"token":"j"}`:         "j",
		`{"file":"` + f + `"}`:  "jwt-in-file",
		"bare.jwt.value":        "bare.jwt.value",
		"  token:spaced  ":      "spaced",
		"file:" + f + "-absent": "",
	} {
		got, err := tokenFromParams(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "jwt") {
			t.Errorf("%q: error shows the token: %v", in, err)
		}
	}
	if c, k, err := tlsParams("tlsCertFile:/a.pem,tlsKeyFile:/a.key"); err != nil || c != "/a.pem" || k != "/a.key" {
		t.Errorf("tls params: %q %q %v", c, k, err)
	}
}

func TestWorkerErrorField(t *testing.T) {
	for body, want := range map[string]string{
		`{"reason":"Processing Guarantees cannot be altered"}`: `"processingGuarantees": Processing Guarantees cannot be altered (worker HTTP 400)`,
		`{"reason":"Function n already exists"}`:               `"name": Function n already exists; use deploy update (worker HTTP 400)`,
		`{"reason":"Function n doesn't exist"}`:                `"name": Function n doesn't exist; use deploy create (worker HTTP 400)`,
		// Pulsar 4.0.8's words, after pulsar-admin functions delete.
		`{"reason":"Package 'function://public/default/n@0' metadata already exists"}`: `"name": Package 'function://public/default/n@0' metadata already exists; a deleted function of this name left its package behind: remove it with pulsar-admin packages delete (deploy delete removes both) (worker HTTP 400)`,
		`{"reason":"Input Topics cannot be altered"}`:                                  `"inputs": Input Topics cannot be altered (worker HTTP 400)`,
		"<html>\n<body>Service Unavailable</body>\n</html>\n\n":                        `the worker answered HTTP 400: <html> <body>Service Unavailable</body> </html>`,
	} {
		if got := newWorkerError(400, []byte(body)).Error(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", body, got, want)
		}
	}
}

// The dead-letter note says when a record gets there: after recordTtl, but
// with configs.retainOrdering (where recordTtl does not apply) only on an
// error no retry fixes.
func TestDeadLetterNoteFollowsRetainOrdering(t *testing.T) {
	for _, tc := range []struct{ ordering, want, not string }{
		{"", "after configs.recordTtl", "no retry can fix"},
		{"  retainOrdering: true\n", "no retry can fix", "recordTtl"},
		{"  retainOrdering: \"true\"\n", "no retry can fix", "recordTtl"},
	} {
		_, notes, err := deployFC(t, "name: k\ninputs: [t1]\ndeadLetterTopic: dlq\nconfigs:\n  awsKinesisStreamName: s\n"+tc.ordering)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(notes, "\n")
		if !strings.Contains(joined, tc.want) || strings.Contains(joined, tc.not) {
			t.Errorf("configs %q: note %q, want %q and not %q", tc.ordering, joined, tc.want, tc.not)
		}
	}
}

// TestAllRunning: --wait ends when every instance of the asked parallelism
// runs, not when the worker has scheduled one of two and it runs.
func TestAllRunning(t *testing.T) {
	for _, tc := range []struct {
		instances, running, want int
		done                     bool
	}{
		{0, 0, 0, false},
		{1, 1, 2, false},
		{2, 1, 2, false},
		{2, 2, 2, true},
		{2, 2, 0, true},
		{3, 3, 0, true},
		{1, 1, 1, true},
	} {
		st := &FunctionStatus{NumInstances: tc.instances, NumRunning: tc.running}
		if got := allRunning(st, tc.want); got != tc.done {
			t.Errorf("%d of %d running, parallelism %d: done %v, want %v", tc.running, tc.instances, tc.want, got, tc.done)
		}
	}
}
