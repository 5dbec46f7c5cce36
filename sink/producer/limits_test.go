package producer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// TestFullCountBatchSplitByBytes queues 499 records (under the 500-entry
// limit) whose data alone fits one 5 MiB request but whose data plus
// 256-character partition keys does not: the batch must be cut by bytes,
// counting the keys, into exactly 487 + 12 entries. A producer that counted
// only data would send all 499 in one request of 5.37 MB.
func TestFullCountBatchSplitByBytes(t *testing.T) { onModel(t, testFullCountBatchSplitByBytes) }

func testFullCountBatchSplitByBytes(t *testing.T, c kinesisAPI) {
	var log requestLog
	// An endless Linger: only the limits and the final Flush cut requests.
	opts := producer.Options{Linger: time.Hour, Hooks: producer.Hooks{OnRequest: log.onRequest}}
	stream := createStream(t, c, 2)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 499
	dataSize := producer.DefaultMaxBytesPerRequest / n // 10506: 499 of them fit by data alone
	if n*dataSize > producer.DefaultMaxBytesPerRequest || n*(dataSize+256) <= producer.DefaultMaxBytesPerRequest {
		t.Fatalf("test sizes do not straddle the limit")
	}
	perRequest := producer.DefaultMaxBytesPerRequest / (dataSize + 256) // 487
	col := newCollector(n)
	want := map[int]sent{}
	for id := range n {
		// Distinct keys, all 256 characters long.
		key := fmt.Sprintf("%03d", id) + strings.Repeat("k", 253)
		data := payload(id, key[:3], id, dataSize)[:dataSize]
		want[id] = sent{key: key, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: key, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	for id := range want {
		if r, _ := col.get(id); r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
	var sizes []int
	for _, r := range log.all() {
		sizes = append(sizes, r.Records)
		if r.Bytes > producer.DefaultMaxBytesPerRequest || r.ErrorCode != "" || r.Failed != 0 {
			t.Errorf("request %+v passes the byte limit or failed", r)
		}
	}
	// Requests complete in any order.
	slices.Sort(sizes)
	slices.Reverse(sizes)
	if len(sizes) != 2 || sizes[0] != perRequest || sizes[1] != n-perRequest {
		t.Errorf("request sizes %v, want [%d %d]", sizes, perRequest, n-perRequest)
	}
	if dupes, _ := checkArrived(t, c, stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
	closeProducer(t, p)
}
