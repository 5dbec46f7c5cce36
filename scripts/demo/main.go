// Command demo deploys bin/kinesis-sink through a real Pulsar functions worker once per message format, publishes
// one record of each kind of schema, reads what reached Kinesis (kinesalite) back and prints it.
//
// It is run by scripts/demo.sh (`make demo`), which starts the local services and exports the variables read here:
// PULSAR_HOME (for bin/pulsar-admin), PULSAR_SERVICE_URL, PULSAR_WEB_URL, KINESIS_ENDPOINT and AWS_REGION.
//
// Re-running is safe: every run first deletes the functions, topics and streams of the previous one, so each
// stream ends up holding exactly this run's four records. Nothing is deleted at the end, so that the functions,
// their status and metrics can still be looked at; the closing lines print how to remove them.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/flatbuf/kinesisfbs"
	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
)

const (
	tenant    = "public"
	namespace = "default"
	// sinkBinary is what the worker uploads and runs; demo.sh builds it and runs the demo from the repository root.
	sinkBinary = "bin/kinesis-sink"

	shards = 2
	// recordTimeout bounds the wait for the four records of one stream, as the demo promises.
	recordTimeout = 60 * time.Second
	// startTimeout bounds the wait for an instance to run: the worker copies the binary and starts a process.
	startTimeout = 120 * time.Second
)

// format is one message format and the names of everything the demo creates for it.
type format struct {
	name  string // messageFormat value
	short string // suffix of the stream, function and topic names
	// text names the format in the STRING record's text; empty: short. The NAR section sends the text the demo-json
	// function got, so that the two can be compared byte for byte.
	text string
}

var formats = []format{
	{"ONLY_RAW_PAYLOAD", "raw", ""},
	{"FULL_MESSAGE_IN_JSON", "json", ""},
	{"FULL_MESSAGE_IN_FB", "fb", ""},
	{"FULL_MESSAGE_IN_JSON_EXPAND_VALUE", "expand", ""},
}

func (f format) stream() string   { return "demo-" + f.short }
func (f format) function() string { return "demo-" + f.short }

// topics are one per schema kind: a topic holds one schema.
func (f format) topics() []string {
	var out []string
	for _, kind := range []string{"string", "json", "avro", "kv"} {
		out = append(out, fmt.Sprintf("persistent://%s/%s/demo-%s-%s", tenant, namespace, f.short, kind))
	}
	return out
}

// env holds the service addresses from scripts/local-env.sh env.
type env struct {
	pulsarHome, serviceURL, webURL, kinesisEndpoint, region string
}

func loadEnv() (*env, error) {
	e := &env{
		pulsarHome:      os.Getenv("PULSAR_HOME"),
		serviceURL:      os.Getenv("PULSAR_SERVICE_URL"),
		webURL:          strings.TrimRight(os.Getenv("PULSAR_WEB_URL"), "/"),
		kinesisEndpoint: os.Getenv("KINESIS_ENDPOINT"),
		region:          os.Getenv("AWS_REGION"),
	}
	if e.region == "" {
		e.region = "us-east-1"
	}
	for _, v := range []struct{ name, value string }{{"PULSAR_HOME", e.pulsarHome},
		{"PULSAR_SERVICE_URL", e.serviceURL}, {"PULSAR_WEB_URL", e.webURL}, {"KINESIS_ENDPOINT", e.kinesisEndpoint}} {
		if v.value == "" {
			return nil, fmt.Errorf("environment variable %s is not set; run through scripts/demo.sh, or eval \"$(scripts/local-env.sh env)\" first", v.name)
		}
	}
	if _, err := os.Stat(e.admin()); err != nil {
		return nil, fmt.Errorf("PULSAR_HOME=%s has no bin/pulsar-admin: %v", e.pulsarHome, err)
	}
	if _, err := os.Stat(sinkBinary); err != nil {
		return nil, fmt.Errorf("%s is missing (run make build, from the repository root): %v", sinkBinary, err)
	}
	return e, nil
}

func (e *env) admin() string { return filepath.Join(e.pulsarHome, "bin", "pulsar-admin") }

// pulsarAdmin runs pulsar-admin against PULSAR_WEB_URL and returns its output; the error carries the output.
func (e *env) pulsarAdmin(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.admin(), append([]string{"--admin-url", e.webURL}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The reason is on the first lines; a usage text may follow.
		return string(out), fmt.Errorf("pulsar-admin %s: %v: %s", strings.Join(args[:min(2, len(args))], " "), err,
			strings.TrimSpace(firstLines(string(out), 3)))
	}
	return string(out), nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// isNotFound tells a 404 from pulsar-admin apart: deleting what a first run never created is not a failure.
func isNotFound(out string) bool {
	o := strings.ToLower(out)
	return strings.Contains(o, "not found") || strings.Contains(o, "doesn't exist") || strings.Contains(o, "does not exist") ||
		strings.Contains(o, "404")
}

// rest calls the admin REST API (what pulsar-admin calls, without starting a JVM each time) and returns the HTTP
// status and body.
func (e *env) rest(method, path string) (int, []byte, error) {
	req, err := http.NewRequest(method, e.webURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	return resp.StatusCode, body.Bytes(), err
}

func functionPath(name string) string {
	return fmt.Sprintf("/admin/v3/functions/%s/%s/%s", tenant, namespace, name)
}

// status is `functions status`.
func (e *env) status(name string) (*deploy.FunctionStatus, error) {
	code, body, err := e.rest(http.MethodGet, functionPath(name)+"/status")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("functions status %s: HTTP %d: %s", name, code, bytes.TrimSpace(body))
	}
	var st deploy.FunctionStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("functions status %s: unreadable answer %q: %v", name, body, err)
	}
	return &st, nil
}

// --------------------------------------------------------------------------------------------------------------
// Pulsar side

// removeFunction deletes an earlier run's function and waits until the worker no longer knows it, since creating
// the same name while the old one is being torn down is refused.
func (e *env) removeFunction(name string) error {
	code, body, err := e.rest(http.MethodDelete, functionPath(name))
	if err != nil {
		return err
	}
	switch {
	case code == http.StatusNotFound || (code/100 == 4 && isNotFound(string(body))):
	case code/100 != 2:
		return fmt.Errorf("functions delete %s: HTTP %d: %s", name, code, bytes.TrimSpace(body))
	default:
		fmt.Printf("  deleted function %s of an earlier run\n", name)
		if err := waitFor(30*time.Second, "function "+name+" to disappear", func() (bool, error) {
			code, _, err := e.rest(http.MethodGet, functionPath(name))
			return code == http.StatusNotFound, err
		}); err != nil {
			return err
		}
	}
	return e.removePackage("function", name)
}

// removePackage deletes the function package pulsar-admin uploaded for an earlier run. When the worker has package
// management enabled (the standalone does), pulsar-admin uploads the binary as function://tenant/namespace/name@0,
// `functions delete` leaves that package behind, and the next `functions create` of the name fails with "metadata
// already exists".
// The same holds for a sink's NAR (kind "sink").
func (e *env) removePackage(kind, name string) error {
	base := fmt.Sprintf("/admin/v3/packages/%s/%s/%s/%s", kind, tenant, namespace, name)
	code, body, err := e.rest(http.MethodGet, base)
	if err != nil || code == http.StatusNotFound {
		return err
	}
	if code != http.StatusOK {
		// No package management on this worker: nothing is left behind.
		return nil
	}
	var versions []string
	if err := json.Unmarshal(body, &versions); err != nil {
		return fmt.Errorf("list packages of %s: unreadable answer %q: %v", name, body, err)
	}
	for _, v := range versions {
		code, body, err := e.rest(http.MethodDelete, base+"/"+v)
		if err != nil {
			return err
		}
		if code/100 != 2 && code != http.StatusNotFound {
			return fmt.Errorf("delete package %s://%s/%s/%s@%s: HTTP %d: %s", kind, tenant, namespace, name, v, code, bytes.TrimSpace(body))
		}
		fmt.Printf("  deleted package %s://%s/%s/%s@%s of an earlier run\n", kind, tenant, namespace, name, v)
	}
	return nil
}

// removeTopic deletes a topic of an earlier run, with its schema, so that the new function, which reads from the
// earliest message, sees only this run's records.
func (e *env) removeTopic(topic string) error {
	path := "/admin/v2/" + strings.Replace(topic, "://", "/", 1) + "?force=true"
	code, body, err := e.rest(http.MethodDelete, path)
	if err != nil {
		return err
	}
	if code/100 != 2 && code != http.StatusNotFound {
		return fmt.Errorf("delete topic %s: HTTP %d: %s", topic, code, bytes.TrimSpace(body))
	}
	return nil
}

func (e *env) deploy(f format, userConfig string) error {
	// pulsar-admin resolves a relative path from its own installation directory.
	bin, err := filepath.Abs(sinkBinary)
	if err != nil {
		return err
	}
	_, err = e.pulsarAdmin("functions", "create", "--go", bin, "--tenant", tenant, "--namespace", namespace,
		"--name", f.function(), "--inputs", strings.Join(f.topics(), ","), "--subs-position", "Earliest",
		"--user-config", userConfig)
	return err
}

// order is the value published with the JSON, AVRO and KEY_VALUE schemas.
type order struct {
	ID    int64   `json:"id" avro:"id"`
	Item  string  `json:"item" avro:"item"`
	Qty   int32   `json:"qty" avro:"qty"`
	Price float64 `json:"price" avro:"price"`
}

// orderSchema serves both JSON and AVRO: Pulsar describes JSON schemas with an Avro record definition.
const orderSchema = `{"type":"record","name":"Order","namespace":"demo","fields":[{"name":"id","type":"long"},` +
	`{"name":"item","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":"double"}]}`

// kvSchema registers a KEY_VALUE SchemaInfo, which pulsar-client-go has no constructor for; the client sends any
// Schema's SchemaInfo to the broker unchanged. The payload is passed already encoded (INLINE layout).
type kvSchema struct{ info pulsar.SchemaInfo }

func (s *kvSchema) Encode(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("kvSchema encodes a []byte, not %T", v)
	}
	return b, nil
}
func (s *kvSchema) Decode([]byte, any) error {
	return errors.New("kvSchema: decoding is not needed here")
}
func (s *kvSchema) Validate([]byte) error             { return nil }
func (s *kvSchema) GetSchemaInfo() *pulsar.SchemaInfo { return &s.info }

// lengthPrefixed joins parts as [4-byte big-endian length][bytes]..., the layout of both the KEY_VALUE schema data
// and an INLINE KEY_VALUE payload.
func lengthPrefixed(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// newKVSchema is KeyValue<STRING, JSON(order)>, INLINE: key and value both travel in the payload.
func newKVSchema() pulsar.Schema {
	return &kvSchema{pulsar.SchemaInfo{
		Name:   "KeyValue",
		Type:   pulsar.KeyValue,
		Schema: string(lengthPrefixed(nil, []byte(orderSchema))), // a STRING schema has no data
		Properties: map[string]string{
			"key.schema.type":         "STRING",
			"key.schema.name":         "String",
			"key.schema.properties":   "{}",
			"value.schema.type":       "JSON",
			"value.schema.name":       "Order",
			"value.schema.properties": "{}",
			"kv.encoding.type":        "INLINE",
		},
	}}
}

// publish sends this format's four records, one per topic, each with a key, properties and an event time.
func publish(client pulsar.Client, f format, eventTime time.Time) error {
	tp := f.topics()
	kvValue, _ := json.Marshal(order{ID: 1004, Item: "kv-widget", Qty: 4, Price: 4.5})
	msgs := []struct {
		topic  string
		schema pulsar.Schema
		msg    *pulsar.ProducerMessage
	}{
		{tp[0], pulsar.NewStringSchema(nil), &pulsar.ProducerMessage{Value: "hello from pulsar (" + cmp.Or(f.text, f.short) + ")",
			Key: "order-1001"}},
		{tp[1], pulsar.NewJSONSchema(orderSchema, nil), &pulsar.ProducerMessage{
			Value: order{ID: 1002, Item: "json-widget", Qty: 2, Price: 2.25}, Key: "order-1002"}},
		{tp[2], pulsar.NewAvroSchema(orderSchema, nil), &pulsar.ProducerMessage{
			Value: order{ID: 1003, Item: "avro-widget", Qty: 3, Price: 3.75}, Key: "order-1003"}},
		{tp[3], newKVSchema(), &pulsar.ProducerMessage{
			Payload: lengthPrefixed([]byte("order-1004"), kvValue), Key: "order-1004"}},
	}
	for i, m := range msgs {
		m.msg.Properties = map[string]string{"source": "make-demo", "schema": []string{"STRING", "JSON", "AVRO", "KEY_VALUE"}[i]}
		m.msg.EventTime = eventTime
		// Batching stays on: pulsar-client-go v0.19 writes the schema version only into batch metadata, and a
		// message without one reaches the sink without its schema.
		p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: m.topic, Schema: m.schema})
		if err != nil {
			return fmt.Errorf("producer for %s: %v", m.topic, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = p.Send(ctx, m.msg)
		cancel()
		p.Close()
		if err != nil {
			return fmt.Errorf("send to %s: %v", m.topic, err)
		}
	}
	return nil
}

// --------------------------------------------------------------------------------------------------------------
// Kinesis side

func newKinesis(e *env) *kinesis.Client {
	// kinesalite checks only that requests are signed.
	cfg := aws.Config{Region: e.region, Credentials: credentials.NewStaticCredentialsProvider("x", "y", "")}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(e.kinesisEndpoint) })
}

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// recreateStream deletes the stream of an earlier run, if any, and creates it empty with two shards.
func recreateStream(kc *kinesis.Client, name string) error {
	exists := func() (bool, *types.StreamDescriptionSummary, error) {
		ctx, cancel := callCtx()
		defer cancel()
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false, nil, nil
		}
		if err != nil {
			return false, nil, fmt.Errorf("describe stream %s: %v", name, err)
		}
		return true, out.StreamDescriptionSummary, nil
	}
	ok, _, err := exists()
	if err != nil {
		return err
	}
	if ok {
		ctx, cancel := callCtx()
		_, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
		cancel()
		if err != nil {
			return fmt.Errorf("delete stream %s: %v", name, err)
		}
		if err := waitFor(30*time.Second, "stream "+name+" to be deleted", func() (bool, error) {
			ok, _, err := exists()
			return !ok, err
		}); err != nil {
			return err
		}
		fmt.Printf("  deleted stream %s of an earlier run\n", name)
	}
	ctx, cancel := callCtx()
	_, err = kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	cancel()
	if err != nil {
		return fmt.Errorf("create stream %s: %v", name, err)
	}
	return waitFor(30*time.Second, "stream "+name+" to be ACTIVE", func() (bool, error) {
		ok, s, err := exists()
		return ok && s.StreamStatus == types.StreamStatusActive, err
	})
}

type record struct {
	shard, partitionKey, seq string
	data                     []byte
}

// readAll reads every record of every shard from the start.
func readAll(kc *kinesis.Client, stream string) ([]record, error) {
	ctx, cancel := callCtx()
	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("list shards of %s: %v", stream, err)
	}
	var out []record
	for _, sh := range ls.Shards {
		ctx, cancel := callCtx()
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("shard iterator %s/%s: %v", stream, *sh.ShardId, err)
		}
		iter := it.ShardIterator
		for iter != nil {
			ctx, cancel := callCtx()
			gr, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("get records %s/%s: %v", stream, *sh.ShardId, err)
			}
			for _, r := range gr.Records {
				out = append(out, record{*sh.ShardId, aws.ToString(r.PartitionKey), aws.ToString(r.SequenceNumber), r.Data})
			}
			// An open shard always returns a next iterator; an empty page with nothing behind it is its end.
			if len(gr.Records) == 0 && aws.ToInt64(gr.MillisBehindLatest) == 0 {
				break
			}
			iter = gr.NextShardIterator
		}
	}
	return out, nil
}

// --------------------------------------------------------------------------------------------------------------
// printing

func printRecord(f format, r record) {
	fmt.Printf("  [%s] shard %s  partition key %q  seq %s  (%d bytes)\n", f.stream(), r.shard, r.partitionKey, r.seq, len(r.data))
	switch f.name {
	case "FULL_MESSAGE_IN_FB":
		m := kinesisfbs.GetRootAsMessage(r.data, 0)
		payload := make([]byte, m.PayloadLength())
		for i := range payload {
			payload[i] = byte(m.Payload(i)) // [byte] is signed in the schema
		}
		props := map[string]string{}
		var kv kinesisfbs.KeyValue
		for i := 0; i < m.PropertiesLength(); i++ {
			if m.Properties(&kv, i) {
				props[string(kv.Key())] = string(kv.Value())
			}
		}
		pj, _ := json.Marshal(props)
		fmt.Printf("    FlatBuffers Message: encrypted=%v properties=%s\n", m.EncryptionCtx(nil) != nil, pj)
		fmt.Printf("    payload: %s\n", describe(payload, "    "))
	case "FULL_MESSAGE_IN_JSON":
		fmt.Printf("    %s\n", describe(r.data, "    "))
		var m struct {
			PayloadBase64 string `json:"payloadBase64"`
		}
		if json.Unmarshal(r.data, &m) == nil {
			if p, err := base64.StdEncoding.DecodeString(m.PayloadBase64); err == nil {
				fmt.Printf("    payloadBase64 decoded: %s\n", describe(p, "    "))
			}
		}
	default:
		fmt.Printf("    %s\n", describe(r.data, "    "))
	}
}

// describe renders bytes for a terminal: JSON indented, other printable text as is, binary as hex.
func describe(b []byte, indent string) string {
	var buf bytes.Buffer
	if json.Valid(b) && json.Indent(&buf, b, indent, "  ") == nil {
		return buf.String()
	}
	if utf8.Valid(b) && printable(b) {
		return fmt.Sprintf("%q (text)", b)
	}
	return "hex " + hex.EncodeToString(b) + " (binary: Avro or KEY_VALUE encoding)"
}

func printable(b []byte) bool {
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// --------------------------------------------------------------------------------------------------------------

func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Second)
	}
}

func userConfig(e *env, f format) string {
	b, _ := json.Marshal(map[string]any{
		"awsEndpoint":              e.kinesisEndpoint,
		"awsRegion":                e.region,
		"awsKinesisStreamName":     f.stream(),
		"awsCredentialPluginParam": `{"accessKey":"x","secretKey":"y"}`,
		"metricsLevel":             "none",
		"messageFormat":            f.name,
		// One Kinesis record per Pulsar message, so that every record below reads on its own (KPL-aggregated
		// records need a de-aggregating consumer).
		"aggregationEnabled": false,
	})
	return string(b)
}

// metricsPort finds the Prometheus port the worker gave a function's instance, from the instance conf on the
// process's command line (the process runtime passes it as -instance-conf '<json>').
func metricsPort(name string) int {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		raw, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(raw, []byte("-instance-conf")) {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		for i, a := range args {
			if a != "-instance-conf" || i+1 >= len(args) {
				continue
			}
			var c struct {
				Tenant, NameSpace, Name string
				MetricsPort             int
			}
			if json.Unmarshal([]byte(args[i+1]), &c) == nil && c.Tenant == tenant && c.NameSpace == namespace && c.Name == name {
				return c.MetricsPort
			}
		}
	}
	return 0
}

// sampleMetrics returns a few counters from an instance's endpoint: the runtime's (as every Pulsar function instance
// reports them) and the sink's own, as "name value" with the labels left out.
func sampleMetrics(url string) ([]string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	want := []string{"pulsar_function_received_total", "pulsar_function_processed_successfully_total",
		"kinesis_sink_user_records_received_total", "kinesis_sink_user_records_put_total",
		"kinesis_sink_kinesis_records_put_total", "kinesis_sink_user_records_failed_total"}
	var out []string
	for _, name := range want {
		for _, l := range strings.Split(body.String(), "\n") {
			if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
				out = append(out, fmt.Sprintf("%-46s %s", name, l[strings.LastIndexByte(l, ' ')+1:]))
				break
			}
		}
	}
	return out, nil
}

func run() error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	kc := newKinesis(e)
	start := time.Now()

	fmt.Printf("== 1. Deploying %s through the functions worker at %s, once per message format\n", sinkBinary, e.webURL)
	for _, f := range formats {
		fmt.Printf("- %s: stream %s (%d shards), function %s\n", f.name, f.stream(), shards, f.function())
		if err := e.removeFunction(f.function()); err != nil {
			return err
		}
		for _, t := range f.topics() {
			if err := e.removeTopic(t); err != nil {
				return err
			}
		}
		if err := recreateStream(kc, f.stream()); err != nil {
			return err
		}
		if err := e.deploy(f, userConfig(e, f)); err != nil {
			return err
		}
	}
	// The worker starts the four instances concurrently; waiting for all after creating all saves time.
	for _, f := range formats {
		name := f.function()
		var last *deploy.FunctionStatus
		err := waitFor(startTimeout, "function "+name+" to report numRunning 1", func() (bool, error) {
			st, err := e.status(name)
			if err == nil {
				last = st
			}
			return err == nil && st.NumRunning == 1, nil
		})
		if err != nil {
			if last != nil && len(last.Instances) > 0 && last.Instances[0].Status.Error != "" {
				err = fmt.Errorf("%v; the worker says: %s", err, last.Instances[0].Status.Error)
			}
			return fmt.Errorf("%v (instance log: the worker's logs/functions/%s/%s/%s/ directory)", err, tenant, namespace, name)
		}
		fmt.Printf("  %s running\n", name)
	}

	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: e.serviceURL, Logger: pulsarlog.DefaultNopLogger(),
		OperationTimeout: 30 * time.Second})
	if err != nil {
		return fmt.Errorf("pulsar client for %s: %v", e.serviceURL, err)
	}
	defer client.Close()
	eventTime := time.Now().Truncate(time.Millisecond)
	fmt.Printf("\n== Publishing to each function's topics: STRING, JSON, AVRO and KEY_VALUE<STRING,JSON> records,\n")
	fmt.Printf("   keys order-1001..order-1004, properties {source: make-demo, schema: <type>}, event time %s\n",
		eventTime.UTC().Format(time.RFC3339Nano))
	for _, f := range formats {
		if err := publish(client, f, eventTime); err != nil {
			return err
		}
		fmt.Printf("  %s\n", strings.Join(f.topics(), "  "))
	}

	fmt.Printf("\n== 2. Records in kinesalite (%s)\n", e.kinesisEndpoint)
	for _, f := range formats {
		var recs []record
		err := waitFor(recordTimeout, fmt.Sprintf("4 records in stream %s", f.stream()), func() (bool, error) {
			var err error
			recs, err = readAll(kc, f.stream())
			return len(recs) >= 4, err
		})
		if err != nil {
			return fmt.Errorf("%v (found %d; see `%s functions status --name %s`)", err, len(recs), e.admin(), f.function())
		}
		if len(recs) != 4 {
			return fmt.Errorf("stream %s holds %d records, want 4", f.stream(), len(recs))
		}
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].partitionKey < recs[j].partitionKey })
		fmt.Printf("\n--- %s -> stream %s\n", f.name, f.stream())
		for _, r := range recs {
			printRecord(f, r)
		}
	}

	fmt.Printf("\n== 3. functions status (counters served by the instance's gRPC control port)\n")
	fmt.Printf("  %-12s %-10s %-12s %-25s %s\n", "function", "running", "numReceived", "numSuccessfullyProcessed", "exceptions")
	for _, f := range formats {
		var st *deploy.FunctionStatus
		// The counters move when Kinesis has accepted the record, which may be a moment after it is readable.
		_ = waitFor(15*time.Second, "counters", func() (bool, error) {
			s, err := e.status(f.function())
			if err != nil {
				return false, err
			}
			st = s
			return len(s.Instances) == 1 && s.Instances[0].Status.NumSuccessfullyProcessed >= 4, nil
		})
		if st == nil || len(st.Instances) != 1 {
			return fmt.Errorf("functions status %s: no instance reported", f.function())
		}
		s := st.Instances[0].Status
		fmt.Printf("  %-12s %-10v %-12d %-25d %d\n", f.function(), s.Running, s.NumReceived, s.NumSuccessfullyProcessed,
			s.NumUserExceptions+s.NumSystemExceptions)
		if s.NumSuccessfullyProcessed < 4 {
			return fmt.Errorf("function %s reports numSuccessfullyProcessed=%d, want 4", f.function(), s.NumSuccessfullyProcessed)
		}
	}

	if err := narSection(e, kc, client, eventTime); err != nil {
		return err
	}

	admin := e.admin()
	fn := formats[1].function()
	fmt.Printf("\n== Metrics (Prometheus, per instance)\n")
	if port := metricsPort(fn); port > 0 {
		url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
		lines, err := sampleMetrics(url)
		if err != nil {
			fmt.Printf("  %s: %v\n", url, err)
		} else {
			fmt.Printf("  %s, instance endpoint %s (labels left out):\n", fn, url)
			for _, l := range lines {
				fmt.Printf("    %s\n", l)
			}
		}
	} else {
		fmt.Printf("  instance process of %s not found on this machine (not the process runtime?)\n", fn)
	}

	fmt.Printf(`
== How to look further
  status:   %[1]s --admin-url %[2]s functions status --tenant public --namespace default --name %[3]s
  stats:    %[1]s --admin-url %[2]s functions stats --tenant public --namespace default --name %[3]s
  metrics:  curl -s %[2]s/metrics/ | grep 'demo-'     (the worker re-exports every instance's series)
            or an instance's own endpoint, http://127.0.0.1:<metricsPort>/metrics (metricsPort is in the
            -instance-conf JSON on the instance's command line: pgrep -af 'kinesis-sink -instance-conf')
  logs:     a Go instance logs to the worker's output, lines tagged fqfn=public/default/<name>
            (with scripts/local-env.sh: .local-env/pulsar/logs/standalone.log)
  records:  streams demo-raw, demo-json, demo-fb, demo-expand at %[4]s
  teardown: for f in demo-raw demo-json demo-fb demo-expand; do
              %[1]s --admin-url %[2]s functions delete --tenant public --namespace default --name $f
              %[1]s --admin-url %[2]s packages delete function://public/default/$f@0; done
            (functions delete leaves the uploaded package behind; re-running make demo removes both itself)
            make down    # stops the local services that scripts/local-env.sh up started
  Re-running make demo replaces all of the above.

demo finished in %[5]s
`, admin, e.webURL, fn, e.kinesisEndpoint, time.Since(start).Round(time.Second))
	return nil
}

// narFormat is the NAR deployment: the JSON format again, so that its records can be compared byte for byte with
// what the function demo-json wrote for the same messages.
var narFormat = format{"FULL_MESSAGE_IN_JSON", "nar", "json"}

// narSection deploys the kinesis-go NAR (demo.sh builds it into KS_DEMO_NAR) with pulsar-admin sinks create, the
// same configuration as the demo-json function, publishes the same records and shows that Kinesis got the same bytes.
func narSection(e *env, kc *kinesis.Client, client pulsar.Client, eventTime time.Time) error {
	nar := os.Getenv("KS_DEMO_NAR")
	if nar == "" {
		fmt.Printf("\n== 4. (skipped: KS_DEMO_NAR is not set; make demo builds the kinesis-go NAR)\n")
		return nil
	}
	f := narFormat
	fmt.Printf("\n== 4. The same engine as a Pulsar IO sink: pulsar-admin sinks create --archive %s\n", filepath.Base(nar))
	if out, err := e.pulsarAdmin("sinks", "delete", "--tenant", tenant, "--namespace", namespace, "--name", f.function()); err != nil && !isNotFound(out) {
		return fmt.Errorf("sinks delete %s: %v: %s", f.function(), err, firstLines(out, 3))
	}
	// sinks delete leaves the uploaded NAR behind, as functions delete does the binary.
	if err := e.removePackage("sink", f.function()); err != nil {
		return err
	}
	for _, t := range f.topics() {
		if err := e.removeTopic(t); err != nil {
			return err
		}
	}
	if err := recreateStream(kc, f.stream()); err != nil {
		return err
	}
	if out, err := e.pulsarAdmin("sinks", "create", "--archive", nar, "--tenant", tenant, "--namespace", namespace,
		"--name", f.function(), "--inputs", strings.Join(f.topics(), ","), "--sink-config", userConfig(e, f)); err != nil {
		return fmt.Errorf("sinks create %s: %v: %s", f.function(), err, firstLines(out, 5))
	}
	var status string
	err := waitFor(startTimeout, "sink "+f.function()+" to run", func() (bool, error) {
		out, err := e.pulsarAdmin("sinks", "status", "--tenant", tenant, "--namespace", namespace, "--name", f.function())
		status = out
		// The instance subscribes before it opens the sink; its child runs once it is open.
		return err == nil && strings.Contains(out, `"running" : true`) && childRunning(f.function()), nil
	})
	if err != nil {
		return fmt.Errorf("%v; sinks status: %s", err, firstLines(status, 20))
	}
	// The instance may open the sink before its consumer has subscribed to all four topics, and a sink's
	// subscription starts at the latest message: wait for it on each.
	for _, t := range f.topics() {
		if err := waitFor(startTimeout, "sink "+f.function()+" to subscribe to "+t, func() (bool, error) {
			code, body, err := e.rest(http.MethodGet, "/admin/v2/"+strings.Replace(t, "://", "/", 1)+"/stats")
			if err != nil || code != http.StatusOK {
				return false, err
			}
			var st struct {
				Subscriptions map[string]struct{ Consumers []json.RawMessage }
			}
			if err := json.Unmarshal(body, &st); err != nil {
				return false, nil
			}
			return len(st.Subscriptions[tenant+"/"+namespace+"/"+f.function()].Consumers) > 0, nil
		}); err != nil {
			return err
		}
	}
	fmt.Printf("  sink %s running: a Java instance with kinesis-sink as its child process; stream %s\n", f.function(), f.stream())
	if err := publish(client, f, eventTime); err != nil {
		return err
	}
	var recs []record
	if err := waitFor(recordTimeout, "4 records in stream "+f.stream(), func() (bool, error) {
		var err error
		recs, err = readAll(kc, f.stream())
		return len(recs) >= 4, err
	}); err != nil {
		return err
	}
	viaFunction, err := readAll(kc, formats[1].stream())
	if err != nil {
		return err
	}
	same := map[string]bool{}
	for _, r := range viaFunction {
		same[string(r.data)] = true
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].partitionKey < recs[j].partitionKey })
	equal := 0
	for _, r := range recs {
		printRecord(f, r)
		if same[string(r.data)] {
			equal++
		}
	}
	fmt.Printf("  %d of %d records byte-equal to what the function demo-json wrote for the same messages\n", equal, len(recs))
	if equal != len(recs) {
		return fmt.Errorf("the NAR path wrote %d records unlike the function path's", len(recs)-equal)
	}
	_ = waitFor(15*time.Second, "counters", func() (bool, error) {
		out, err := e.pulsarAdmin("sinks", "status", "--tenant", tenant, "--namespace", namespace, "--name", f.function())
		status = out
		return err == nil && strings.Contains(out, `"numWrittenToSink" : 4`), nil
	})
	for _, l := range strings.Split(status, "\n") {
		if strings.Contains(l, "numReadFromPulsar") || strings.Contains(l, "numWrittenToSink") || strings.Contains(l, "numSinkExceptions") {
			fmt.Printf("  sinks status: %s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), ",")))
		}
	}
	fmt.Printf("  teardown: %[1]s --admin-url %[2]s sinks delete --tenant public --namespace default --name %[3]s\n"+
		"            %[1]s --admin-url %[2]s packages delete sink://public/default/%[3]s@0\n", e.admin(), e.webURL, f.function())
	return nil
}

// childRunning says whether a `kinesis-sink sidecar` process runs under an instance of sink name.
func childRunning(name string) bool {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) < 2 || args[1] != "sidecar" || !strings.HasPrefix(filepath.Base(args[0]), "kinesis-sink") {
			continue
		}
		st, err := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(st), "\n") {
			if ppid, ok := strings.CutPrefix(l, "PPid:"); ok {
				parent, _ := os.ReadFile("/proc/" + strings.TrimSpace(ppid) + "/cmdline")
				if bytes.Contains(parent, []byte("/"+name+"\x00")) || bytes.Contains(parent, []byte("/"+name+"/")) {
					return true
				}
			}
		}
	}
	return false
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: error: %v\n", err)
		os.Exit(1)
	}
}
