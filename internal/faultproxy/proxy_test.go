package faultproxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
)

func kinesisEndpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("KINESIS_ENDPOINT")
	if ep == "" {
		if os.Getenv("KS_REQUIRE_SERVICES") == "1" {
			t.Fatal("KINESIS_ENDPOINT is not set and KS_REQUIRE_SERVICES=1; run scripts/local-env.sh")
		}
		t.Skip("KINESIS_ENDPOINT is not set (needs kinesalite)")
	}
	return ep
}

// client talks to endpoint without SDK retries, so that every injected
// fault reaches the test.
func client(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      aws.NopRetryer{},
		APIOptions:   sdkbody.APIOptions(),
	})
}

type env struct {
	direct, viaProxy *kinesis.Client
	proxy            *faultproxy.Proxy
	stream           string
	shards           []types.Shard
}

func newEnv(t *testing.T, shards int32, seed uint64) *env {
	t.Helper()
	ep := kinesisEndpoint(t)
	direct := client(ep)
	var b [6]byte
	_, _ = rand.Read(b[:])
	stream := "faultproxy-test-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := direct.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = direct.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
	})
	w := kinesis.NewStreamExistsWaiter(direct, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	ls, err := direct.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.New(ep, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	return &env{direct: direct, viaProxy: client(px.URL()), proxy: px, stream: stream, shards: ls.Shards}
}

// shardOf routes like Kinesis, from the shard list the test got directly.
func (e *env) shardOf(t *testing.T, key string) string {
	h, err := faultproxy.HashKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.shards {
		lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
		hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
		if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
			return *s.ShardId
		}
	}
	t.Fatalf("no shard for %q", key)
	return ""
}

func entries(n int, prefix string) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("%s-%d", prefix, i)), Data: []byte(fmt.Sprintf("%s-data-%d", prefix, i))}
	}
	return out
}

func (e *env) put(t *testing.T, recs []types.PutRecordsRequestEntry) (*kinesis.PutRecordsOutput, error) {
	t.Helper()
	return e.viaProxy.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: recs})
}

// stored reads every record of the stream back, keyed by data.
func (e *env) stored(t *testing.T) map[string]types.Record {
	t.Helper()
	out := map[string]types.Record{}
	for _, s := range e.shards {
		it, err := e.direct.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String(e.stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := e.direct.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs.Records {
			if _, dup := out[string(r.Data)]; dup {
				t.Fatalf("record %q stored twice", r.Data)
			}
			out[string(r.Data)] = r
		}
	}
	return out
}

// Dropped entries are answered as throttled, index-aligned, counted in
// FailedRecordCount and naming the right shard; exactly the others are
// stored, with the sequence numbers the response reports.
func TestDropIsIndexAligned(t *testing.T) {
	e := newEnv(t, 3, 11)
	e.proxy.SetRules(faultproxy.Rules{DropFraction: 0.4})
	in := entries(300, "drop")
	out, err := e.put(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != len(in) {
		t.Fatalf("%d results for %d entries", len(out.Records), len(in))
	}
	stored := e.stored(t)
	failed := 0
	for i, r := range out.Records {
		key := *in[i].PartitionKey
		if r.ErrorCode != nil {
			failed++
			want := fmt.Sprintf("Rate exceeded for shard %s in stream %s under account", e.shardOf(t, key), e.stream)
			if *r.ErrorCode != faultproxy.CodeThrottled || !strings.HasPrefix(*r.ErrorMessage, want) {
				t.Fatalf("entry %d: %s %s", i, *r.ErrorCode, *r.ErrorMessage)
			}
			if _, ok := stored[string(in[i].Data)]; ok {
				t.Fatalf("entry %d reported failed but stored", i)
			}
			continue
		}
		s, ok := stored[string(in[i].Data)]
		if !ok {
			t.Fatalf("entry %d reported stored but missing", i)
		}
		if *r.ShardId != e.shardOf(t, key) || *r.SequenceNumber != *s.SequenceNumber {
			t.Fatalf("entry %d: response %s/%s, stored %s", i, *r.ShardId, *r.SequenceNumber, *s.SequenceNumber)
		}
	}
	if int(*out.FailedRecordCount) != failed || failed < 90 || failed > 150 {
		t.Fatalf("FailedRecordCount %d, failed entries %d (of 300 at 40%%)", *out.FailedRecordCount, failed)
	}
	if len(stored) != len(in)-failed {
		t.Fatalf("%d stored, want %d", len(stored), len(in)-failed)
	}
	c := e.proxy.Counters()
	if c.EntriesDropped != int64(failed) || c.EntriesForwarded != int64(len(in)-failed) || c.PutRecords != 1 {
		t.Fatalf("counters %+v", c)
	}

	// All entries dropped: answered without forwarding.
	e.proxy.SetRules(faultproxy.Rules{DropFraction: 1, DropCode: faultproxy.CodeInternalFailure})
	out, err = e.put(t, entries(5, "all"))
	if err != nil {
		t.Fatal(err)
	}
	if *out.FailedRecordCount != 5 || *out.Records[4].ErrorCode != "InternalFailure" || *out.Records[4].ErrorMessage != "Internal service failure." {
		t.Fatalf("all dropped: %+v", out.Records[4])
	}
}

// A shard outage fails exactly that shard's entries while it lasts.
func TestShardOutage(t *testing.T) {
	e := newEnv(t, 2, 1)
	down := *e.shards[0].ShardId
	e.proxy.SetRules(faultproxy.Rules{ShardOutages: []faultproxy.ShardOutage{{Stream: e.stream, ShardID: down, Until: time.Now().Add(time.Hour)}}})
	in := entries(100, "so")
	out, err := e.put(t, in)
	if err != nil {
		t.Fatal(err)
	}
	nDown := 0
	for i, r := range out.Records {
		isDown := e.shardOf(t, *in[i].PartitionKey) == down
		if isDown != (r.ErrorCode != nil) {
			t.Fatalf("entry %d (shard down: %v): %+v", i, isDown, r)
		}
		if isDown {
			nDown++
		}
	}
	if nDown == 0 || nDown == 100 || int(*out.FailedRecordCount) != nDown {
		t.Fatalf("%d entries on the failed shard, FailedRecordCount %d", nDown, *out.FailedRecordCount)
	}
	if s, err := e.proxy.ShardFor(context.Background(), e.stream, *in[0].PartitionKey, ""); err != nil || s != e.shardOf(t, *in[0].PartitionKey) {
		t.Fatalf("ShardFor: %s, %v", s, err)
	}
	e.proxy.SetRules(faultproxy.Rules{})
	out, err = e.put(t, entries(100, "after"))
	if err != nil || *out.FailedRecordCount != 0 {
		t.Fatalf("after the outage: %v, %v", err, out)
	}
}

// Whole-request faults: HTTP errors carry the status and code the SDK
// classifies by; resets before forwarding write nothing, after forwarding
// write everything; a delay beyond the client's deadline still writes.
func TestRequestFaults(t *testing.T) {
	e := newEnv(t, 1, 1)

	e.proxy.SetRules(faultproxy.Rules{ErrorFraction: 1, ErrorStatus: 503})
	_, err := e.put(t, entries(3, "e503"))
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("503: %v", err)
	}
	e.proxy.SetRules(faultproxy.Rules{ErrorFraction: 1, ErrorStatus: 400, ErrorCode: "AccessDeniedException"})
	_, err = e.put(t, entries(3, "denied"))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("access denied: %v", err)
	}
	e.proxy.SetRules(faultproxy.Rules{ErrorFraction: 1})
	_, err = e.put(t, entries(3, "e500"))
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalFailure" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("500: %v", err)
	}

	e.proxy.SetRules(faultproxy.Rules{ResetFraction: 1})
	if _, err = e.put(t, entries(3, "reset")); err == nil || errors.As(err, &re) && re.Response != nil && re.HTTPStatusCode() != 0 {
		t.Fatalf("reset before forwarding: %v", err)
	}
	e.proxy.SetRules(faultproxy.Rules{ResetAfterForwardFraction: 1})
	if _, err = e.put(t, entries(3, "lost")); err == nil {
		t.Fatal("reset after forwarding: no error")
	}
	e.proxy.SetRules(faultproxy.Rules{DelayFraction: 1, Delay: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = e.viaProxy.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: entries(3, "slow")})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v", err)
	}

	stored := e.stored(t)
	for _, prefix := range []string{"e503", "denied", "e500", "reset"} {
		if _, ok := stored[prefix+"-data-0"]; ok {
			t.Errorf("%s: written although the request was not forwarded", prefix)
		}
	}
	for _, prefix := range []string{"lost", "slow"} {
		for i := range 3 {
			if _, ok := stored[fmt.Sprintf("%s-data-%d", prefix, i)]; !ok {
				t.Errorf("%s: entry %d not written although forwarded", prefix, i)
			}
		}
	}
	c := e.proxy.Counters()
	if c.HTTPErrors != 3 || c.Resets != 1 || c.ResetsAfterWrite != 1 || c.Delayed != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// While unreachable, every call fails at the connection level; afterwards
// calls pass again. Non-PutRecords calls are passed through untouched.
func TestUnreachableAndPassThrough(t *testing.T) {
	e := newEnv(t, 1, 1)
	ctx := context.Background()
	sum, err := e.viaProxy.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(e.stream)})
	if err != nil || *sum.StreamDescriptionSummary.StreamName != e.stream {
		t.Fatalf("pass-through: %v", err)
	}
	// A window that outlasts any slow machine: a short one could end
	// before the calls below were made.
	e.proxy.SetRules(faultproxy.Rules{UnreachableUntil: time.Now().Add(time.Hour)})
	if _, err := e.viaProxy.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(e.stream)}); err == nil {
		t.Fatal("call succeeded while unreachable")
	}
	if _, err := e.put(t, entries(2, "down")); err == nil {
		t.Fatal("put succeeded while unreachable")
	}
	// The window ends by the clock: calls pass again once it is over.
	until := time.Now().Add(100 * time.Millisecond)
	e.proxy.SetRules(faultproxy.Rules{UnreachableUntil: until})
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := e.put(t, entries(2, "up"))
		if err == nil {
			if time.Now().Before(until) {
				t.Fatal("put succeeded before the window ended")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after a 100 ms window: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := e.proxy.Counters(); c.Refused < 2 {
		t.Fatalf("counters %+v", c)
	}
}

// Hold parks PutRecords calls until Release.
func TestHold(t *testing.T) {
	e := newEnv(t, 1, 1)
	e.proxy.Hold()
	done := make(chan error, 1)
	go func() {
		_, err := e.put(t, entries(1, "held"))
		done <- err
	}()
	for e.proxy.Counters().Held == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("returned while held: %v", err)
	default:
	}
	e.proxy.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The same seed and the same requests give the same faults.
func TestDeterministic(t *testing.T) {
	pattern := func(seed uint64) string {
		e := newEnv(t, 2, seed)
		e.proxy.SetRules(faultproxy.Rules{DropFraction: 0.5})
		var b bytes.Buffer
		for range 3 {
			out, err := e.put(t, entries(40, "det"))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				if r.ErrorCode != nil {
					b.WriteByte('x')
				} else {
					b.WriteByte('.')
				}
			}
		}
		return b.String()
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatal("different seeds, same faults")
	}
}

// Scripted faults hit exactly the requests named, by number, and leave the
// fractions' draws where they were: the same seed drops the same entries
// of the other requests as without them. A named request meets no drawn
// fault, which could pre-empt its own.
func TestScriptedFaults(t *testing.T) {
	pattern := func(rules faultproxy.Rules) (string, faultproxy.Counters) {
		e := newEnv(t, 1, 5)
		e.proxy.SetRules(rules)
		var b strings.Builder
		for i := range 7 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if i+1 == 5 && len(rules.DelayRequests) > 0 {
				// The delayed one: the client gives up once the proxy holds
				// the answer, not on a clock, which a slow kinesalite could
				// beat by cancelling the forward itself.
				held := e.proxy.Counters().Delayed + 1
				go func() {
					for ctx.Err() == nil && e.proxy.Counters().Delayed < held {
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			}
			out, err := e.viaProxy.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: entries(20, fmt.Sprintf("s%d", i+1))})
			cancel()
			switch {
			case err != nil:
				b.WriteString(" E")
			default:
				b.WriteByte(' ')
				for _, r := range out.Records {
					if r.ErrorCode != nil {
						b.WriteByte('x')
					} else {
						b.WriteByte('.')
					}
				}
			}
		}
		stored := e.stored(t)
		for i := range 7 {
			if _, ok := stored[fmt.Sprintf("s%d-data-0", i+1)]; ok {
				b.WriteString(fmt.Sprintf(" w%d", i+1))
			}
		}
		return b.String(), e.proxy.Counters()
	}
	drawn := faultproxy.Rules{DropFraction: 0.3, Delay: time.Minute}
	scripted := drawn
	scripted.ResetAfterForwardRequests = []int64{2}
	scripted.ErrorRequests = []int64{3}
	scripted.ErrorStatus = 503
	scripted.ResetRequests = []int64{4}
	scripted.DelayRequests = []int64{5}
	scripted.DropRequests = []int64{6}
	base, _ := pattern(drawn)
	got, c := pattern(scripted)
	t.Logf("drawn only:%s\nscripted:  %s", base, got)

	b, g := strings.Fields(base), strings.Fields(got)
	if len(b) < 7 || len(g) < 7 {
		t.Fatalf("patterns: %q, %q", base, got)
	}
	// Requests 1 and 7 meet only the draws; 2-5 fail whole (5 by the
	// client's deadline), 6 has every entry dropped.
	for _, i := range []int{0, 6} {
		if g[i] != b[i] {
			t.Errorf("request %d: %s with scripted faults elsewhere, %s without", i+1, g[i], b[i])
		}
	}
	for i := 1; i <= 4; i++ {
		if g[i] != "E" {
			t.Errorf("request %d: %s, want an error", i+1, g[i])
		}
	}
	if g[5] != strings.Repeat("x", 20) {
		t.Errorf("request 6: %s, want every entry dropped", g[5])
	}
	// 2 and 5 were forwarded before their fault, so written.
	for _, w := range []string{"w2", "w5"} {
		if !slices.Contains(g[7:], w) {
			t.Errorf("%s missing from %v: forwarded requests are written", w, g[7:])
		}
	}
	for _, w := range []string{"w3", "w4", "w6"} {
		if slices.Contains(g[7:], w) {
			t.Errorf("%s in %v: a request answered without forwarding was written", w, g[7:])
		}
	}
	if c.PutRecords != 7 || c.ResetsAfterWrite != 1 || c.HTTPErrors != 1 || c.Resets != 1 || c.Delayed != 1 {
		t.Fatalf("counters %+v", c)
	}

	// A drawn reset before forwarding would leave no write to reset after.
	e := newEnv(t, 1, 5)
	e.proxy.SetRules(faultproxy.Rules{ResetFraction: 1, ResetAfterForwardRequests: []int64{1}})
	for i := range 2 {
		if _, err := e.put(t, entries(3, fmt.Sprintf("pre%d", i+1))); err == nil {
			t.Fatalf("request %d: no error", i+1)
		}
	}
	stored := e.stored(t)
	_, first := stored["pre1-data-0"]
	_, second := stored["pre2-data-0"]
	if c := e.proxy.Counters(); !first || second || c.ResetsAfterWrite != 1 || c.Resets != 1 {
		t.Fatalf("named request written: %v, drawn reset written: %v; counters %+v", first, second, c)
	}
}
