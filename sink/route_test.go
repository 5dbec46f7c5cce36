package sink

import (
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

func TestDefaultPartitionKeyFollowsJavaRule(t *testing.T) {
	long := strings.Repeat("é", 300) // 2 bytes per character
	cases := []struct {
		name string
		r    runtime.RecordData
		want string
	}{
		{"key", runtime.RecordData{Key: "k1", HasKey: true, Topic: "persistent://public/default/t"}, "k1"},
		{"topic when no key", runtime.RecordData{Topic: "persistent://public/default/t"}, "persistent://public/default/t"},
		{"default when neither", runtime.RecordData{}, "default"},
		{"cut to 256 characters, not bytes", runtime.RecordData{Key: long, HasKey: true}, strings.Repeat("é", 256)},
		{"exactly 256 kept", runtime.RecordData{Key: strings.Repeat("a", 256), HasKey: true}, strings.Repeat("a", 256)},
	}
	for _, c := range cases {
		if got := DefaultPartitionKey(&c.r); got != c.want {
			t.Errorf("%s: got %q (%d chars), want %d chars", c.name, got, len([]rune(got)), len([]rune(c.want)))
		}
	}
}

func TestRouterModes(t *testing.T) {
	rec := runtime.RecordData{
		Key: "msgkey", HasKey: true, Topic: "persistent://public/default/orders-partition-2",
		Payload:    []byte(`{"customer":{"id":42,"name":"x"},"sku":"abc"}`),
		Properties: map[string]string{"pk": "from-prop", "stream": "s-prop", "ehk": "340282366920938463463374607431768211455"},
	}
	mk := func(o RouteOptions) *Router {
		o.DefaultStream = "s-default"
		r, err := NewRouter(o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(name string, o RouteOptions, wantStream, wantKey, wantEHK string) {
		t.Helper()
		got, err := mk(o).Route(&rec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Stream != wantStream || (wantKey != "*" && got.PartitionKey != wantKey) || got.ExplicitHashKey != wantEHK {
			t.Fatalf("%s: got %+v", name, got)
		}
	}
	check("default", RouteOptions{}, "s-default", "msgkey", "")
	check("property", RouteOptions{KeyMode: KeyProperty, KeyProperty: "pk"}, "s-default", "from-prop", "")
	check("property absent falls back", RouteOptions{KeyMode: KeyProperty, KeyProperty: "nope"}, "s-default", "msgkey", "")
	check("property absent, configured fallback", RouteOptions{KeyMode: KeyProperty, KeyProperty: "nope", FixedKey: "fb"}, "s-default", "fb", "")
	check("field", RouteOptions{KeyMode: KeyField, KeyField: "customer.id"}, "s-default", "42", "")
	check("field string", RouteOptions{KeyMode: KeyField, KeyField: "sku"}, "s-default", "abc", "")
	check("fixed", RouteOptions{KeyMode: KeyFixed, FixedKey: "all"}, "s-default", "all", "")
	check("stream property", RouteOptions{StreamProperty: "stream"}, "s-prop", "msgkey", "")
	check("topic map, partition follows parent", RouteOptions{TopicStreams: map[string]string{"orders": "s-orders"}}, "s-orders", "msgkey", "")
	check("topic map full name", RouteOptions{TopicStreams: map[string]string{"persistent://public/default/orders": "s-full"}}, "s-full", "msgkey", "")
	check("explicit hash key", RouteOptions{HashKeyProperty: "ehk"}, "s-default", "msgkey", "340282366920938463463374607431768211455")

	r1, _ := mk(RouteOptions{KeyMode: KeyRandom}).Route(&rec)
	r2, _ := mk(RouteOptions{KeyMode: KeyRandom}).Route(&rec)
	if r1.PartitionKey == r2.PartitionKey || len(r1.PartitionKey) == 0 {
		t.Fatalf("random keys: %q %q", r1.PartitionKey, r2.PartitionKey)
	}
}

func TestRouterErrors(t *testing.T) {
	for _, bad := range []string{"-1", "01", "1.5", "abc", "340282366920938463463374607431768211456", ""} {
		r, _ := NewRouter(RouteOptions{HashKeyProperty: "h", DefaultStream: "s"})
		_, err := r.Route(&runtime.RecordData{Properties: map[string]string{"h": bad}})
		if err == nil || !strings.Contains(err.Error(), `"h"`) {
			t.Errorf("hash key %q: want an error naming the property, got %v", bad, err)
		}
	}
	r, _ := NewRouter(RouteOptions{StreamProperty: "s"})
	if _, err := r.Route(&runtime.RecordData{Topic: "t"}); err == nil || !strings.Contains(err.Error(), "no target stream") {
		t.Fatalf("want no target stream error, got %v", err)
	}
	for _, o := range []RouteOptions{{KeyMode: "bogus"}, {KeyMode: KeyProperty}, {KeyMode: KeyField}, {KeyMode: KeyFixed}, {KeyMode: KeyFixed, FixedKey: strings.Repeat("x", 257)}} {
		if _, err := NewRouter(o); err == nil {
			t.Errorf("%+v: want error", o)
		}
	}
}

// The stream a config's topicToStreamMap gives a topic: the topic's own
// entry first, then, for a partition ("<topic>-partition-<digits>"), its
// partitioned topic's, else awsKinesisStreamName.
func TestRouteStreamFromConfig(t *testing.T) {
	load := func(m map[string]any) *Router {
		t.Helper()
		m["awsRegion"] = "us-east-1"
		m["awsCredentialPluginParam"] = `{"accessKey":"AKIDEXAMPLE","secretKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`
		cfg, _, err := conf.FromMap(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRouter(routeOptions(cfg))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(r *Router, topic, want string) {
		t.Helper()
		got, err := r.Route(&runtime.RecordData{Topic: topic})
		if want == "" {
			if err == nil {
				t.Errorf("topic %s: routed to %q, want no stream", topic, got.Stream)
			}
			return
		}
		if err != nil || got.Stream != want {
			t.Errorf("topic %s: stream %q (%v), want %q", topic, got.Stream, err, want)
		}
	}

	r := load(map[string]any{"topicToStreamMap": map[string]any{"orders": "o", "persistent://acme/prod/pay": "p"}})
	check(r, "persistent://public/default/orders", "o")
	check(r, "persistent://public/default/orders-partition-3", "o")
	check(r, "persistent://acme/prod/pay-partition-0", "p")
	check(r, "persistent://acme/prod/other", "")

	r = load(map[string]any{"awsKinesisStreamName": "my-stream", "topicToStreamMap": map[string]any{"payments": "payments"}})
	check(r, "persistent://public/default/x", "my-stream")
	check(r, "persistent://public/default/payments", "payments")

	// "-partition-archive" is not a partition suffix: the topic is one of
	// its own, and its exact entry wins over "orders".
	r = load(map[string]any{"topicToStreamMap": map[string]any{"orders": "A", "orders-partition-archive": "B"}})
	check(r, "persistent://public/default/orders-partition-archive", "B")
	check(r, "persistent://public/default/orders-partition-7", "A")
	check(r, "persistent://public/default/orders-partition-archive-partition-1", "B")
	check(r, "persistent://public/default/orders-partition-", "")
	check(r, "persistent://public/default/orders-partition-1x", "")
}
