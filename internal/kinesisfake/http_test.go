package kinesisfake_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
)

// serve starts the model's handler and returns an SDK client for it, with
// the SDK's retries off so that each call is one request.
func serve(t testing.TB, m *kinesisfake.Model) *kinesis.Client {
	t.Helper()
	return sdkClient(serveURL(t, m))
}

func serveURL(t testing.TB, m *kinesisfake.Model) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func sdkClient(endpoint string) *kinesis.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }, APIOptions: sdkbody.APIOptions()}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func TestHTTPWithSDKClient(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	c := serve(t, m)
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(3), MaxRecordSizeInKiB: aws.Int32(2048)}); err != nil {
		t.Fatal(err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	s := sum.StreamDescriptionSummary
	if aws.ToInt32(s.MaxRecordSizeInKiB) != 2048 || aws.ToInt32(s.OpenShardCount) != 3 || s.StreamStatus != types.StreamStatusActive ||
		aws.ToString(s.StreamARN) != "arn:aws:kinesis:us-east-1:000000000000:stream/s" || aws.ToTime(s.StreamCreationTimestamp).IsZero() {
		t.Errorf("summary over HTTP: %+v", s)
	}
	recs := entries(30, "k", 5)
	recs[0].Data = []byte{0, 1, 2, 0xff}
	recs[1].ExplicitHashKey = aws.String("0")
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: recs})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 30 {
		t.Fatalf("PutRecords over HTTP: %v %v", out, err)
	}
	st := m.Stream("s")
	for i, r := range out.Records {
		want, _ := st.ShardFor(*recs[i].PartitionKey, aws.ToString(recs[i].ExplicitHashKey))
		if *r.ShardId != want || aws.ToString(r.SequenceNumber) == "" {
			t.Errorf("entry %d: %s, want %s", i, *r.ShardId, want)
		}
	}
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil || len(ls.Shards) != 3 || aws.ToString(ls.Shards[2].HashKeyRange.EndingHashKey) != maxHash {
		t.Fatalf("ListShards over HTTP: %v", err)
	}
	n := 0
	for _, sh := range ls.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		gr, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10000)})
		if err != nil {
			t.Fatal(err)
		}
		want := st.ShardRecords(*sh.ShardId)
		for i, r := range gr.Records {
			if string(r.Data) != string(want[i].Data) || *r.SequenceNumber != want[i].SequenceNumber || aws.ToTime(r.ApproximateArrivalTimestamp).Sub(want[i].ArrivalTime).Abs() > time.Millisecond {
				t.Errorf("GetRecords %s[%d] over HTTP differs from read-back", *sh.ShardId, i)
			}
		}
		n += len(gr.Records)
	}
	if n != 30 {
		t.Errorf("read %d records over HTTP, want 30", n)
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("nope"), Records: recs[:1]})
	var nf *types.ResourceNotFoundException
	if code, status := codeOf(err); !errors.As(err, &nf) || status != 400 || nf.ErrorMessage() != "Stream nope under account 000000000000 not found." {
		t.Errorf("missing stream over HTTP: %v (%s %d)", err, code, status)
	}
}

func TestHTTPFaults(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	st := m.MustCreateStream("s", 1)
	c := serve(t, m)
	m.SetFaults(kinesisfake.Rules{ResetAfterWriteRequests: []int64{1}, TimeoutRequests: []int64{2}, ErrorRequests: []int64{3},
		Error: &kinesisfake.APIError{Code: "ServiceUnavailable", Message: "slow down", Status: 503}}.Func())
	ctx := context.Background()
	in := &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(2, "k", 1)}
	if _, err := c.PutRecords(ctx, in); err == nil || len(st.Records()) != 2 {
		t.Errorf("reset after write: %v, %d stored", err, len(st.Records()))
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := c.PutRecords(tctx, in); !errors.Is(err, context.DeadlineExceeded) || len(st.Records()) != 2 {
		t.Errorf("timeout: %v", err)
	}
	if _, err := c.PutRecords(ctx, in); func() bool { code, s := codeOf(err); return code != "ServiceUnavailable" || s != 503 }() {
		t.Errorf("503: %v", err)
	}
	if out, err := c.PutRecords(ctx, in); err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Errorf("request 4: %v", err)
	}
}
