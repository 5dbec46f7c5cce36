package kinesisfake_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

// AcceptAll answers the SDK as Kinesis would answer a one-shard stream
// that takes everything: a result per entry, in order, and ListShards
// listed or denied.
func TestAcceptAll(t *testing.T) {
	for _, shardMap := range []bool{true, false} {
		srv := httptest.NewServer(kinesisfake.AcceptAll(shardMap))
		t.Cleanup(srv.Close)
		c := sdkClient(srv.URL)
		ctx := context.Background()
		for _, n := range []int{1, 7, 500} {
			in := &kinesis.PutRecordsInput{StreamName: aws.String("any")}
			for i := range n {
				in.Records = append(in.Records, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte(`{"PartitionKey":1}`)})
			}
			out, err := c.PutRecords(ctx, in)
			if err != nil || len(out.Records) != n || aws.ToInt32(out.FailedRecordCount) != 0 {
				t.Fatalf("%d entries: %v, %d results", n, err, len(out.Records))
			}
			for _, r := range out.Records {
				if aws.ToString(r.ShardId) != "shardId-000000000000" || aws.ToString(r.SequenceNumber) == "" {
					t.Fatalf("result %+v", r)
				}
			}
		}
		if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("any")}); err != nil {
			t.Fatal(err)
		}
		ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("any")})
		switch {
		case shardMap && (err != nil || len(ls.Shards) != 1):
			t.Errorf("ListShards: %v", err)
		case !shardMap && (err == nil || !strings.Contains(err.Error(), "AccessDeniedException")):
			t.Errorf("ListShards without a shard map: %v, want AccessDeniedException", err)
		}
	}
}
