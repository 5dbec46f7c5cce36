package faultproxy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

// The injector's rules carried out inside the in-process model: the same
// decisions the proxy carries out over HTTP, here without any service.

type modelEnv struct {
	m      *kinesisfake.Model
	c      *kinesisfake.Client
	in     *faultproxy.Injector
	stream *kinesisfake.Stream
	now    time.Time
}

func newModelEnv(t *testing.T, shards int, seed uint64) *modelEnv {
	t.Helper()
	e := &modelEnv{in: faultproxy.NewInjector(seed), now: time.Unix(1_800_000_000, 0)}
	e.m = kinesisfake.New(kinesisfake.Config{NoShardLimit: true, Now: func() time.Time { return e.now }, Faults: e.in.ModelFault})
	e.c = e.m.Client()
	e.stream = e.m.MustCreateStream("inject", shards)
	return e
}

func (e *modelEnv) put(t *testing.T, keys ...string) (*kinesis.PutRecordsOutput, error) {
	t.Helper()
	in := &kinesis.PutRecordsInput{StreamName: aws.String("inject")}
	for _, k := range keys {
		in.Records = append(in.Records, types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: []byte("data-" + k)})
	}
	return e.c.PutRecords(context.Background(), in)
}

func keys(n int) []string {
	var ks []string
	for i := range n {
		ks = append(ks, fmt.Sprintf("k%d", i))
	}
	return ks
}

// Named requests meet exactly their faults, by number among the PutRecords
// calls; the store shows what was written.
func TestInjectorNamedRequests(t *testing.T) {
	e := newModelEnv(t, 2, 1)
	e.in.SetRules(faultproxy.Rules{ResetRequests: []int64{1}, ErrorRequests: []int64{2}, ErrorStatus: 503,
		ResetAfterForwardRequests: []int64{3}, DropRequests: []int64{4}})
	if _, err := e.put(t, "a"); err == nil {
		t.Fatal("request 1: no error, want a connection reset")
	}
	_, err := e.put(t, "b")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownError" {
		t.Fatalf("request 2: %v, want an HTTP 503 without a code (UnknownError, as the SDK reads it)", err)
	}
	if _, err := e.put(t, "c"); err == nil {
		t.Fatal("request 3: no error, want a reset after the write")
	}
	out, err := e.put(t, "d", "e")
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 2 {
		t.Fatalf("request 4: %v, failed %d, want both entries throttled", err, aws.ToInt32(out.FailedRecordCount))
	}
	for _, r := range out.Records {
		if aws.ToString(r.ErrorCode) != faultproxy.CodeThrottled || !strings.Contains(aws.ToString(r.ErrorMessage), "shardId-") {
			t.Errorf("request 4 entry: %s %q, want a throttling naming its shard", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
		}
	}
	if out, err := e.put(t, "f"); err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("request 5: %v, want it through", err)
	}
	var stored []string
	for _, r := range e.stream.Records() {
		stored = append(stored, r.PartitionKey)
	}
	if got := strings.Join(stored, ","); got != "c,f" && got != "f,c" {
		t.Errorf("stored %q, want c (written, answer lost) and f", got)
	}
	c := e.in.Counters()
	if c.PutRecords != 5 || c.Resets != 1 || c.HTTPErrors != 1 || c.ResetsAfterWrite != 1 || c.EntriesDropped != 2 || c.EntriesForwarded != 2 {
		t.Errorf("counters %+v", c)
	}
}

// One seed, one sequence of faults: two injectors seeded alike make the
// same decisions for the same calls, and another seed differs.
func TestInjectorDeterministic(t *testing.T) {
	run := func(seed uint64) string {
		e := newModelEnv(t, 4, seed)
		e.in.SetRules(faultproxy.Rules{DropFraction: 0.3, ErrorFraction: 0.1, ResetFraction: 0.1})
		var b strings.Builder
		for range 30 {
			out, err := e.put(t, keys(10)...)
			switch {
			case err != nil:
				b.WriteString("E")
			default:
				for _, r := range out.Records {
					if r.ErrorCode != nil {
						b.WriteString("x")
					} else {
						b.WriteString(".")
					}
				}
			}
			b.WriteString("|")
		}
		return b.String()
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Fatalf("seed 7 twice:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 gave the same faults: %s", a)
	}
	if !strings.Contains(a, "x") || !strings.Contains(a, "E") {
		t.Fatalf("no fault drawn in 30 requests: %s", a)
	}
}

// The shard limit counts per shard on the model's clock, and refills.
func TestInjectorShardLimit(t *testing.T) {
	e := newModelEnv(t, 1, 1)
	e.in.SetRules(faultproxy.Rules{ShardLimit: &faultproxy.ShardLimit{RecordsPerSecond: 10, BytesPerSecond: 1 << 20, Burst: 1}})
	out, err := e.put(t, keys(15)...)
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToInt32(out.FailedRecordCount); n != 5 {
		t.Fatalf("15 records on a 10/s shard: %d throttled, want 5", n)
	}
	e.now = e.now.Add(500 * time.Millisecond)
	out, _ = e.put(t, keys(10)...)
	if n := aws.ToInt32(out.FailedRecordCount); n != 5 {
		t.Fatalf("after half a second: %d of 10 throttled, want 5", n)
	}
	if c := e.in.Counters(); c.EntriesOverLimit != 10 || c.EntriesUnderLimit != 15 {
		t.Errorf("counters over %d under %d, want 10 and 15", c.EntriesOverLimit, c.EntriesUnderLimit)
	}
}

// A shard outage fails only its shard's entries until it ends; while
// unreachable every call is refused; FailListShards denies ListShards.
func TestInjectorOutagesAndRefusals(t *testing.T) {
	e := newModelEnv(t, 2, 1)
	down := e.stream.Shards()[1].ID
	e.in.SetRules(faultproxy.Rules{ShardOutages: []faultproxy.ShardOutage{{Stream: "inject", ShardID: down, Until: e.now.Add(time.Second)}}})
	ks := keys(40)
	out, err := e.put(t, ks...)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i, r := range out.Records {
		shard, _ := e.stream.ShardFor(ks[i], "")
		if (r.ErrorCode != nil) != (shard == down) {
			t.Errorf("entry %s on %s: error %v", ks[i], shard, aws.ToString(r.ErrorCode))
		}
		if r.ErrorCode != nil {
			failed++
		}
	}
	if failed == 0 || failed == len(ks) {
		t.Fatalf("%d of %d entries failed: the keys do not span both shards", failed, len(ks))
	}
	e.now = e.now.Add(time.Second)
	if out, _ := e.put(t, ks...); aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Errorf("after the outage: %d failed", aws.ToInt32(out.FailedRecordCount))
	}

	e.in.SetRules(faultproxy.Rules{UnreachableUntil: e.now.Add(time.Second), FailListShards: true})
	if _, err := e.put(t, "a"); err == nil {
		t.Error("unreachable: PutRecords went through")
	}
	e.now = e.now.Add(time.Second)
	_, err = e.c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("inject")})
	if !errors.As(err, new(smithy.APIError)) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("ListShards under FailListShards: %v", err)
	}
	c := e.in.Counters()
	if c.EntriesShardDown != int64(failed) || c.Refused != 1 || c.ListShardsFailed != 1 {
		t.Errorf("counters %+v", c)
	}
}

// Hold keeps PutRecords calls waiting until Release or their context ends.
func TestInjectorHold(t *testing.T) {
	in := faultproxy.NewInjector(1)
	in.Hold()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := in.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held wait ended with %v", err)
	}
	done := make(chan error)
	go func() { done <- in.Wait(context.Background()) }()
	for in.Counters().Held < 2 { // the second call is at the gate
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("a held call returned before Release: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	in.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
