package producer_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// kinesisAPI is what the behaviour tests call on Kinesis: the SDK's client
// (kinesalite) and the in-process model's client both have it, so that one
// test body runs on either.
type kinesisAPI interface {
	producer.PutRecordsAPI
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	DescribeStream(ctx context.Context, in *kinesis.DescribeStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	SplitShard(ctx context.Context, in *kinesis.SplitShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
	MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
}

// onModel runs a behaviour test against a fresh in-process Kinesis model in
// a synctest bubble: no service, and linger, backoff and timeouts elapse on
// the fake clock. The model has no shard limits, as kinesalite has none, so
// that a test written for kinesalite means the same on it.
func onModel(t *testing.T, f func(t *testing.T, c kinesisAPI)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
		c := m.Client()
		models.Store(c, m)
		defer models.Delete(c)
		f(t, c)
	})
}

// onModelAndKinesalite runs it on the model and, when KINESIS_ENDPOINT is
// set, on kinesalite too: the tests kept for parity, so that the model and
// the emulator are seen to agree on what the producer relies on.
func onModelAndKinesalite(t *testing.T, f func(t *testing.T, c kinesisAPI)) {
	t.Helper()
	t.Run("model", func(t *testing.T) { onModel(t, f) })
	t.Run("kinesalite", func(t *testing.T) { f(t, newClient(kinesisEndpoint(t), producer.Options{})) })
}

// preparedProducerOn creates a stream of the given shards on c (the model's
// client or kinesalite's) and a producer with opts, and prepares the
// stream, so that its shard map is known before the first Put; preparedAt
// is when Prepare was called (the rate limiter's buckets start full then).
// The producer is closed when the test ends.
func preparedProducerOn(t testing.TB, c kinesisAPI, opts producer.Options, shards int32) (p *producer.Producer, _ kinesisAPI, stream string, preparedAt time.Time) {
	t.Helper()
	stream = createStream(t, c, shards)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeProducer(t, p) })
	preparedAt = time.Now()
	if _, err := p.Prepare(context.Background(), stream); err != nil {
		t.Fatal(err)
	}
	return p, c, stream, preparedAt
}
