package sink_test

// The NAR's Java class against a fake child (testdata/nar_fakechild): what
// the real child does only when something is broken. Its results reader
// must never wait on Pulsar and never die quietly, and a child that goes
// silent must fail the instance.

import (
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// fakeChildDir builds testdata/nar_fakechild where KinesisGoSink looks
// for its binary on the class path, for a directory put ahead of the NAR.
func fakeChildDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "kinesis-sink", "linux-"+goruntime.GOARCH, "kinesis-sink")
	if b, err := exec.Command("go", "build", "-o", out, "./testdata/nar_fakechild").CombinedOutput(); err != nil {
		t.Fatalf("building the fake child: %v\n%s", err, b)
	}
	return dir
}

func results(out string) map[string]string {
	res := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "RESULT "); ok {
			k, v, _ := strings.Cut(r, " ")
			if k == "creates" {
				k, v, _ = strings.Cut(v, " ")
				k = "creates " + k
			}
			res[k] = v
		}
	}
	return res
}

// TestNARSinkReaderRobust: dead-letter producers are created
// asynchronously (a creation that never ends holds up no ack), a failed
// creation is answered at once as the PUBLISHED error and kept for the
// next dead letters to the topic (one attempt for three), an Error thrown
// in the reader fails the instance and the next write throws rather than
// waits, and a child silent after READY fails the instance after 30 s.
func TestNARSinkReaderRobust(t *testing.T) {
	env := testenv.Pulsar(t)
	nar := e2e.NAR(t)
	cp := []string{fakeChildDir(t), nar}
	run := func(t *testing.T, mode string) (map[string]string, string) {
		t.Helper()
		t.Setenv("FAKE_CHILD_MODE", mode)
		out, stderr := runJava(t, env, cp, "nar_robust.java", mode)
		res := results(out)
		t.Logf("%s: %v", mode, res)
		return res, out + stderr
	}

	t.Run("publish", func(t *testing.T) {
		res, log := run(t, "publish")
		if res["acked"] != "4" {
			t.Errorf("acked %s of 4: the reader waited on a dead-letter producer", res["acked"])
		}
		if res["creates dlt-missing"] != "1" || res["creates dlt-hang"] != "1" {
			t.Errorf("producer creations: dlt-missing %s, dlt-hang %s; want 1 each (a failure is kept)",
				res["creates dlt-missing"], res["creates dlt-hang"])
		}
		for _, id := range []string{"1", "3", "4"} {
			if !strings.Contains(log, "PUBLISHED "+id+" org.apache.pulsar.client.api.PulsarClientException$TopicDoesNotExistException: topic dlt-missing does not exist") {
				t.Errorf("dead letter %s to dlt-missing not answered with the creation's error:\n%s", id, e2e.Tail(log, 30))
			}
		}
		if strings.Contains(log, "PUBLISHED 2 ") {
			t.Errorf("dead letter 2 answered while its producer is still being created")
		}
	})

	t.Run("reader-error", func(t *testing.T) {
		res, log := run(t, "metric")
		if !strings.Contains(res["fatal"], "results reader failed: java.lang.OutOfMemoryError: test: recordMetric threw an Error") {
			t.Errorf("fatal %q: want the instance failed with the reader's Error\n%s", res["fatal"], e2e.Tail(log, 30))
		}
		if _, hung := res["hung"]; hung || res["threw"] == "" {
			t.Errorf("the write after the reader died: %v; want it to throw", res)
		}
	})

	t.Run("silent", func(t *testing.T) {
		res, log := run(t, "silent")
		ms, msg, _ := strings.Cut(res["fatal"], " ")
		n, err := strconv.Atoi(ms)
		if err != nil || !strings.Contains(msg, "sent nothing for") {
			t.Fatalf("fatal %q: want the silent child noticed\n%s", res["fatal"], e2e.Tail(log, 30))
		}
		if n < 29_000 || n > 35_000 {
			t.Errorf("the silent child was noticed %d ms after open; want about 30 s (the silence is counted from READY), within 31 s and a little", n)
		}
		if _, ok := res["fail"]; !ok {
			t.Errorf("the record the silent child held was not failed back: %v", res)
		}
	})
}
