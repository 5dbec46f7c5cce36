package testenv

import (
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcome records how a helper ended a test: skipped, failed, or returned normally.
type outcome struct {
	skipped, failed bool
	msg             string
}

// fakeTB stands in for *testing.T so that a helper's Skip/Fatal can be observed instead of ending the real test. Like
// the real ones, Skip and Fatal stop the calling goroutine.
type fakeTB struct {
	testing.TB // only to satisfy the interface's private method; every method used is overridden below
	mu         sync.Mutex
	out        outcome
	cleanups   []func()
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "TestFake/sub" }
func (f *fakeTB) Logf(string, ...any) {
}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) end(skipped bool, msg string) {
	f.mu.Lock()
	f.out = outcome{skipped: skipped, failed: !skipped, msg: msg}
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any)                  { f.end(true, fmt.Sprint(args...)) }
func (f *fakeTB) Skipf(format string, args ...any)  { f.end(true, fmt.Sprintf(format, args...)) }
func (f *fakeTB) Fatal(args ...any)                 { f.end(false, fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.end(false, fmt.Sprintf(format, args...)) }

// run calls fn with a fakeTB in its own goroutine (Skip/Fatal end it) and reports the outcome.
func run(fn func(tb testing.TB)) outcome {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnavailableServiceSkipsOrFails(t *testing.T) {
	dead := closedPort(t)
	entry := map[string]func(testing.TB){
		"pulsar":  func(tb testing.TB) { Pulsar(tb) },
		"kinesis": func(tb testing.TB) { Kinesis(tb) },
		"aws":     func(tb testing.TB) { AWS(tb) },
	}
	cases := []struct {
		name     string
		env      map[string]string
		require  bool
		wantSkip bool
		wantMsg  string
	}{
		{"unset, optional", map[string]string{}, false, true, "not configured"},
		{"unset, required", map[string]string{}, true, false, "KS_REQUIRE_SERVICES=1"},
		{"dead, optional", map[string]string{
			EnvPulsarServiceURL: "pulsar://" + dead, EnvPulsarWebURL: "http://" + dead,
			EnvKinesisEndpoint: "http://" + dead, EnvAWSEndpoint: "http://" + dead,
		}, false, true, "skipping"},
		{"dead, required", map[string]string{
			EnvPulsarServiceURL: "pulsar://" + dead, EnvPulsarWebURL: "http://" + dead,
			EnvKinesisEndpoint: "http://" + dead, EnvAWSEndpoint: "http://" + dead,
		}, true, false, "does not answer"},
	}
	for _, c := range cases {
		for svc, fn := range entry {
			t.Run(c.name+"/"+svc, func(t *testing.T) {
				for _, k := range []string{EnvPulsarServiceURL, EnvPulsarWebURL, EnvKinesisEndpoint, EnvAWSEndpoint} {
					t.Setenv(k, c.env[k])
				}
				if c.require {
					t.Setenv(EnvRequireServices, "1")
				} else {
					t.Setenv(EnvRequireServices, "")
				}
				got := run(fn)
				if !got.skipped && !got.failed {
					t.Fatalf("returned normally; want skipped=%v", c.wantSkip)
				}
				if got.skipped != c.wantSkip {
					t.Fatalf("skipped=%v failed=%v (%q); want skipped=%v", got.skipped, got.failed, got.msg, c.wantSkip)
				}
				// In -short mode an optional service is skipped before it is looked at, with its own message.
				if !(testing.Short() && !c.require) && !strings.Contains(got.msg, c.wantMsg) {
					t.Fatalf("message %q does not contain %q", got.msg, c.wantMsg)
				}
			})
		}
	}
}

func TestRequireServices(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "": false, "0": false, "true": false} {
		t.Setenv(EnvRequireServices, v)
		if got := RequireServices(); got != want {
			t.Errorf("KS_REQUIRE_SERVICES=%q: RequireServices()=%v, want %v", v, got, want)
		}
	}
}

func TestUniqueNames(t *testing.T) {
	p := &PulsarEnv{}
	k := &KinesisEnv{}
	topicRE := regexp.MustCompile(`^persistent://public/default/sink-in-[0-9a-f]{12}$`)
	streamRE := regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
	seen := map[string]bool{}
	for range 50 {
		topic := p.UniqueTopic(t, "sink-in")
		if !topicRE.MatchString(topic) {
			t.Fatalf("UniqueTopic = %q; want %s", topic, topicRE)
		}
		stream := k.UniqueStream(t, "out/with spaces")
		if !streamRE.MatchString(stream) || !strings.HasPrefix(stream, "out-with-spaces-") {
			t.Fatalf("UniqueStream = %q; want a valid stream name starting out-with-spaces-", stream)
		}
		if seen[topic] || seen[stream] {
			t.Fatalf("name repeated: %q / %q", topic, stream)
		}
		seen[topic], seen[stream] = true, true
	}
	long := k.UniqueStream(t, strings.Repeat("x", 300))
	if len(long) != 128 {
		t.Fatalf("UniqueStream of a long prefix has length %d; want 128", len(long))
	}
	if got := k.UniqueStream(t, ""); !strings.HasPrefix(got, "TestUniqueNames-") {
		t.Fatalf("UniqueStream with empty prefix = %q; want it to start with the test name", got)
	}
}

func TestTopicPath(t *testing.T) {
	good := map[string]string{
		"persistent://public/default/a":        "persistent/public/default/a",
		"non-persistent://t/ns/x-partition-3":  "non-persistent/t/ns/x-partition-3",
		"bare":                                 "persistent/public/default/bare",
		"persistent://public/default/with%pct": "persistent/public/default/with%25pct",
	}
	for in, want := range good {
		got, err := topicPath(in)
		if err != nil || got != want {
			t.Errorf("topicPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a/b", "http://public/default/a", "persistent://public/default", "persistent:///default/a"} {
		if got, err := topicPath(bad); err == nil {
			t.Errorf("topicPath(%q) = %q; want an error", bad, got)
		}
	}
}

func TestSequenceLess(t *testing.T) {
	ordered := []string{"9", "10", "49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692540925702759324208523137515618"}
	for i := range ordered {
		for j := range ordered {
			if got := SequenceLess(ordered[i], ordered[j]); got != (i < j) {
				t.Errorf("SequenceLess(%s, %s) = %v; want %v", ordered[i], ordered[j], got, i < j)
			}
		}
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	start := time.Now()
	WaitFor(t, 5*time.Second, func() bool { n++; return n >= 3 }, "n to reach 3")
	if n != 3 {
		t.Fatalf("cond called %d times; want 3", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("WaitFor took %s for a condition true on the third poll", d)
	}

	got := run(func(tb testing.TB) {
		WaitFor(tb, 200*time.Millisecond, func() bool { return false }, "topic %s to drain", "t1")
	})
	if !got.failed || !strings.Contains(got.msg, "topic t1 to drain") || !strings.Contains(got.msg, "200ms") {
		t.Fatalf("WaitFor on a false condition: %+v; want a failure naming the condition and the timeout", got)
	}
}
