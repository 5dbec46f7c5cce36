package sink_test

// Messages only a Java producer sends, through the NAR deployed with sinks
// create: KEY_VALUE with a null key or a null value (a tombstone), and a
// chunked message. The Java instance hands the sink a null getData() for a
// null value; the function path's Go client gives an empty payload.

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// runJava runs a testdata Java program in source-file mode, with the
// Pulsar distribution's libraries and extra on its class path, and returns
// its standard output and its standard error (log lines).
func runJava(t *testing.T, env *testenv.PulsarEnv, extra []string, file string, args ...string) (string, string) {
	t.Helper()
	if env.Home == "" {
		t.Fatal("PULSAR_HOME is not set: the Java programs run on $PULSAR_HOME/lib")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("%s needs java: %v", file, err)
	}
	cp := strings.Join(append(extra, filepath.Join(env.Home, "lib", "*")), string(filepath.ListSeparator))
	jargs := []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dorg.apache.logging.log4j.level=INFO",
		"-cp", cp, filepath.Join("testdata", file)}
	cmd := exec.Command(java, append(jargs, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", file, strings.Join(args, " "), err, e2e.Tail(string(out), 40), e2e.Tail(stderr.String(), 30))
	}
	return string(out), stderr.String()
}

// javaProduce publishes with testdata/nar_producer.java and returns the
// ids it printed, by message ("0".."n-1", "chunked").
func javaProduce(t *testing.T, env *testenv.PulsarEnv, topic, kind string, n, chunked int) map[string]string {
	t.Helper()
	args := []string{env.ServiceURL, topic, kind, fmt.Sprint(n)}
	if chunked > 0 {
		args = append(args, fmt.Sprint(chunked))
	}
	out, _ := runJava(t, env, nil, "nar_producer.java", args...)
	ids := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "\t"); ok {
			ids[k] = v
		}
	}
	want := n
	if chunked > 0 {
		want++
	}
	if len(ids) != want {
		t.Fatalf("nar_producer.java %s %s printed %d ids, want %d:\n%s", topic, kind, len(ids), want, out)
	}
	return ids
}

// TestNARSinkNullValues: 30 KEY_VALUE SEPARATED STRING/STRING messages (a
// null value every third, a null key every fourth), and 30 STRING messages
// then a chunked one, from a Java producer, read by the NAR (sinks create,
// parallelism 1) and by the function path (the same binary as a Go
// instance), in ONLY_RAW_PAYLOAD and in FULL_MESSAGE_IN_JSON with
// jsonIncludeMessageId. The NAR's instances drain their backlog with no
// restart, and every stream the NAR writes holds the same records,
// partition key and bytes, as the function's.
func TestNARSinkNullValues(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	nar := e2e.NAR(t)
	strTopic := env.UniqueTopic(t, "nar-null-str")
	kvTopic := env.UniqueTopic(t, "nar-null-kv")
	topics := []string{strTopic, kvTopic}
	const n, chunkBytes = 30, 3000
	const total = 2*n + 1
	// KEY_VALUE's null values, whose payload is empty. (A STRING message
	// with a null value never reaches a Java sink: the instance fails on it
	// first, TestNARSinkPlainNullValue.)
	const empty = n / 3

	type deployment struct {
		format           string
		narName, fnName  string
		narStream, fnStr string
		narChild         map[int]int
	}
	var deps []*deployment
	for _, format := range []string{"ONLY_RAW_PAYLOAD", "FULL_MESSAGE_IN_JSON"} {
		short := map[string]string{"ONLY_RAW_PAYLOAD": "raw", "FULL_MESSAGE_IN_JSON": "json"}[format]
		d := &deployment{format: format,
			narName: uniqueName(t, "nar-null-"+short), fnName: uniqueName(t, "fn-null-"+short),
			narStream: ks.UniqueStream(t, "nar-null-"+short), fnStr: ks.UniqueStream(t, "fn-null-"+short)}
		ks.CreateStream(t, d.narStream, 1)
		ks.CreateStream(t, d.fnStr, 1)
		cfg := func(stream string) map[string]any {
			return map[string]any{
				"awsEndpoint": ks.Endpoint, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
				"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-null"}`,
				"messageFormat":            format, "jsonIncludeMessageId": true,
				"aggregationEnabled": false, "metricsLevel": "none", "retainOrdering": true,
			}
		}
		file := writeJavaSinkConfigFile(t, d.narName, topics, cfg(d.narStream))
		if out, err := env.Admin(t, "sinks", "create", "--archive", nar, "--sink-config-file", file); err != nil {
			t.Fatalf("sinks create: %v\n%s", err, out)
		}
		t.Cleanup(func() { deleteSink(t, env, d.narName) })
		t.Cleanup(func() {
			if t.Failed() {
				_, raw := statusOf(t, env, d.narName)
				t.Logf("%s: sinks status: %s", d.narName, strings.Join(strings.Fields(raw), " "))
			}
		})
		startSink(t, env, d.fnName, topics, cfg(d.fnStr))
		deps = append(deps, d)
	}
	for _, d := range deps {
		env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(d.narName)) == 1 }, "the kinesis-sink child of %s", d.narName)
		waitSubscribed(t, env, "public/default/"+d.narName, topics, 1)
		d.narChild = sidecarProcs(d.narName)
	}

	strIDs := javaProduce(t, env, strTopic, "string", n, chunkBytes)
	javaProduce(t, env, kvTopic, "kv", n, 0)
	t.Logf("the chunked message's id, as the Java producer prints it: %s", strIDs["chunked"])

	for _, d := range deps {
		t.Run(d.format, func(t *testing.T) {
			// ReadAll returns a stream's records in order; sorted, the two
			// streams compare as multisets (the two topics interleave
			// differently in each).
			records := func(stream string) []string {
				recs := ks.WaitForRecords(t, stream, total, 3*time.Minute)
				out := make([]string, len(recs))
				for i, r := range recs {
					out[i] = fmt.Sprintf("%q %q", r.PartitionKey, r.Data)
				}
				slices.Sort(out)
				return out
			}
			nar, fn := records(d.narStream), records(d.fnStr)
			if !slices.Equal(nar, fn) {
				t.Errorf("the NAR wrote %d records, the function %d; they differ:", len(nar), len(fn))
				for _, r := range nar {
					if !slices.Contains(fn, r) {
						t.Logf("  only the NAR's: %s", r)
					}
				}
				for _, r := range fn {
					if !slices.Contains(nar, r) {
						t.Logf("  only the function's: %s", r)
					}
				}
			}
			if len(nar) != total {
				t.Errorf("the NAR's stream holds %d records, want %d", len(nar), total)
			}
			tombstones, chunk := 0, 0
			for _, r := range ks.ReadAll(t, d.narStream) {
				switch {
				case len(r.Data) == 0 || bytes.HasPrefix(r.Data, []byte(`{"payloadBase64":"",`)):
					tombstones++
				case bytes.Contains(r.Data, []byte(strings.Repeat("c", 100))) || bytes.Contains(r.Data, []byte("Y2NjY2Nj")):
					chunk++
					if d.format == "FULL_MESSAGE_IN_JSON" {
						t.Logf("the chunked message's record ends %s", r.Data[max(len(r.Data)-120, 0):])
					}
				}
			}
			if tombstones != empty || chunk != 1 {
				t.Errorf("the NAR's stream holds %d empty payloads (want %d) and %d chunked messages (want 1)", tombstones, empty, chunk)
			}

			for _, topic := range topics {
				env.WaitFor(t, time.Minute, func() bool { return env.Backlog(t, topic, "public/default/"+d.narName) == 0 },
					"the backlog of %s on %s to drain", d.narName, topic)
			}
			st, raw := statusOf(t, env, d.narName)
			if len(st.Instances) != 1 || !st.Instances[0].Status.Running || st.Instances[0].Status.NumRestarts != 0 ||
				st.Instances[0].Status.NumSinkExceptions != 0 {
				t.Errorf("want one running instance, never restarted, no sink exception: %s", strings.Join(strings.Fields(raw), " "))
			}
			if now := sidecarProcs(d.narName); !maps.Equal(now, d.narChild) {
				t.Errorf("the kinesis-sink child changed: %v, then %v", d.narChild, now)
			}
		})
	}
}

// TestNARSinkPlainNullValue pins a limit of Pulsar's Java instance, not of
// the NAR: a null value under any schema but KEY_VALUE (a STRING
// tombstone) fails the instance in its own check of the record it read
// ("The value in the record returned by the source cannot be null", Pulsar
// through 4.0.8), before any Java sink's write is called, and the worker
// restarts it into the same message. The function path writes it (an
// empty record). Should a Pulsar release pass such a record on, this test
// fails: the NAR then writes it as the function does (write sends a null
// getData() as an empty payload), and docs/deployment.md must say so.
func TestNARSinkPlainNullValue(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	stream := ks.UniqueStream(t, "nar-tomb")
	ks.CreateStream(t, stream, 1)
	topic := env.UniqueTopic(t, "nar-tomb")
	name := uniqueName(t, "nar-tomb")
	file := writeJavaSinkConfigFile(t, name, []string{topic}, map[string]any{
		"awsEndpoint": ks.Endpoint, "awsRegion": "us-east-1", "awsKinesisStreamName": stream,
		"awsCredentialPluginParam": `{"accessKey":"AKIDNAR","secretKey":"nar-tomb"}`,
		"messageFormat":            "ONLY_RAW_PAYLOAD", "aggregationEnabled": false, "metricsLevel": "none",
		"retainOrdering": true,
	})
	if out, err := env.Admin(t, "sinks", "create", "--archive", e2e.NAR(t), "--sink-config-file", file); err != nil {
		t.Fatalf("sinks create: %v\n%s", err, out)
	}
	t.Cleanup(func() { deleteSink(t, env, name) })
	env.WaitFor(t, 2*time.Minute, func() bool { return len(sidecarProcs(name)) == 1 }, "the kinesis-sink child of %s", name)
	waitSubscribed(t, env, "public/default/"+name, []string{topic}, 1)

	// "s-0", "s-1", then a null value.
	javaProduce(t, env, topic, "string-nulls", 3, 0)
	const pulsarCheck = "The value in the record returned by the source cannot be null"
	var recs []testenv.KinesisRecord
	env.WaitFor(t, 2*time.Minute, func() bool {
		recs = ks.ReadAll(t, stream)
		return len(recs) >= 3 || strings.Contains(instanceLog(t, env, name), pulsarCheck)
	}, "the instance to fail on the null value, or write it")
	if len(recs) >= 3 {
		t.Fatalf("the Java instance passed a STRING null value to the sink (%d records): check that the NAR writes what the function path writes, and update docs/deployment.md", len(recs))
	}
	// The two records before it may or may not be in Kinesis: the instance
	// fails as soon as it reads the null value, and the NAR's close writes
	// nothing more (Pulsar has closed the consumer, so no ack could follow).
	for i, r := range recs {
		if want := fmt.Sprintf("s-%d", i); string(r.Data) != want {
			t.Errorf("record %d before the null value: %q, want %q", i, r.Data, want)
		}
	}
	if log := instanceLog(t, env, name); strings.Contains(log, "at io.github.pulsarkinesis.") {
		t.Errorf("an exception out of the NAR's own code:\n%s", e2e.Tail(log, 40))
	}
}
