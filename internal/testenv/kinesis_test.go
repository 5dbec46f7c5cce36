package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// putBatch writes n records (keys key-<base+i>, data payload-<base+i>) with one PutRecords call and returns them as
// the emulator placed them, according to its response.
func putBatch(t *testing.T, k *KinesisEnv, stream string, base, n int) []KinesisRecord {
	t.Helper()
	placed, err := putBatchErr(k, stream, base, n)
	if err != nil {
		t.Fatal(err)
	}
	return placed
}

func putBatchErr(k *KinesisEnv, stream string, base, n int) ([]KinesisRecord, error) {
	var entries []types.PutRecordsRequestEntry
	for i := base; i < base+n; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("key-%d", i)),
			Data:         []byte(fmt.Sprintf("payload-%d", i)),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := k.client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		return nil, fmt.Errorf("PutRecords: %w", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != n {
		return nil, fmt.Errorf("PutRecords: %d failed, %d results for %d records",
			aws.ToInt32(out.FailedRecordCount), len(out.Records), n)
	}
	placed := make([]KinesisRecord, n)
	for i, r := range out.Records {
		placed[i] = KinesisRecord{
			ShardID:        aws.ToString(r.ShardId),
			SequenceNumber: aws.ToString(r.SequenceNumber),
			PartitionKey:   aws.ToString(entries[i].PartitionKey),
			Data:           entries[i].Data,
		}
	}
	return placed, nil
}

// sortPlaced orders records the way ReadAll promises: by shard ID, then sequence number.
func sortPlaced(recs []KinesisRecord) {
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].ShardID != recs[j].ShardID {
			return recs[i].ShardID < recs[j].ShardID
		}
		return SequenceLess(recs[i].SequenceNumber, recs[j].SequenceNumber)
	})
}

func assertSameRecords(t *testing.T, got, want []KinesisRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records; want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ShardID != w.ShardID || g.SequenceNumber != w.SequenceNumber || g.PartitionKey != w.PartitionKey ||
			!bytes.Equal(g.Data, w.Data) {
			t.Fatalf("record %d = {%s %s %s %q}; want {%s %s %s %q}", i, g.ShardID, g.SequenceNumber, g.PartitionKey,
				g.Data, w.ShardID, w.SequenceNumber, w.PartitionKey, w.Data)
		}
		if g.ArrivalTime.IsZero() {
			t.Fatalf("record %d has no arrival time", i)
		}
	}
}

// readAllRoundTrip checks ReadAll against what PutRecords reported, on any Kinesis implementation.
func readAllRoundTrip(t *testing.T, k *KinesisEnv, shards int) {
	stream := k.UniqueStream(t, "readall")
	k.CreateStream(t, stream, shards)

	if got := k.ReadAll(t, stream); len(got) != 0 {
		t.Fatalf("new stream: ReadAll returned %d records", len(got))
	}

	want := putBatch(t, k, stream, 0, 40)
	sortPlaced(want)
	shardsUsed := map[string]bool{}
	for _, r := range want {
		shardsUsed[r.ShardID] = true
	}
	// With 40 distinct keys over several shards, a single used shard would mean ordering across shards is untested.
	if len(shardsUsed) < 2 {
		t.Fatalf("all 40 records landed on %d shard(s); the test needs at least 2", len(shardsUsed))
	}
	assertSameRecords(t, k.ReadAll(t, stream), want)

	// A second batch comes after the first within each shard.
	want = append(want, putBatch(t, k, stream, 40, 25)...)
	sortPlaced(want)
	assertSameRecords(t, k.ReadAll(t, stream), want)
}

func TestKinesisReadAllKinesalite(t *testing.T) {
	readAllRoundTrip(t, Kinesis(t), 4)
}

func TestKinesisReadAllMoto(t *testing.T) {
	readAllRoundTrip(t, AWS(t).Kinesis(), 3)
}

func TestKinesisWaitForRecords(t *testing.T) {
	k := Kinesis(t)
	stream := k.UniqueStream(t, "wait")
	k.CreateStream(t, stream, 2)

	// The records arrive while WaitForRecords is already polling.
	type result struct {
		placed []KinesisRecord
		err    error
	}
	put := make(chan result, 1)
	go func() {
		time.Sleep(700 * time.Millisecond)
		placed, err := putBatchErr(k, stream, 0, 5)
		put <- result{placed, err}
	}()
	got := k.WaitForRecords(t, stream, 5, 20*time.Second)
	r := <-put
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(got) != 5 {
		t.Fatalf("WaitForRecords returned %d records; want 5", len(got))
	}
	want := r.placed
	sortPlaced(want)
	assertSameRecords(t, got, want)

	// Waiting for more than the stream will ever hold fails, naming what it saw.
	res := run(func(tb testing.TB) { k.WaitForRecords(tb, stream, 6, 800*time.Millisecond) })
	if !res.failed || !bytes.Contains([]byte(res.msg), []byte("have 5")) {
		t.Fatalf("WaitForRecords for 6 of 5 records: %+v; want a failure saying it has 5", res)
	}
}

func TestKinesisCreateStreamCleanup(t *testing.T) {
	k := Kinesis(t)
	stream := k.UniqueStream(t, "cleanup")
	t.Run("create", func(t *testing.T) {
		k.CreateStream(t, stream, 1)
	})
	// The subtest's cleanup deleted the stream; kinesalite needs deleteStreamMs (50 ms) to drop it.
	c := k.Client(t)
	WaitFor(t, 10*time.Second, func() bool {
		_, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		return err != nil
	}, "stream %s to be deleted by CreateStream's cleanup", stream)
}

// TestKinesaliteSurvivesAbortedUpload: a client that leaves in the middle of
// a request body (a test resetting or timing out a large PutRecords) must not
// end the shared kinesalite: kinesalite throws that error out of its request
// handler, and every later test of the run found no Kinesis.
func TestKinesaliteSurvivesAbortedUpload(t *testing.T) {
	k := Kinesis(t)
	u, err := url.Parse(k.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\n"+
			"X-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Length: 100000\r\n\r\n{\"Records\":[", u.Host)
		c.Close()
	}
	// kinesalite handles connections in order of arrival on one thread: a
	// stream created after the aborted uploads were seen proves it lived
	// through them.
	stream := k.UniqueStream(t, "aborted")
	k.CreateStream(t, stream, 1)
	if got := putBatch(t, k, stream, 0, 3); len(got) != 3 {
		t.Fatalf("%d records placed after the aborted uploads, want 3", len(got))
	}
}
