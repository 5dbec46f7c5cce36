package kinesisfake_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

func putErr(ctx context.Context, c *kinesisfake.Client, stream string, recs []types.PutRecordsRequestEntry) (*kinesis.PutRecordsOutput, error) {
	return c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs})
}

func isTransport(err error) bool {
	var se *smithyhttp.RequestSendError
	return errors.As(err, &se) && !errors.Is(err, context.DeadlineExceeded)
}

func TestHookSeesRequests(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	st := m.MustCreateStream("s", 4)
	var seen []*kinesisfake.Request
	m.SetFaults(func(r *kinesisfake.Request) kinesisfake.Fault {
		seen = append(seen, r)
		return kinesisfake.Fault{}
	})
	c := m.Client()
	recs := entries(3, "k", 7)
	put(t, c, "s", recs)
	put(t, c, "s", recs[:1])
	listShards(t, c, "s")
	if len(seen) != 3 {
		t.Fatalf("hook saw %d calls", len(seen))
	}
	if seen[0].Op != "PutRecords" || seen[0].N != 1 || seen[1].N != 2 || seen[2].Op != "ListShards" || seen[2].N != 1 {
		t.Errorf("ops and numbers: %+v %+v %+v", seen[0], seen[1], seen[2])
	}
	for i, e := range seen[0].Entries {
		want, _ := st.ShardFor(*recs[i].PartitionKey, "")
		if e.PartitionKey != *recs[i].PartitionKey || e.Size != 7+len(e.PartitionKey) || e.ShardID != want || seen[0].Stream != "s" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
}

// TestRequestFaults checks each fault's answer as the SDK would give it,
// and whether the entries were written.
func TestRequestFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   kinesisfake.Fault
		written bool
		check   func(error) bool
	}{
		{"unreachable", kinesisfake.Fault{Unreachable: true}, false, isTransport},
		{"reset", kinesisfake.Fault{Reset: true}, false, isTransport},
		{"timeout", kinesisfake.Fault{Timeout: true}, false, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"error 503", kinesisfake.Fault{Error: &kinesisfake.APIError{Code: "ServiceUnavailable", Message: "busy", Status: 503}}, false,
			func(err error) bool {
				code, status := codeOf(err)
				return code == "ServiceUnavailable" && status == 503
			}},
		{"error throttled", kinesisfake.Fault{Error: &kinesisfake.APIError{Code: kinesisfake.CodeThrottled, Message: "Rate exceeded"}}, false,
			func(err error) bool {
				var pt *types.ProvisionedThroughputExceededException
				_, status := codeOf(err)
				return errors.As(err, &pt) && status == 400
			}},
		{"error 500 default status", kinesisfake.Fault{Error: &kinesisfake.APIError{Code: kinesisfake.CodeInternalFailureReq}}, false,
			func(err error) bool { _, status := codeOf(err); return status == 500 }},
		{"timeout after write", kinesisfake.Fault{TimeoutAfterWrite: true}, true, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"reset after write", kinesisfake.Fault{ResetAfterWrite: true}, true, isTransport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := kinesisfake.New(kinesisfake.Config{Faults: func(*kinesisfake.Request) kinesisfake.Fault { return tc.fault }})
				st := m.MustCreateStream("s", 1)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				start := time.Now()
				out, err := putErr(ctx, m.Client(), "s", entries(3, "k", 1))
				if out != nil || !tc.check(err) {
					t.Fatalf("answer %v, %v", out, err)
				}
				if n := len(st.Records()); (n == 3) != tc.written || (n != 0 && n != 3) {
					t.Fatalf("%d records written, want written=%v", n, tc.written)
				}
				timeout := tc.fault.Timeout || tc.fault.TimeoutAfterWrite
				if waited := time.Since(start); (waited == 2*time.Second) != timeout {
					t.Errorf("the call took %v", waited)
				}
			})
		})
	}
}

func TestEntryFaultsAndDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{Faults: func(*kinesisfake.Request) kinesisfake.Fault {
			return kinesisfake.Fault{EntryErrors: []string{"", kinesisfake.CodeInternalFailure, kinesisfake.CodeThrottled}, Delay: 300 * time.Millisecond}
		}})
		st := m.MustCreateStream("s", 1)
		var out *kinesis.PutRecordsOutput
		var wg sync.WaitGroup
		wg.Go(func() { out = put(t, m.Client(), "s", entries(4, "k", 1)) })
		// The write happens before the delayed answer.
		synctest.Wait()
		if n := len(st.Records()); n != 2 {
			t.Fatalf("%d records stored before the answer, want 2", n)
		}
		start := time.Now()
		wg.Wait()
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Errorf("answer after %v", d)
		}
		codes := []string{}
		for _, r := range out.Records {
			codes = append(codes, aws.ToString(r.ErrorCode))
		}
		if !slices.Equal(codes, []string{"", "InternalFailure", "ProvisionedThroughputExceededException", ""}) || aws.ToInt32(out.FailedRecordCount) != 2 {
			t.Errorf("codes %v, failed %d", codes, aws.ToInt32(out.FailedRecordCount))
		}
		if msg := aws.ToString(out.Records[1].ErrorMessage); msg != "Internal service failure." {
			t.Errorf("InternalFailure message %q", msg)
		}
		if c := m.Counters(); c.EntriesFaulted != 2 || c.EntriesStored != 2 {
			t.Errorf("counters %+v", c)
		}
		// A context that ends during the delay gets its error; the entries
		// are stored all the same.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := putErr(ctx, m.Client(), "s", entries(1, "z", 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("delayed past the deadline: %v", err)
		}
		if n := len(st.Records()); n != 3 {
			t.Errorf("%d records, want 3", n)
		}
	})
}

func TestHookMayReshard(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	st := m.MustCreateStream("s", 1)
	m.SetFaults(func(r *kinesisfake.Request) kinesisfake.Fault {
		if r.Op == "PutRecords" && r.N == 2 {
			if _, err := st.SplitEvenly("shardId-000000000000"); err != nil {
				t.Error(err)
			}
		}
		return kinesisfake.Fault{}
	})
	c := m.Client()
	first := put(t, c, "s", entries(5, "k", 1))
	second := put(t, c, "s", entries(5, "k", 1))
	for i := range 5 {
		if *first.Records[i].ShardId != "shardId-000000000000" || *second.Records[i].ShardId == "shardId-000000000000" {
			t.Errorf("k%d: %s then %s", i, *first.Records[i].ShardId, *second.Records[i].ShardId)
		}
	}
}

func TestRulesNamedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rules := kinesisfake.Rules{
			Seed:                    7,
			ResetFraction:           1, // drawn for every request, pre-empted on named ones
			ErrorRequests:           []int64{1},
			ResetAfterWriteRequests: []int64{2},
			ThrottleRequests:        []int64{3},
			TimeoutRequests:         []int64{4},
			DelayRequests:           []int64{5},
			Delay:                   time.Second,
		}
		m := kinesisfake.New(kinesisfake.Config{Faults: rules.Func()})
		st := m.MustCreateStream("s", 1)
		c := m.Client()
		call := func() (*kinesis.PutRecordsOutput, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return putErr(ctx, c, "s", entries(2, "k", 1))
		}
		if _, err := call(); func() bool { code, st := codeOf(err); return code != kinesisfake.CodeInternalFailureReq || st != 500 }() {
			t.Errorf("request 1: %v", err)
		}
		if _, err := call(); !isTransport(err) || len(st.Records()) != 2 {
			t.Errorf("request 2: %v, %d stored", err, len(st.Records()))
		}
		if out, err := call(); err != nil || aws.ToInt32(out.FailedRecordCount) != 2 {
			t.Errorf("request 3: %v", err)
		}
		start := time.Now()
		if _, err := call(); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Errorf("request 4: %v after %v", err, time.Since(start))
		}
		start = time.Now()
		if out, err := call(); err != nil || aws.ToInt32(out.FailedRecordCount) != 0 || time.Since(start) != time.Second {
			t.Errorf("request 5: %v after %v", err, time.Since(start))
		}
		if _, err := call(); !isTransport(err) {
			t.Errorf("request 6 (drawn reset): %v", err)
		}
	})
}

func TestRulesFractionsAreSeeded(t *testing.T) {
	run := func(seed uint64) []string {
		m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true, Faults: kinesisfake.Rules{Seed: seed, ThrottleFraction: 0.3, InternalFailureFraction: 0.1}.Func()})
		m.MustCreateStream("s", 2)
		var codes []string
		for range 20 {
			out := put(t, m.Client(), "s", entries(50, "k", 1))
			for _, r := range out.Records {
				codes = append(codes, aws.ToString(r.ErrorCode))
			}
		}
		return codes
	}
	a, b, other := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Error("one seed, two fault sequences")
	}
	if slices.Equal(a, other) {
		t.Error("two seeds, one fault sequence")
	}
	thr, fail := 0, 0
	for _, c := range a {
		switch c {
		case kinesisfake.CodeThrottled:
			thr++
		case kinesisfake.CodeInternalFailure:
			fail++
		}
	}
	// 1,000 entries: 30% throttled, 10% of the rest failed.
	if thr < 240 || thr > 360 || fail < 40 || fail > 100 {
		t.Errorf("throttled %d, failed %d of 1000", thr, fail)
	}
}

func TestRulesOutages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
		st := m.MustCreateStream("s", 2)
		m.SetFaults(kinesisfake.Rules{
			ShardOutages:     []kinesisfake.ShardOutage{{Stream: "s", ShardID: "shardId-000000000001", Until: now.Add(2 * time.Second), Code: kinesisfake.CodeInternalFailure}},
			UnreachableUntil: now.Add(time.Second),
			ListShardsError:  &kinesisfake.APIError{Code: kinesisfake.CodeAccessDenied, Message: "not allowed"},
		}.Func())
		c := m.Client()
		if _, err := putErr(context.Background(), c, "s", entries(10, "k", 1)); !isTransport(err) {
			t.Fatalf("during the outage: %v", err)
		}
		time.Sleep(time.Second)
		out := put(t, c, "s", entries(10, "k", 1))
		for i, r := range out.Records {
			want, _ := st.ShardFor("k"+itoa(i), "")
			if failed := r.ErrorCode != nil; failed != (want == "shardId-000000000001") {
				t.Errorf("k%d on %s: code %v", i, want, aws.ToString(r.ErrorCode))
			}
		}
		time.Sleep(time.Second)
		if out := put(t, c, "s", entries(10, "k", 1)); aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Errorf("after the shard outage: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
		_, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")})
		if code, status := codeOf(err); code != kinesisfake.CodeAccessDenied || status != 400 {
			t.Errorf("ListShards: %v", err)
		}
	})
}
