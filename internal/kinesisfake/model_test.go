package kinesisfake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// The in-memory client is what the producer takes.
var _ producer.PutRecordsAPI = (*kinesisfake.Client)(nil)

func entry(pk string, data string) types.PutRecordsRequestEntry {
	return types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: []byte(data)}
}

func entries(n int, prefix string, size int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(prefix + strconv.Itoa(i)), Data: make([]byte, size)}
	}
	return out
}

func put(t *testing.T, c *kinesisfake.Client, stream string, recs []types.PutRecordsRequestEntry) *kinesis.PutRecordsOutput {
	t.Helper()
	out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	return out
}

// codeOf returns an SDK error's API code and HTTP status.
func codeOf(err error) (string, int) {
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	code, status := "", 0
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func TestRoutingAndOrder(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	st := m.MustCreateStream("s", 4)
	c := m.Client()
	recs := entries(200, "k", 10)
	recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String("x"), ExplicitHashKey: aws.String("0"), Data: []byte("first shard")},
		types.PutRecordsRequestEntry{PartitionKey: aws.String("x"), ExplicitHashKey: aws.String(kpl.Hash{Hi: ^uint64(0), Lo: ^uint64(0)}.String()), Data: []byte("last shard")})
	out := put(t, c, "s", recs)
	if aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("FailedRecordCount %d", aws.ToInt32(out.FailedRecordCount))
	}
	shards := st.OpenShards()
	for i, r := range out.Records {
		e := recs[i]
		h, _ := kpl.RecordHash(*e.PartitionKey, aws.ToString(e.ExplicitHashKey))
		want := ""
		for _, s := range shards {
			lo, _ := kpl.ParseHash(s.StartingHashKey)
			hi, _ := kpl.ParseHash(s.EndingHashKey)
			if lo.Cmp(h) <= 0 && h.Cmp(hi) <= 0 {
				want = s.ID
			}
		}
		if got := aws.ToString(r.ShardId); got != want {
			t.Errorf("entry %d (%s): shard %s, want %s", i, *e.PartitionKey, got, want)
		}
	}
	if got := aws.ToString(out.Records[200].ShardId); got != "shardId-000000000000" {
		t.Errorf("hash key 0 went to %s", got)
	}
	if got := aws.ToString(out.Records[201].ShardId); got != "shardId-000000000003" {
		t.Errorf("hash key 2^128-1 went to %s", got)
	}
	// Per shard, records are stored in request order with increasing
	// sequence numbers.
	stored := st.Records()
	if len(stored) != len(recs) {
		t.Fatalf("stored %d records, want %d", len(stored), len(recs))
	}
	for _, s := range shards {
		rs := st.ShardRecords(s.ID)
		for i := 1; i < len(rs); i++ {
			if rs[i].SequenceNumber <= rs[i-1].SequenceNumber {
				t.Fatalf("shard %s: sequence numbers not increasing: %s then %s", s.ID, rs[i-1].SequenceNumber, rs[i].SequenceNumber)
			}
		}
		var wantOrder, gotOrder []string
		for i, r := range out.Records {
			if aws.ToString(r.ShardId) == s.ID {
				wantOrder = append(wantOrder, string(recs[i].Data)+"/"+*recs[i].PartitionKey)
			}
		}
		for _, r := range rs {
			gotOrder = append(gotOrder, string(r.Data)+"/"+r.PartitionKey)
		}
		if !slices.Equal(wantOrder, gotOrder) {
			t.Errorf("shard %s: stored %v, want %v", s.ID, gotOrder, wantOrder)
		}
	}
	// The answer's sequence numbers are the stored ones.
	for i, r := range out.Records {
		found := false
		for _, s := range st.ShardRecords(aws.ToString(r.ShardId)) {
			found = found || s.SequenceNumber == aws.ToString(r.SequenceNumber) && s.PartitionKey == *recs[i].PartitionKey
		}
		if !found {
			t.Errorf("entry %d: sequence number %s not stored", i, aws.ToString(r.SequenceNumber))
		}
	}
}

func TestStreamByARN(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	st := m.MustCreateStream("orders", 2)
	c := m.Client()
	ctx := context.Background()
	if st.ARN() != "arn:aws:kinesis:us-east-1:000000000000:stream/orders" {
		t.Fatalf("ARN %s", st.ARN())
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(st.ARN()), Records: []types.PutRecordsRequestEntry{entry("a", "1")}})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords by ARN: %v", err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(st.ARN())})
	if err != nil {
		t.Fatal(err)
	}
	s := sum.StreamDescriptionSummary
	if aws.ToString(s.StreamName) != "orders" || s.StreamStatus != types.StreamStatusActive || aws.ToInt32(s.OpenShardCount) != 2 || aws.ToInt32(s.MaxRecordSizeInKiB) != 1024 {
		t.Errorf("summary: %+v", s)
	}
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: aws.String(st.ARN())})
	if err != nil || len(ls.Shards) != 2 {
		t.Fatalf("ListShards by ARN: %v %v", ls, err)
	}
	for _, arn := range []string{"arn:aws:kinesis:eu-west-1:000000000000:stream/orders", "arn:aws:kinesis:us-east-1:111111111111:stream/orders"} {
		_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: []types.PutRecordsRequestEntry{entry("a", "1")}})
		if code, _ := codeOf(err); code != kinesisfake.CodeResourceNotFound {
			t.Errorf("%s: %v, want ResourceNotFoundException", arn, err)
		}
	}
	if m.Stream(st.ARN()) != st || m.Stream("orders") != st || m.Stream("nope") != nil {
		t.Error("Stream lookup by name or ARN")
	}
}

func TestListShardsPages(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	m.MustCreateStream("s", 5)
	c := m.Client()
	ctx := context.Background()
	var ids []string
	in := &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(2)}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		out, err := c.ListShards(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Shards {
			ids = append(ids, *s.ShardId)
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(2)}
	}
	want := []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002", "shardId-000000000003", "shardId-000000000004"}
	if !slices.Equal(ids, want) {
		t.Errorf("pages listed %v", ids)
	}
	_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), NextToken: aws.String("x")})
	if code, _ := codeOf(err); code != kinesisfake.CodeInvalidArgument {
		t.Errorf("StreamName with NextToken: %v", err)
	}
}

func TestReadBack(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	st := m.MustCreateStream("s", 2)
	c := m.Client()
	var agg kpl.Aggregator
	agg.Add("u1", "", []byte("one"))
	agg.Add("u2", "", []byte("two"))
	blob := agg.AppendTo(nil)
	put(t, c, "s", []types.PutRecordsRequestEntry{entry("plain", "p"), {PartitionKey: aws.String("a"), Data: blob}})
	users, err := st.UserRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, fmt.Sprintf("%s=%s/%v", u.PartitionKey, u.Data, u.Aggregated))
	}
	slices.Sort(got)
	if want := []string{"plain=p/false", "u1=one/true", "u2=two/true"}; !slices.Equal(got, want) {
		t.Errorf("user records %v, want %v", got, want)
	}

	// The API readers see the same records.
	ctx := context.Background()
	n := 0
	for _, s := range st.Shards() {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(s.ID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		if out.NextShardIterator == nil {
			t.Error("an open shard has a next iterator")
		}
		want := st.ShardRecords(s.ID)
		for i, r := range out.Records {
			if aws.ToString(r.SequenceNumber) != want[i].SequenceNumber || string(r.Data) != string(want[i].Data) {
				t.Errorf("GetRecords %s[%d] differs from read-back", s.ID, i)
			}
		}
		n += len(out.Records)
	}
	if n != 2 {
		t.Errorf("GetRecords read %d records, want 2", n)
	}
}

func TestDiscardAndOnStored(t *testing.T) {
	var seen []string
	m := kinesisfake.New(kinesisfake.Config{Discard: true, OnStored: func(stream string, r kinesisfake.Record) {
		seen = append(seen, stream+"/"+r.PartitionKey)
	}})
	st := m.MustCreateStream("s", 1)
	out := put(t, m.Client(), "s", []types.PutRecordsRequestEntry{entry("a", "1"), entry("b", "2")})
	if aws.ToString(out.Records[1].SequenceNumber) <= aws.ToString(out.Records[0].SequenceNumber) {
		t.Error("sequence numbers not increasing")
	}
	if len(st.Records()) != 0 {
		t.Error("Discard kept records")
	}
	if !slices.Equal(seen, []string{"s/a", "s/b"}) {
		t.Errorf("OnStored saw %v", seen)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func TestStreamStatus(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	st := m.MustCreateStream("s", 1)
	c := m.Client()
	ctx := context.Background()
	for _, tc := range []struct {
		status    types.StreamStatus
		putCode   string
		splitCode string
	}{
		{types.StreamStatusCreating, kinesisfake.CodeResourceNotFound, kinesisfake.CodeResourceInUse},
		{types.StreamStatusUpdating, "", kinesisfake.CodeResourceInUse},
		{types.StreamStatusDeleting, kinesisfake.CodeResourceNotFound, kinesisfake.CodeResourceInUse},
		{types.StreamStatusActive, "", ""},
	} {
		st.SetStatus(tc.status)
		sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		if err != nil || sum.StreamDescriptionSummary.StreamStatus != tc.status {
			t.Errorf("%s: described as %v, %v", tc.status, sum.StreamDescriptionSummary.StreamStatus, err)
		}
		_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(1, "k", 1)})
		if code, _ := codeOf(err); code != tc.putCode {
			t.Errorf("%s: PutRecords %v, want %q", tc.status, err, tc.putCode)
		}
		_, err = st.SplitEvenly(st.OpenShards()[0].ID)
		if code, _ := codeOf(err); code != tc.splitCode {
			t.Errorf("%s: split %v, want %q", tc.status, err, tc.splitCode)
		}
	}
}
