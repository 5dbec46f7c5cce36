package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
)

// KinesisEnv is a Kinesis endpoint: kinesalite from Kinesis(t), or any other emulator built by hand, e.g.
// &KinesisEnv{Endpoint: AWS(t).Endpoint, Region: "us-east-1"} for moto.
type KinesisEnv struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:4567.
	Endpoint string
	// Region is the region requests are signed for.
	Region string
}

// KinesisRecord is one record as read back from a stream.
type KinesisRecord struct {
	ShardID        string
	PartitionKey   string
	SequenceNumber string
	Data           []byte
	ArrivalTime    time.Time
}

// kinesisCallTimeout bounds every call a helper makes; the SDK sets no deadline of its own.
const kinesisCallTimeout = 30 * time.Second

// Kinesis returns the kinesalite named by KINESIS_ENDPOINT (region AWS_REGION, default us-east-1), after checking
// that it answers. It skips t (fails it under KS_REQUIRE_SERVICES=1) otherwise.
func Kinesis(t testing.TB) *KinesisEnv {
	t.Helper()
	skipShort(t)
	ep := os.Getenv(EnvKinesisEndpoint)
	if ep == "" {
		unavailable(t, "Kinesis not configured: %s is not set", EnvKinesisEndpoint)
		return nil
	}
	k := &KinesisEnv{Endpoint: strings.TrimRight(ep, "/"), Region: envOr(EnvAWSRegion, DefaultRegion)}
	if _, err := probeHTTP(k.Endpoint + "/"); err != nil {
		unavailable(t, "Kinesis at %s does not answer: %v", k.Endpoint, err)
		return nil
	}
	return k
}

// staticCredentials are AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or dummies: the emulators check no signature.
func staticCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(
		envOr("AWS_ACCESS_KEY_ID", dummyAccessKeyID), envOr("AWS_SECRET_ACCESS_KEY", dummySecretAccessKey), "")
}

// Client returns a Kinesis client for the endpoint with static credentials.
func (k *KinesisEnv) Client(t testing.TB) *kinesis.Client {
	t.Helper()
	return k.client()
}

func (k *KinesisEnv) client() *kinesis.Client {
	cfg := aws.Config{Region: k.Region, Credentials: staticCredentials(), APIOptions: sdkbody.APIOptions()}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(k.Endpoint)
	})
}

// UniqueStream returns "<prefix>-<random>", a stream name no other test uses. The stream is not created.
func (k *KinesisEnv) UniqueStream(t testing.TB, prefix string) string {
	t.Helper()
	return uniqueName(t, prefix, 128)
}

// CreateStream creates a provisioned stream with the given shard count, waits until it is ACTIVE, and deletes it
// when the test ends.
func (k *KinesisEnv) CreateStream(t testing.TB, name string, shards int) {
	t.Helper()
	if shards < 1 {
		t.Fatalf("CreateStream(%q): shards=%d; want >= 1", name, shards)
	}
	c := k.client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(shards)),
	}); err != nil {
		t.Fatalf("CreateStream %s (%d shards) at %s: %v", name, shards, k.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kinesisCallTimeout)
		defer cancel()
		_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{
			StreamName:              aws.String(name),
			EnforceConsumerDeletion: aws.Bool(true),
		})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Logf("cleanup: DeleteStream %s: %v", name, err)
		}
	})
	var (
		status  types.StreamStatus
		lastErr error
	)
	deadline := time.Now().Add(50 * time.Second)
	for status != types.StreamStatusActive {
		if time.Now().After(deadline) {
			t.Fatalf("stream %s did not become ACTIVE within 50s (status %q, last error %v)", name, status, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			lastErr = err
			continue
		}
		if out.StreamDescriptionSummary != nil {
			status = out.StreamDescriptionSummary.StreamStatus
		}
	}
}

// ReadAll reads every shard of stream from TRIM_HORIZON to its end and returns the records in shard order (by shard
// ID), then sequence order. Aggregated (KPL) records come back as stored, not de-aggregated.
func (k *KinesisEnv) ReadAll(t testing.TB, stream string) []KinesisRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recs, err := k.ReadAllContext(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// ReadAllContext is ReadAll for polling loops: errors are returned, not fatal.
func (k *KinesisEnv) ReadAllContext(ctx context.Context, stream string) ([]KinesisRecord, error) {
	c := k.client()
	shardIDs, err := listShardIDs(ctx, c, stream)
	if err != nil {
		return nil, err
	}
	var all []KinesisRecord
	for _, id := range shardIDs {
		recs, err := readShard(ctx, c, stream, id)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
	}
	return all, nil
}

func listShardIDs(ctx context.Context, c *kinesis.Client, stream string) ([]string, error) {
	var ids []string
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		cctx, cancel := context.WithTimeout(ctx, kinesisCallTimeout)
		out, err := c.ListShards(cctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("ListShards %s: %w", stream, err)
		}
		for _, s := range out.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		// A paged request names the stream only through the token.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	// Shard IDs are zero-padded ("shardId-000000000007"), so string order is creation order.
	sort.Strings(ids)
	return ids, nil
}

// maxPagesPerShard stops a reader that never sees the end of a shard (an emulator bug) from looping forever.
const maxPagesPerShard = 100000

func readShard(ctx context.Context, c *kinesis.Client, stream, shardID string) ([]KinesisRecord, error) {
	cctx, cancel := context.WithTimeout(ctx, kinesisCallTimeout)
	it, err := c.GetShardIterator(cctx, &kinesis.GetShardIteratorInput{
		StreamName:        aws.String(stream),
		ShardId:           aws.String(shardID),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("GetShardIterator %s/%s: %w", stream, shardID, err)
	}
	var recs []KinesisRecord
	iter := it.ShardIterator
	for page := 0; iter != nil; page++ {
		if page >= maxPagesPerShard {
			return nil, fmt.Errorf("GetRecords %s/%s: no end after %d pages", stream, shardID, page)
		}
		cctx, cancel := context.WithTimeout(ctx, kinesisCallTimeout)
		out, err := c.GetRecords(cctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("GetRecords %s/%s: %w", stream, shardID, err)
		}
		for _, r := range out.Records {
			kr := KinesisRecord{
				ShardID:        shardID,
				PartitionKey:   aws.ToString(r.PartitionKey),
				SequenceNumber: aws.ToString(r.SequenceNumber),
				Data:           r.Data,
			}
			if r.ApproximateArrivalTimestamp != nil {
				kr.ArrivalTime = *r.ApproximateArrivalTimestamp
			}
			recs = append(recs, kr)
		}
		// An empty page at the tip of the shard is its end for now; a closed shard has no next iterator.
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	sort.SliceStable(recs, func(i, j int) bool { return SequenceLess(recs[i].SequenceNumber, recs[j].SequenceNumber) })
	return recs, nil
}

// SequenceLess orders Kinesis sequence numbers, which are decimal strings of varying length without leading zeros.
func SequenceLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// WaitForRecords polls ReadAll until the stream holds at least n records and returns them all (possibly more than
// n). It fails t if that does not happen within timeout.
func (k *KinesisEnv) WaitForRecords(t testing.TB, stream string, n int, timeout time.Duration) []KinesisRecord {
	t.Helper()
	var (
		recs    []KinesisRecord
		lastErr error
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+kinesisCallTimeout)
	defer cancel()
	deadline := time.Now().Add(timeout)
	for {
		r, err := k.ReadAllContext(ctx, stream)
		if err != nil {
			lastErr = err
		} else {
			recs = r
			if len(recs) >= n {
				return recs
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %d records in stream %s: have %d", timeout, n, stream, len(recs))
			if lastErr != nil {
				msg += fmt.Sprintf(" (last read error: %v)", lastErr)
			}
			t.Fatal(msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
