package kinesisfake_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// kinesisAPI is what the parity script calls: *kinesis.Client (kinesalite,
// and the model over HTTP) and *kinesisfake.Client (the model in memory).
type kinesisAPI interface {
	PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	CreateStream(context.Context, *kinesis.CreateStreamInput, ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DeleteStream(context.Context, *kinesis.DeleteStreamInput, ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	SplitShard(context.Context, *kinesis.SplitShardInput, ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
	MergeShards(context.Context, *kinesis.MergeShardsInput, ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
	GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var (
	_ kinesisAPI = (*kinesis.Client)(nil)
	_ kinesisAPI = (*kinesisfake.Client)(nil)
)

// answerText renders an error as a caller can tell errors apart: the
// service's code, HTTP status and message, or the SDK's own refusal.
func answerText(err error) string {
	var ip smithy.InvalidParamsError
	if errors.As(err, &ip) {
		return "client: " + err.Error()
	}
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if errors.As(err, &ae) {
		return fmt.Sprintf("error %s %d: %s", ae.ErrorCode(), status, ae.ErrorMessage())
	}
	return "other: " + err.Error()
}

func putText(out *kinesis.PutRecordsOutput, err error) string {
	if err != nil {
		return answerText(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ok failed=%d", aws.ToInt32(out.FailedRecordCount))
	for _, r := range out.Records {
		if r.ErrorCode != nil {
			b.WriteString(" " + *r.ErrorCode)
		} else {
			b.WriteString(" " + aws.ToString(r.ShardId))
		}
	}
	return b.String()
}

func shardsText(shards []types.Shard) string {
	var b strings.Builder
	for _, s := range shards {
		open := "open"
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			open = "closed"
		}
		fmt.Fprintf(&b, "%s parent=%s adjacent=%s [%s, %s] %s\n", *s.ShardId, aws.ToString(s.ParentShardId),
			aws.ToString(s.AdjacentParentShardId), *s.HashKeyRange.StartingHashKey, *s.HashKeyRange.EndingHashKey, open)
	}
	return b.String()
}

// step is one scripted call. kinesalite, when set, is where kinesalite
// answers otherwise than Kinesis (and the model): the prefix of its answer,
// checked so that the test notices if kinesalite changes, and why.
type step struct {
	name       string
	run        func(ctx context.Context, c kinesisAPI, stream, arn string) string
	kinesalite string
	why        string
}

func putStep(name string, recs []types.PutRecordsRequestEntry) step {
	return step{name: name, run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
		return putText(c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs}))
	}}
}

func (s step) differs(kinesalite, why string) step {
	s.kinesalite, s.why = kinesalite, why
	return s
}

func rec(pk string, data []byte) types.PutRecordsRequestEntry {
	return types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: data}
}

func ehkRec(pk, ehk string) types.PutRecordsRequestEntry {
	return types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), ExplicitHashKey: aws.String(ehk), Data: []byte(pk + "/" + ehk)}
}

func listStep(name string) step {
	return step{name: name, run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
		out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
		if err != nil {
			return answerText(err)
		}
		return shardsText(out.Shards)
	}}
}

// waitActive waits for a stream to be ACTIVE after a change: at once on
// the model, after its UPDATING (or CREATING) time on kinesalite.
func waitActive(ctx context.Context, c kinesisAPI, stream string) error {
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s not ACTIVE: %v (last error %v)", stream, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

const parityShards = 6

func parityScript() []step {
	keys := make([]types.PutRecordsRequestEntry, 60)
	for i := range keys {
		keys[i] = rec(fmt.Sprintf("key-%d", i), []byte(fmt.Sprintf("v%d", i)))
	}
	mib := 1 << 20
	var tooMany []types.PutRecordsRequestEntry
	for i := range 501 {
		tooMany = append(tooMany, rec(fmt.Sprint(i), []byte("x")))
	}
	var eleven []types.PutRecordsRequestEntry
	for range 11 {
		eleven = append(eleven, rec("", []byte("x")))
	}
	var sixMiB []types.PutRecordsRequestEntry
	for i := range 6 {
		sixMiB = append(sixMiB, rec(fmt.Sprint("big", i), make([]byte, mib-16)))
	}
	return []step{
		{name: "describe", run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
			out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
			if err != nil {
				return answerText(err)
			}
			s := out.StreamDescriptionSummary
			return fmt.Sprintf("%s %s open=%d", aws.ToString(s.StreamName), s.StreamStatus, aws.ToInt32(s.OpenShardCount))
		}},
		listStep("list shards"),
		putStep("keys over many shards", keys),
		putStep("explicit hash keys", []types.PutRecordsRequestEntry{ehkRec("a", "0"), ehkRec("b", maxHash), ehkRec("c", half),
			ehkRec("d", "170141183460469231731687303715884105727"), ehkRec("e", "56713727820156410577229101238628035242"),
			ehkRec("f", "56713727820156410577229101238628035243"), ehkRec("g", "12345")}),
		putStep("same key twice in a request", []types.PutRecordsRequestEntry{rec("dup", []byte("1")), rec("dup", []byte("2")), rec("dup", []byte("3"))}),
		putStep("no records", []types.PutRecordsRequestEntry{}),
		putStep("501 records", tooMany),
		putStep("empty partition key", []types.PutRecordsRequestEntry{rec("ok", []byte("x")), rec("", []byte("x"))}),
		putStep("partition key of 257 characters", []types.PutRecordsRequestEntry{rec(strings.Repeat("k", 257), []byte("x"))}),
		putStep("partition key of 256 characters", []types.PutRecordsRequestEntry{rec(strings.Repeat("é", 256), []byte("256"))}),
		// Counted in UTF-16 units, as Java's String.length: 200 characters
		// outside the Basic Multilingual Plane are 400.
		putStep("partition key of 200 astral characters", []types.PutRecordsRequestEntry{rec(strings.Repeat("😀", 200), []byte("x"))}),
		putStep("explicit hash key not a number", []types.PutRecordsRequestEntry{ehkRec("a", "12a")}),
		putStep("explicit hash key 2^128", []types.PutRecordsRequestEntry{ehkRec("a", "340282366920938463463374607431768211456")}),
		putStep("explicit hash key of 40 digits", []types.PutRecordsRequestEntry{ehkRec("a", "1"+strings.Repeat("0", 39))}),
		putStep("explicit hash key with a leading zero", []types.PutRecordsRequestEntry{ehkRec("a", "01")}).differs("ok failed=0",
			"kinesalite anchors only the first branch of the pattern 0|([1-9]\\d{0,38}) (^0|...$), so it accepts \"01\"; Kinesis matches the whole value and refuses it"),
		putStep("three violations", []types.PutRecordsRequestEntry{rec("", []byte("x")), rec(strings.Repeat("k", 300), []byte("x")), ehkRec("a", "x")}),
		putStep("eleven violations", eleven),
		putStep("missing data", []types.PutRecordsRequestEntry{{PartitionKey: aws.String("a")}}),
		putStep("empty data", []types.PutRecordsRequestEntry{rec("empty", []byte{})}),
		putStep("data of 1 MiB + 1", []types.PutRecordsRequestEntry{rec("k", make([]byte, mib+1))}).differs(
			"error ValidationException 400: 1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576",
			"kinesalite's API model caps data at 1 MiB; Kinesis's caps it at 10 MiB since large records, and refuses a record over the stream's MaxRecordSizeInKiB as the service (InvalidArgumentException)"),
		putStep("data of 1 MiB with its key", []types.PutRecordsRequestEntry{rec("k", make([]byte, mib))}).differs("ok failed=0",
			"kinesalite counts data alone against the record size; Kinesis counts data and partition key"),
		putStep("request of 6 MiB", sixMiB).differs("error UnknownError 413: UnknownError",
			"kinesalite refuses bodies over 7 MiB with a bare 413 and has no request size check; Kinesis takes 10 MiB of data and keys in one request"),
		{name: "missing stream", run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
			return putText(c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream + "-missing"), Records: keys[:1]}))
		}},
		{name: "bad stream name", run: func(ctx context.Context, c kinesisAPI, _, _ string) string {
			return putText(c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("bad name!"), Records: keys[:1]}))
		}},
		{name: "by ARN", run: func(ctx context.Context, c kinesisAPI, _, arn string) string {
			return putText(c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: []types.PutRecordsRequestEntry{
				rec("arn-1", []byte("1")), rec("arn-2", []byte("2"))}}))
		}, kinesalite: "error ValidationException 400: 1 validation error detected: Value null at 'streamName'",
			why: "kinesalite predates StreamARN and requires StreamName; Kinesis takes either, as the producer sends an ARN"},
		{name: "split shard 0", run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
			_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String("shardId-000000000000"),
				NewStartingHashKey: aws.String("28356863910078205288614550619314017621")})
			if err != nil {
				return answerText(err)
			}
			if err := waitActive(ctx, c, stream); err != nil {
				return err.Error()
			}
			return "ok"
		}},
		listStep("list shards after the split"),
		putStep("keys after the split", keys),
		{name: "merge the children", run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
			_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(stream), ShardToMerge: aws.String("shardId-000000000006"),
				AdjacentShardToMerge: aws.String("shardId-000000000007")})
			if err != nil {
				return answerText(err)
			}
			if err := waitActive(ctx, c, stream); err != nil {
				return err.Error()
			}
			return "ok"
		}},
		listStep("list shards after the merge"),
		putStep("keys after the merge", keys),
		// Last: kinesalite takes it, and its extra children would shift
		// the shard ids of any later step.
		step{name: "split a closed shard", run: func(ctx context.Context, c kinesisAPI, stream, _ string) string {
			_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String("shardId-000000000000"),
				NewStartingHashKey: aws.String("1000")})
			if err != nil {
				return strings.SplitN(answerText(err), ":", 2)[0]
			}
			if err := waitActive(ctx, c, stream); err != nil {
				return err.Error()
			}
			return "ok"
		}}.differs("ok", "kinesalite splits a closed shard again (it checks only that the stream is ACTIVE); Kinesis refuses a shard that was already split"),
	}
}

// readBack reads every shard's records through the API, in order, and
// checks that sequence numbers increase within each shard.
func readBack(ctx context.Context, t *testing.T, c kinesisAPI, stream string) string {
	t.Helper()
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range ls.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10000)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:", *s.ShardId)
		prev := ""
		for _, r := range out.Records {
			seq := aws.ToString(r.SequenceNumber)
			if len(seq) == len(prev) && seq <= prev || len(seq) < len(prev) {
				t.Errorf("%s: sequence number %s after %s", *s.ShardId, seq, prev)
			}
			prev = seq
			d := string(r.Data)
			if len(d) > 20 {
				d = fmt.Sprintf("<%dB>", len(r.Data))
			}
			fmt.Fprintf(&b, " %s=%s", aws.ToString(r.PartitionKey), d)
		}
		b.WriteString("\n")
	}
	return b.String()
}

type transcript struct {
	answers []string
	stored  string
}

func runParity(t *testing.T, c kinesisAPI, stream, arn string, retryTransport bool) transcript {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(parityShards)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
	})
	if err := waitActive(ctx, c, stream); err != nil {
		t.Fatal(err)
	}
	var tr transcript
	for _, s := range parityScript() {
		a := s.run(ctx, c, stream, arn)
		if retryTransport && strings.HasPrefix(a, "other: ") {
			// kinesalite, under the load of other tests, now and then
			// drops a connection mid-answer. A step is sent again once; a
			// write that had been stored shows as a duplicate in the
			// read-back, so a retry cannot make the test pass wrongly.
			t.Logf("%s: %s; sending it again", s.name, a)
			a = s.run(ctx, c, stream, arn)
		}
		tr.answers = append(tr.answers, a)
	}
	tr.stored = readBack(ctx, t, c, stream)
	return tr
}

// TestParity runs one script against the model in memory, the model over
// HTTP with the SDK's client, and kinesalite, and compares the answers:
// error codes, statuses and messages, the shard of every entry, shard
// listings after a split and a merge, and what each shard stored, in
// order. Sequence numbers differ by design and are only checked to
// increase. Where kinesalite answers otherwise than Kinesis, the model
// follows Kinesis; those steps name the difference and check kinesalite's
// answer, so that a kinesalite that changes is noticed.
func TestParity(t *testing.T) {
	suffix := make([]byte, 4)
	rand.Read(suffix)
	stream := "kinesisfake-parity-" + hex.EncodeToString(suffix)
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream
	script := parityScript()
	results := map[string]transcript{}

	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	t.Run("model", func(t *testing.T) { results["model"] = runParity(t, m.Client(), stream, arn, false) })
	mh := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	t.Run("model over HTTP", func(t *testing.T) { results["http"] = runParity(t, serve(t, mh), stream, arn, false) })
	t.Run("kinesalite", func(t *testing.T) {
		k := testenv.Kinesis(t)
		results["kinesalite"] = runParity(t, sdkClient(k.Endpoint), stream, arn, true)
	})
	if t.Failed() {
		return
	}
	model := results["model"]
	for _, other := range []string{"http", "kinesalite"} {
		tr, ok := results[other]
		if !ok {
			t.Logf("no %s run to compare", other)
			continue
		}
		for i, s := range script {
			got, want := tr.answers[i], model.answers[i]
			if other == "kinesalite" && s.kinesalite != "" {
				if !strings.HasPrefix(got, s.kinesalite) {
					t.Errorf("%s: kinesalite answered %q, expected to start with %q (%s)", s.name, clip(got), s.kinesalite, s.why)
				}
				t.Logf("%s: kinesalite differs from Kinesis: %s", s.name, s.why)
				continue
			}
			if got != want {
				t.Errorf("%s: %s answered\n  %s\nthe model (in memory)\n  %s", s.name, other, clip(got), clip(want))
			}
		}
		if other == "http" && tr.stored != model.stored {
			t.Errorf("stored over HTTP:\n%s\nin memory:\n%s", tr.stored, model.stored)
		}
		if other == "kinesalite" {
			// Leave out what the steps on which kinesalite differs stored
			// on one side only.
			drop := []string{"a=a/01", "k=<1048576B>", "big", "arn-"}
			if got, want := dropKeys(tr.stored, drop...), dropKeys(model.stored, drop...); got != want {
				t.Errorf("stored on kinesalite:\n%s\nin the model:\n%s", got, want)
			}
		}
	}
}

func dropKeys(stored string, prefixes ...string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(stored, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		kept := fields[:1]
		for _, f := range fields[1:] {
			drop := false
			for _, p := range prefixes {
				drop = drop || strings.HasPrefix(f, p)
			}
			if !drop {
				kept = append(kept, f)
			}
		}
		// A shard that stored nothing (kinesalite's children of a closed
		// shard) says nothing either way.
		if len(kept) > 1 {
			b.WriteString(strings.Join(kept, " ") + "\n")
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:300] + " … " + s[len(s)-300:]
	}
	return s
}
