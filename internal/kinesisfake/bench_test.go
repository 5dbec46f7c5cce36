package kinesisfake_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

// BenchmarkPutRecords is one full request of 500 small entries in memory:
// the model's cost per request in a simulation.
func BenchmarkPutRecords(b *testing.B) {
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true, Discard: true})
	m.MustCreateStream("s", 8)
	c := m.Client()
	in := &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(500, "key-", 100)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.PutRecords(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
